/*
 * hq_dlopen.S: dlopen as a true tail call.
 *
 * glibc's dlopen looks at its return address to find the caller's link map: its RUNPATH,
 * $ORIGIN and namespace.  A C wrapper that calls the real dlopen would make heapql the caller
 * (and at -O0 there is no sibling call to save it), so this stub clears RTLD_DEEPBIND (0x8:
 * a deep-bound library would bind malloc past the interposer) and jumps.  New modules are
 * picked up by the writer's poll of the loader's counters.
 */
	.text
	.globl	dlopen
	.type	dlopen, @function
	.p2align 4
dlopen:
	andl	$-9, %esi
	movq	hq__real_dlopen(%rip), %rax
	testq	%rax, %rax
	jz	1f
	jmp	*%rax
1:	pushq	%rdi
	pushq	%rsi
	subq	$8, %rsp
	call	hq__real_resolve
	addq	$8, %rsp
	popq	%rsi
	popq	%rdi
	movq	hq__real_dlopen(%rip), %rax
	testq	%rax, %rax
	jz	2f
	jmp	*%rax
2:	xorl	%eax, %eax
	ret
	.size	dlopen, .-dlopen
	.section .note.GNU-stack,"",@progbits
