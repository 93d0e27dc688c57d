/*
 * hq_clock.c: event timestamps.
 *
 * Every event needs a time that orders it against the other threads' events.  clock_gettime
 * through the vDSO costs ~25 ns here (a sixth of an event); when the kernel itself uses the TSC
 * as its clocksource (so it found it constant, non-stop and synchronized across CPUs), rdtscp is
 * the same clock without the conversion.  Events then carry ticks since t0, and the writer adds
 * (tick, ns) pairs to the trace every 20 ms and at the end; the importer converts with one linear
 * map, so the order of events is exactly the order of their ticks.
 */
#include <fcntl.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "preload_int.h"

static uint64_t mono_abs(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t hq__mono_ns(void) {
  return mono_abs() - hq__state.t0_mono;
}

/* Read a small file into buf (NUL-terminated); 0 on success. */
static int read_small(const char *path, char *buf, size_t cap) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  ssize_t n;
  if (fd < 0) return -1;
  n = read(fd, buf, cap - 1);
  hq__real.close(fd);
  if (n <= 0) return -1;
  buf[n] = '\0';
  return 0;
}

static int tsc_trusted(void) {
#if defined(__x86_64__)
  char buf[64];
  if (hq__opts.clock_monotonic) return 0;
  if (read_small("/sys/devices/system/clocksource/clocksource0/current_clocksource", buf, sizeof buf))
    return 0;
  return strncmp(buf, "tsc", 3) == 0 && (buf[3] == '\n' || buf[3] == '\0');
#else
  return 0;
#endif
}

void hq__clock_start(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  hq__state.t0_unix = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
  hq__state.tsc = 0;
  hq__state.t0_mono = mono_abs();
#if defined(__x86_64__)
  if (tsc_trusted()) {
    unsigned aux;
    uint64_t m0, m1, k0, k1;
    /* A first estimate of the tick length over ~100 us, for traces too short to hold two
     * clock pairs; the importer prefers the pairs. */
    m0 = mono_abs();
    k0 = __rdtscp(&aux);
    do {
      m1 = mono_abs();
      k1 = __rdtscp(&aux);
    } while (m1 - m0 < 100000 && k1 > k0);
    if (k1 > k0) {
      hq__state.tsc_ns_per_tick = (double)(m1 - m0) / (double)(k1 - k0);
      hq__state.t0_mono = m1;
      hq__state.tsc0 = k1;
      hq__state.tsc = 1;
    }
  }
#endif
}
