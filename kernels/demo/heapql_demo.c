/*
 * heapql_demo.c: heapql-demo, the risk-model demo.  See demo.h for the parts and
 * docs/kernels-model.md for the switches; `heapql run -- heapql-demo --pool` shows what a
 * switch saves.
 */
#include <stdio.h>
#include <cblas.h>   /* openblas_set_num_threads */

#include "demo.h"

int demo_fail(const char *what, int rc) {
  fprintf(stderr, "heapql-demo: %s: %s\n", what, hq_kernels_errmsg());
  (void)rc;
  return DEMO_EXIT_INTERNAL;
}

int main(int argc, char **argv) {
  demo_config_t cfg;
  int rc = demo_parse_args(argc, argv, &cfg);
  if (rc == 1) return DEMO_EXIT_OK;   /* --help */
  if (rc) return rc;
  openblas_set_num_threads((int)cfg.threads);
  return demo_run(&cfg);
}
