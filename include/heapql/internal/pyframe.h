/*
 * heapql/internal/pyframe.h: how a Python frame is told from a native one.
 *
 * The recorder puts a CPython thread's Python frames into its stacks as pseudo return
 * addresses (rawfmt.h, "Python"); the importer keeps them as frames.ip, and the analyzer's
 * reports tell them apart by this tag.  User space on x86-64 ends at 2^47, so no native return
 * address carries it.  INTERNAL, like rawfmt.h; docs/schema.md documents the values in frames.ip.
 */
#ifndef HEAPQL_INTERNAL_PYFRAME_H
#define HEAPQL_INTERNAL_PYFRAME_H

#include <stdint.h>

#define HQ_PYFRAME_TAG         (1ull << 62)
#define HQ_PYFRAME_NOT_STARTED 0xffffffffu  /* offset of a frame that ran no instruction yet */
#define HQ_PYFRAME_ID(ip)      ((uint32_t)(((ip) >> 32) & 0x3fffffffu))
#define HQ_PYFRAME_OFFSET(ip)  ((uint32_t)(ip))
#define HQ_IS_PYFRAME(ip)      (((uint64_t)(ip) >> 62) == 1u)

#endif /* HEAPQL_INTERNAL_PYFRAME_H */
