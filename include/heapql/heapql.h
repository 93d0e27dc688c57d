/*
 * heapql/heapql.h: the umbrella header.  Include this, or just the part you use.
 *
 * Anything not declared under include/heapql/ is private to heapql (SQLite's rule).
 */
#ifndef HEAPQL_HEAPQL_H
#define HEAPQL_HEAPQL_H

#define HQ_VERSION_MAJOR 0
#define HQ_VERSION_MINOR 1
#define HQ_VERSION_PATCH 0
#define HQ_SCHEMA_VERSION 2

#ifndef HQ_API
#define HQ_API __attribute__((visibility("default")))
#endif

#include "heapql/error.h"
#include "heapql/analyzer.h"
#include "heapql/kernels.h"
#include "heapql/annotate.h"

#endif /* HEAPQL_HEAPQL_H */
