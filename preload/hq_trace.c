/*
 * hq_trace.c: one unwind into a fixed array, and the stack hash that interns it.
 *
 * libunwind's unw_backtrace with its per-thread cache is the default (correct without frame
 * pointers, from .eh_frame); HEAPQL_UNWIND=fp walks frame pointers instead (fast, but only as
 * good as the program's -fno-omit-frame-pointer).  Leading frames inside the recorder itself
 * are dropped, so a stack starts at the return address into the allocator's caller however the
 * compiler inlined our hooks.
 */
#define UNW_LOCAL_ONLY
#include <libunwind.h>
#include <pthread.h>
#include <string.h>

#include "preload_int.h"

static uintptr_t self_lo, self_hi;
static __thread uintptr_t stack_lo __attribute__((tls_model("initial-exec")));
static __thread uintptr_t stack_hi __attribute__((tls_model("initial-exec")));

void hq__trace_init(uintptr_t lo, uintptr_t hi) {
  self_lo = lo;
  self_hi = hi;
  unw_set_caching_policy(unw_local_addr_space, UNW_CACHE_PER_THREAD);
}

/* Frame-pointer walks need the thread's stack bounds to stop safely. */
void hq__trace_thread_init(void) {
  pthread_attr_t attr;
  void *addr;
  size_t size;
  if (!hq__opts.fp_unwind || stack_hi) return;
  if (pthread_getattr_np(pthread_self(), &attr) == 0) {
    if (pthread_attr_getstack(&attr, &addr, &size) == 0) {
      stack_lo = (uintptr_t)addr;
      stack_hi = (uintptr_t)addr + size;
    }
    pthread_attr_destroy(&attr);
  }
}

static int fp_backtrace(uint64_t *ips, int max) {
  uintptr_t *fp = __builtin_frame_address(0);
  int n = 0;
  while (n < max && stack_hi) {
    uintptr_t next, ret;
    if ((uintptr_t)fp < stack_lo || (uintptr_t)fp + 16 > stack_hi || ((uintptr_t)fp & 7)) break;
    next = fp[0];
    ret = fp[1];
    if (!ret) break;
    ips[n++] = ret;
    if (next <= (uintptr_t)fp) break; /* frames grow upwards; anything else is not a frame chain */
    fp = (uintptr_t *)next;
  }
  return n;
}

int hq__trace_capture(uint64_t *ips, int max, const void *from) {
  /* Room for the recorder's own frames, which are dropped below. */
  void *raw[HQ_MAX_DEPTH_LIMIT + 8];
  int n, skip = 0, want = max + 8;
  if (want > HQ_MAX_DEPTH_LIMIT + 8) want = HQ_MAX_DEPTH_LIMIT + 8;
  if (hq__opts.fp_unwind) {
    n = fp_backtrace((uint64_t *)raw, want);
  } else {
    n = unw_backtrace(raw, want);
  }
  /* The frames up to the entry point's caller are the recorder's, whatever it inlined. */
  for (int i = 0; i < n && i < 16; i++)
    if (raw[i] == from) {
      skip = i;
      break;
    }
  while (skip < n && (uintptr_t)raw[skip] >= self_lo && (uintptr_t)raw[skip] < self_hi) skip++;
  n -= skip;
  if (n > max) n = max;
  /* Trailing zero frames (end of chain) carry nothing. */
  while (n > 0 && raw[skip + n - 1] == NULL) n--;
  for (int i = 0; i < n; i++) ips[i] = (uint64_t)(uintptr_t)raw[skip + i];
  return n < 0 ? 0 : n;
}

static inline uint64_t mix64(uint64_t x) {
  x ^= x >> 32;
  x *= 0xd6e8feb86659fd93ull;
  x ^= x >> 32;
  x *= 0xd6e8feb86659fd93ull;
  x ^= x >> 32;
  return x;
}

/* Two independent multiply-rotate lanes (no long dependency chain through a full mixer per
 * frame), then one strong final mix.  Each lane step is a bijection of its state, so two stacks
 * that differ in one frame never meet in that lane. */
uint64_t hq__trace_hash(const uint64_t *ips, int depth, uint32_t gen) {
  uint64_t a = 0x9e3779b97f4a7c15ull ^ ((uint64_t)gen << 32) ^ (uint64_t)depth;
  uint64_t b = 0xc2b2ae3d27d4eb4full;
  int i = 0;
  for (; i + 1 < depth; i += 2) {
    a = (a ^ ips[i]) * 0x87c37b91114253d5ull;
    b = (b ^ ips[i + 1]) * 0x4cf5ad432745937full;
    a = (a << 31) | (a >> 33);
    b = (b << 29) | (b >> 35);
  }
  if (i < depth) a = ((a ^ ips[i]) * 0x87c37b91114253d5ull);
  a = mix64(a ^ mix64(b));
  return a ? a : 1; /* 0 means "no stack" */
}
