/*
 * demo.h: heapql-demo, the risk-model demo of libheapql_kernels (docs/kernels-model.md).
 *
 * Synthetic market data with a known factor structure, a model mapping a window of returns to
 * the risk factors, trained for a few epochs under MemoryConfig-like switches.  Files:
 *   demo_args.c     command line -> demo_config_t
 *   demo_mem.c      the one allocation hook (malloc, or the caching pool with --pool)
 *   demo_data.c     data generation, storage (heap or .npy memmap, f32 or f16), windows
 *   demo_train.c    the model, the training loop (whole or chunked), the memory summary
 *   heapql_demo.c   main
 */
#ifndef HQ_DEMO_H
#define HQ_DEMO_H

#include <stddef.h>
#include <stdint.h>
#include "heapql/kernels.h"

/* Exit codes, as the heapql CLI's. */
enum { DEMO_EXIT_OK = 0, DEMO_EXIT_USAGE = 2, DEMO_EXIT_INTERNAL = 3 };

typedef struct demo_config_s {
  /* problem */
  size_t assets, days, window, factors;
  uint64_t seed;
  /* model and training */
  size_t epochs, batch, layers, hidden;
  size_t heads;            /* 0: no attention block; else an attention block over the window */
  size_t sketch_terms;     /* 0: dense hidden layers; else sketched (with sketch_rank) */
  size_t sketch_rank;
  float lr;
  size_t threads;          /* OpenBLAS threads */
  /* memory switches */
  int pool;
  int chunked;
  size_t chunk_size;       /* samples per chunk; 0: chosen from chunk_budget */
  size_t chunk_budget;     /* bytes of windows a chunk may build */
  double sparse_density;   /* 0: dense hidden weights; else CSR at this density */
  int checkpoint;
  int segments;            /* HQ_CKPT_AUTO or a count */
  int mmap_data;
  int f16_storage;
} demo_config_t;

/* demo_args.c */
/* Parse argv into *cfg (defaults first).  Returns 0, 1 for --help (usage printed on stdout), or
 * DEMO_EXIT_USAGE after printing one line "heapql-demo: ..." on stderr. */
int demo_parse_args(int argc, char **argv, demo_config_t *cfg);
void demo_usage(void);

/* demo_mem.c: every buffer of the demo and of its model comes through here. */
typedef struct demo_mem_s {
  hq_pool_t *pool;         /* NULL without --pool */
  size_t live_bytes, peak_bytes;
  uint64_t allocations;
} demo_mem_t;

int demo_mem_init(demo_mem_t *mem, int use_pool);
void demo_mem_fini(demo_mem_t *mem);
void *demo_alloc(demo_mem_t *mem, size_t bytes);
void demo_free(demo_mem_t *mem, void *ptr, size_t bytes);
/* The hook handed to hq_model_create. */
hq_model_allocator_t demo_model_allocator(demo_mem_t *mem);

/* demo_data.c */
typedef struct demo_data_s {
  size_t days, assets, factors, window;
  hq_dtype_t dtype;        /* storage of the returns: HQ_F32 or HQ_F16 */
  void *returns;           /* days x assets in dtype */
  float *target;           /* days x factors: the true factors, f32 */
  size_t returns_bytes, target_bytes;
  /* storage */
  demo_mem_t *mem;         /* owner of heap storage */
  hq_npy_t *npy_returns, *npy_target;   /* set with --mmap-data */
  char dir[256];           /* the temporary directory of the .npy files, "" if none */
} demo_data_t;

/* Generate the data set of cfg into *d (heap through mem, or .npy memmaps in a fresh temporary
 * directory).  Returns HQ_OK or an HQ_E* code after printing a line. */
int demo_data_create(demo_data_t *d, const demo_config_t *cfg, demo_mem_t *mem);
/* Release the storage and remove the temporary directory.  Safe on a zeroed struct. */
void demo_data_destroy(demo_data_t *d);
/* Samples: windows ending at days window-1 .. days-1. */
size_t demo_data_samples(const demo_data_t *d);
/* Write sample s: x (window * assets floats, oldest day first) and y (factors floats). */
void demo_data_sample(const demo_data_t *d, size_t s, float *x, float *y);

/* demo_train.c */
/* Build, train and report.  Returns a DEMO_EXIT_* code. */
int demo_run(const demo_config_t *cfg);

/* heapql_demo.c */
/* Print "heapql-demo: what: detail" on stderr; returns DEMO_EXIT_INTERNAL. */
int demo_fail(const char *what, int rc);

#endif /* HQ_DEMO_H */
