/* heapql_demo.c: placeholder until the risk-model demo lands. */
#include <stdio.h>
#include "heapql/kernels.h"

int main(void) {
  printf("heapql-demo %s: the risk-model demo is not built yet\n", hq_kernels_version());
  return 0;
}
