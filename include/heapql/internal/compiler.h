/*
 * heapql/internal/compiler.h: the compiler macros every heapql library uses.
 *
 * Internal (not installed by `make install`): preload/, analyzer/ and kernels/ include it; no
 * program outside heapql may.
 */
#ifndef HEAPQL_INTERNAL_COMPILER_H
#define HEAPQL_INTERNAL_COMPILER_H

#define hq_likely(x)   __builtin_expect(!!(x), 1)
#define hq_unlikely(x) __builtin_expect(!!(x), 0)
/* Slow paths: out of line and out of the hot code's cache lines (mimalloc's rule). */
#define hq_cold        __attribute__((noinline, cold))
/* An exported symbol of a library built with -fvisibility=hidden. */
#define hq_export      __attribute__((visibility("default")))
#define HQ_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* 1 in a ThreadSanitizer build (gcc or clang): make check-tsan's build of the recorder. */
#if defined(__SANITIZE_THREAD__)
#define HQ_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define HQ_TSAN 1
#endif
#endif
#ifndef HQ_TSAN
#define HQ_TSAN 0
#endif

#endif /* HEAPQL_INTERNAL_COMPILER_H */
