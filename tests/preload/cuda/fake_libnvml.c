/*
 * fake_libnvml.c: a test double of NVML (libnvidia-ml.so.1) for `heapql run`'s sampling of the
 * device memory the driver counts per process.  One device; its compute processes are the
 * calling process's children (read from /proc), each using FAKE_NVML_BYTES bytes (default
 * 100 MiB), as a driver would report a CUDA program's context and allocations.  Names, types and
 * values are nvml.h's.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FAKE_API __attribute__((visibility("default")))
enum { NVML_SUCCESS = 0, NVML_ERROR_INVALID_ARGUMENT = 2, NVML_ERROR_INSUFFICIENT_SIZE = 7 };

typedef struct {
  unsigned pid;
  unsigned long long usedGpuMemory;
  unsigned gpuInstanceId, computeInstanceId;
} nvmlProcessInfo_t;

static int inited;

FAKE_API int nvmlInit_v2(void) { inited = 1; return NVML_SUCCESS; }
FAKE_API int nvmlShutdown(void) { inited = 0; return NVML_SUCCESS; }
FAKE_API int nvmlDeviceGetCount_v2(unsigned *count) {
  if (!count) return NVML_ERROR_INVALID_ARGUMENT;
  *count = 1;
  return NVML_SUCCESS;
}
FAKE_API int nvmlDeviceGetHandleByIndex_v2(unsigned index, void **device) {
  if (index != 0 || !device) return NVML_ERROR_INVALID_ARGUMENT;
  *device = (void *)0x1;
  return NVML_SUCCESS;
}

/* The parent pid of pid, from /proc/PID/stat; 0 if unknown. */
static long parent_of(long pid) {
  char path[64], buf[512], *close_paren;
  FILE *f;
  long ppid = 0;
  snprintf(path, sizeof path, "/proc/%ld/stat", pid);
  if (!(f = fopen(path, "r"))) return 0;
  if (fgets(buf, sizeof buf, f) && (close_paren = strrchr(buf, ')')))
    sscanf(close_paren + 2, "%*c %ld", &ppid);
  fclose(f);
  return ppid;
}

FAKE_API int nvmlDeviceGetComputeRunningProcesses_v3(void *device, unsigned *count,
                                                     nvmlProcessInfo_t *infos) {
  const char *env = getenv("FAKE_NVML_BYTES");
  unsigned long long bytes = env ? strtoull(env, NULL, 10) : 100ull << 20;
  unsigned n = 0;
  DIR *d;
  struct dirent *e;
  if (!inited || device != (void *)0x1 || !count) return NVML_ERROR_INVALID_ARGUMENT;
  if (!(d = opendir("/proc"))) return NVML_ERROR_INVALID_ARGUMENT;
  while ((e = readdir(d))) {
    long pid = strtol(e->d_name, NULL, 10);
    if (pid <= 0 || parent_of(pid) != getpid()) continue;
    if (n < *count && infos) {
      infos[n].pid = (unsigned)pid;
      infos[n].usedGpuMemory = bytes;
      infos[n].gpuInstanceId = infos[n].computeInstanceId = 0xffffffffu;
    }
    n++;
  }
  closedir(d);
  if (n > *count) {
    *count = n;
    return NVML_ERROR_INSUFFICIENT_SIZE;
  }
  *count = n;
  return NVML_SUCCESS;
}
