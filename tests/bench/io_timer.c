/* How long a process's fdatasync() and pwrite64() calls take, run by hand
 * (never a test): an LD_PRELOAD library that times every call and, when the
 * process exits, appends one line to AGNI_IO_TIMER_OUT:
 *
 *   fdatasync n=4697 mean_us=588.2 p50<450us p90<900us p99<2050us | pwrite n=15539 mean_us=12.54 bytes=334048672
 *
 * Calls in the first AGNI_IO_TIMER_SKIP_S seconds (default 0) are not counted
 * (a bench script's warm-up); a process that made no counted fdatasync writes
 * nothing (the `healthcheck` runs). Percentiles are 50 us buckets, up to 3.2
 * ms. Build and wrap the gateway, then give the wrapper to a bench script:
 *
 *   gcc -O2 -shared -fPIC -o /tmp/io_timer.so tests/bench/io_timer.c -ldl
 *   printf '#!/bin/sh\nLD_PRELOAD=/tmp/io_timer.so AGNI_IO_TIMER_OUT=/tmp/io.txt AGNI_IO_TIMER_SKIP_S=4 exec %s "$@"\n' \
 *     "$PWD/build/agni-gateway" >/tmp/gw-timed && chmod +x /tmp/gw-timed
 *
 * Issue 20 measured the audit's syncs under load with it (BENCHMARKS.md).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>
#include <time.h>

enum { kBuckets = 64, kBucketNs = 50000 };

static atomic_long sync_ns, sync_n, write_ns, write_n, write_bytes;
static atomic_long sync_hist[kBuckets];
static long start_ns, skip_ns;

static long NowNs(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1000000000L + t.tv_nsec;
}

__attribute__((constructor)) static void Start(void) {
  const char* skip = getenv("AGNI_IO_TIMER_SKIP_S");
  start_ns = NowNs();
  skip_ns = (skip != NULL ? atol(skip) : 0) * 1000000000L;
}

static int Counted(long at) { return at - start_ns >= skip_ns; }

int fdatasync(int fd) {
  static int (*real)(int);
  if (real == NULL) real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
  const long at = NowNs();
  const int rc = real(fd);
  if (Counted(at)) {
    const long took = NowNs() - at;
    const long bucket = took / kBucketNs;
    atomic_fetch_add(&sync_ns, took);
    atomic_fetch_add(&sync_n, 1);
    atomic_fetch_add(&sync_hist[bucket < kBuckets ? bucket : kBuckets - 1], 1);
  }
  return rc;
}

ssize_t pwrite64(int fd, const void* buf, size_t n, off_t offset) {
  static ssize_t (*real)(int, const void*, size_t, off_t);
  if (real == NULL) {
    real = (ssize_t(*)(int, const void*, size_t, off_t))dlsym(RTLD_NEXT,
                                                             "pwrite64");
  }
  const long at = NowNs();
  const ssize_t rc = real(fd, buf, n, offset);
  if (Counted(at)) {
    atomic_fetch_add(&write_ns, NowNs() - at);
    atomic_fetch_add(&write_n, 1);
    atomic_fetch_add(&write_bytes, (long)n);
  }
  return rc;
}

/* The bucket's upper bound, in us, under which `share` of the syncs fell. */
static long Percentile(long n, double share) {
  long seen = 0;
  for (int i = 0; i < kBuckets; ++i) {
    seen += sync_hist[i];
    if (seen >= share * n) return (i + 1L) * kBucketNs / 1000;
  }
  return kBuckets * (long)kBucketNs / 1000;
}

__attribute__((destructor)) static void Report(void) {
  const char* path = getenv("AGNI_IO_TIMER_OUT");
  const long n = sync_n;
  if (path == NULL || n == 0) return;
  FILE* out = fopen(path, "a");
  if (out == NULL) return;
  const long w = write_n;
  fprintf(out,
          "fdatasync n=%ld mean_us=%.1f p50<%ldus p90<%ldus p99<%ldus | "
          "pwrite n=%ld mean_us=%.2f bytes=%ld\n",
          n, sync_ns / 1e3 / n, Percentile(n, 0.5), Percentile(n, 0.9),
          Percentile(n, 0.99), w, w > 0 ? write_ns / 1e3 / w : 0.0,
          (long)write_bytes);
  fclose(out);
}
