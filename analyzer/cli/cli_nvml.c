/*
 * cli_nvml.c: the device memory the driver counts for the recorded processes, sampled by
 * `heapql run` itself through NVML while the program runs.
 *
 * heapql's own device figures are the blocks the program asked the driver for; the driver also
 * holds the CUDA context, module images and libraries' private workspaces for the process, which
 * no allocation call shows.  NVML (libnvidia-ml.so.1, loaded here, in heapql's process: the
 * program loads nothing new) reports each process's used device memory per device; a thread
 * samples it every 20 ms, and after the import the samples of each recorded process go into its
 * database (device_memory_samples, meta peak_device_driver_bytes).  Without NVML, nothing.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "output/output_int.h"

#define SAMPLE_NS   20000000ull
#define MAX_PROCS   256
#define MAX_SAMPLES (1u << 20)          /* ~6 hours of one process on one device */
#define NVML_NOT_AVAILABLE 0xffffffffffffffffull

typedef struct {                        /* nvmlProcessInfo_v2_t */
  unsigned pid;
  unsigned long long used;
  unsigned gpu_instance, compute_instance;
} proc_info_t;

typedef struct {
  uint64_t t_mono_ns, bytes;
  uint32_t pid;
  int32_t device;
} sample_t;

struct hq_cli_nvml_s {
  void *lib;
  int (*init)(void);
  int (*shutdown)(void);
  int (*count)(unsigned *);
  int (*handle)(unsigned, void **);
  int (*procs)(void *, unsigned *, proc_info_t *);
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int stop;
  int up;                               /* nvmlInit succeeded (in the thread) */
  sample_t *v;
  size_t n, cap;
};

static uint64_t mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void sample_once(hq_cli_nvml_t *n) {
  unsigned devices = 0;
  uint64_t now = mono_ns();
  if (n->count(&devices) != 0) return;
  for (unsigned d = 0; d < devices && d < 64; d++) {
    proc_info_t info[MAX_PROCS];
    unsigned k = MAX_PROCS;
    void *h = NULL;
    if (n->handle(d, &h) != 0 || n->procs(h, &k, info) != 0) continue;
    for (unsigned i = 0; i < k && i < MAX_PROCS; i++) {
      sample_t s = {now, info[i].used, info[i].pid, (int32_t)d};
      if (info[i].used == NVML_NOT_AVAILABLE || n->n >= MAX_SAMPLES) continue;
      if (hq__grow((void **)&n->v, &n->cap, n->n, sizeof *n->v, 256)) return;
      n->v[n->n++] = s;
    }
  }
}

static void *sampler(void *arg) {
  hq_cli_nvml_t *n = arg;
  /* NVML's start can take a good part of a second on a machine with GPUs: here, not before the
   * program may start */
  if (n->init() != 0) return NULL;
  n->up = 1;
  pthread_mutex_lock(&n->mu);
  while (!n->stop) {
    struct timespec until;
    sample_once(n);
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += (long)SAMPLE_NS;
    if (until.tv_nsec >= 1000000000L) until.tv_sec++, until.tv_nsec -= 1000000000L;
    pthread_cond_timedwait(&n->cv, &n->mu, &until);
  }
  pthread_mutex_unlock(&n->mu);
  return NULL;
}

hq_cli_nvml_t *hq_cli_nvml_start(void) {
  hq_cli_nvml_t *n = calloc(1, sizeof *n);
  if (!n) return NULL;
  n->lib = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!n->lib) goto fail;
  *(void **)&n->init = dlsym(n->lib, "nvmlInit_v2");
  *(void **)&n->shutdown = dlsym(n->lib, "nvmlShutdown");
  *(void **)&n->count = dlsym(n->lib, "nvmlDeviceGetCount_v2");
  *(void **)&n->handle = dlsym(n->lib, "nvmlDeviceGetHandleByIndex_v2");
  *(void **)&n->procs = dlsym(n->lib, "nvmlDeviceGetComputeRunningProcesses_v3");
  if (!n->procs) *(void **)&n->procs = dlsym(n->lib, "nvmlDeviceGetComputeRunningProcesses_v2");
  if (!n->init || !n->shutdown || !n->count || !n->handle || !n->procs) goto fail;
  pthread_mutex_init(&n->mu, NULL);
  pthread_cond_init(&n->cv, NULL);
  if (pthread_create(&n->thread, NULL, sampler, n) != 0) goto fail;
  return n;
fail:
  if (n->lib) dlclose(n->lib);
  free(n);
  return NULL;
}

void hq_cli_nvml_stop(hq_cli_nvml_t *n) {
  if (!n || !n->lib) return;
  pthread_mutex_lock(&n->mu);
  n->stop = 1;
  pthread_cond_signal(&n->cv);
  pthread_mutex_unlock(&n->mu);
  pthread_join(n->thread, NULL);
  if (n->up) n->shutdown();
  dlclose(n->lib);
  n->lib = NULL;
}

int hq_cli_nvml_write(hq_cli_nvml_t *n, const char *db_path) {
  hq_db_t *db = NULL;
  sqlite3_stmt *st = NULL;
  int64_t pid = 0, t0 = 0;
  uint64_t peak = 0, peak_t = 0, at = 0, sum = 0;
  size_t rows = 0;
  int rc;
  if (!n || !n->n) return HQ_OK;
  if ((rc = hq_db_open(db_path, HQ_DB_NO_CHECK, &db)) != HQ_OK) goto out;
  if ((rc = hq__meta_int(db, "pid", &pid)) || (rc = hq__meta_int(db, "t0_mono_ns", &t0))) goto out;
  if ((rc = hq__db_exec(db, "BEGIN")) ||
      (rc = hq__db_prepare(db, "INSERT INTO device_memory_samples(pid, t, device, driver_bytes)"
                               " VALUES(?1, ?2, ?3, ?4)", &st)))
    goto out;
  for (size_t i = 0; i < n->n && !rc; i++) {
    const sample_t *s = &n->v[i];
    if ((int64_t)s->pid != pid || s->t_mono_ns < (uint64_t)t0) continue;
    sqlite3_reset(st);
    sqlite3_bind_int64(st, 1, pid);
    sqlite3_bind_int64(st, 2, (int64_t)(s->t_mono_ns - (uint64_t)t0));
    sqlite3_bind_int64(st, 3, s->device);
    sqlite3_bind_int64(st, 4, (int64_t)s->bytes);
    if (sqlite3_step(st) != SQLITE_DONE) rc = hq__db_sqlerr(db, "device_memory_samples");
    /* the peak is over every device at one sampling instant */
    if (s->t_mono_ns != at) at = s->t_mono_ns, sum = 0;
    sum += s->bytes;
    if (sum > peak) peak = sum, peak_t = s->t_mono_ns - (uint64_t)t0;
    rows++;
  }
  if (!rc && rows) {
    rc = hq__meta_set_int(db, "peak_device_driver_bytes", (int64_t)peak);
    if (!rc) rc = hq__meta_set_int(db, "peak_device_driver_t", (int64_t)peak_t);
  }
  if (!rc) rc = hq__db_exec(db, "COMMIT");
out:
  sqlite3_finalize(st);
  hq_db_close(db);
  return rc;
}

void hq_cli_nvml_free(hq_cli_nvml_t *n) {
  if (!n) return;
  hq_cli_nvml_stop(n);
  free(n->v);
  free(n);
}
