/*
 * hq_dlsym.S: the exported dlsym, a true tail call for every lookup but ours.
 *
 * glibc resolves RTLD_NEXT (and RTLD_DEFAULT's namespace) from dlsym's return address: a C
 * wrapper that called the real dlsym would make heapql the caller, and a library asking for
 * dlsym(RTLD_NEXT, "foo") would get its own foo back (infinite recursion; reference A3).  GCC 12
 * has no musttail and -O0 makes no sibling calls, so this is assembly:
 *
 *   handle RTLD_NEXT (-1) or RTLD_DEFAULT (0)   jmp to the real dlsym (the global scope already
 *                                               finds our exported driver names first)
 *   name not one we wrap (hq__cuda_wraps, exact) jmp to the real dlsym
 *   otherwise                                   jmp to hq__cuda_dlsym: the real dlsym on that
 *                                               explicit handle, then our hook by pointer identity
 *
 * The real dlsym is dlvsym(RTLD_NEXT, "dlsym", "GLIBC_2.34"), or "GLIBC_2.2.5" on older glibc.
 * The symbol is unversioned, so references to either version bind here.
 */
	.text
	.globl	dlsym
	.type	dlsym, @function
	.p2align 4
dlsym:
	movq	hq__real_dlsym(%rip), %rax
	testq	%rax, %rax
	jz	3f
1:	cmpq	$-1, %rdi
	je	2f
	testq	%rdi, %rdi
	jz	2f
	pushq	%rdi
	pushq	%rsi
	subq	$8, %rsp
	movq	%rsi, %rdi
	call	hq__cuda_wraps
	addq	$8, %rsp
	popq	%rsi
	popq	%rdi
	testl	%eax, %eax
	jnz	hq__cuda_dlsym
	movq	hq__real_dlsym(%rip), %rax
2:	jmp	*%rax
3:	pushq	%rdi
	pushq	%rsi
	subq	$8, %rsp
	call	hq__cuda_dlsym_init
	addq	$8, %rsp
	popq	%rsi
	popq	%rdi
	movq	hq__real_dlsym(%rip), %rax
	testq	%rax, %rax
	jnz	1b
	xorl	%eax, %eax
	ret
	.size	dlsym, .-dlsym
	.section .note.GNU-stack,"",@progbits
