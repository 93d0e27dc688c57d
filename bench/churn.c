/*
 * churn.c THREADS PAIRS: allocation churn for benchmarks (not a test).  Each thread makes
 * PAIRS malloc/free pairs of mixed sizes (16 B .. 64 KiB, mostly small) from call sites at
 * four stack depths, keeping a window of 64 live blocks so frees are not all immediate.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static long pairs;

static inline uint64_t next(uint64_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

static size_t pick_size(uint64_t r) {
  unsigned k = (unsigned)(r & 1023);
  if (k < 700) return 16 + (r >> 10) % 112;        /* small */
  if (k < 950) return 128 + (r >> 10) % 3968;      /* medium */
  return 4096 + (r >> 10) % 61440;                 /* large */
}

/* The volatile sink after each call keeps them real calls (no tail calls): real stack depth. */
static volatile int sink;
__attribute__((noinline)) static void *site_d0(size_t n) { void *p = malloc(n); sink++; return p; }
__attribute__((noinline)) static void *site_d1(size_t n) { void *p = site_d0(n); sink++; return p; }
__attribute__((noinline)) static void *site_d2(size_t n) { void *p = site_d1(n); sink++; return p; }
__attribute__((noinline)) static void *site_d3(size_t n) { void *p = site_d2(n); sink++; return p; }
__attribute__((noinline)) static void *site_d4(size_t n) { void *p = site_d3(n); sink++; return p; }
__attribute__((noinline)) static void *deep(int depth, size_t n) {
  void *p = depth > 0 ? deep(depth - 1, n) : site_d4(n);
  sink++;
  return p;
}

static void *work(void *arg) {
  uint64_t s = 0x9e3779b97f4a7c15ull ^ (uint64_t)(uintptr_t)arg;
  void *window[64] = {0};
  for (long i = 0; i < pairs; i++) {
    uint64_t r = next(&s);
    unsigned slot = (unsigned)(r >> 58);
    size_t n = pick_size(r);
    void *p;
    switch ((r >> 20) & 3) {
    case 0: p = malloc(n); break;
    case 1: p = site_d1(n); break;
    case 2: p = site_d4(n); break;
    default: p = deep((int)((r >> 30) & 15), n); break;
    }
    ((volatile char *)p)[0] = 1;
    free(window[slot]);
    window[slot] = p;
  }
  for (int i = 0; i < 64; i++) free(window[i]);
  return NULL;
}

int main(int argc, char **argv) {
  int threads = argc > 1 ? atoi(argv[1]) : 1;
  pthread_t th[64];
  pairs = argc > 2 ? atol(argv[2]) : 5000000;
  if (threads < 1 || threads > 64) return 2;
  for (int i = 0; i < threads; i++) pthread_create(&th[i], NULL, work, (void *)(intptr_t)(i + 1));
  for (int i = 0; i < threads; i++) pthread_join(th[i], NULL);
  return 0;
}
