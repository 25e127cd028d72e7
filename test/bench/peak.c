/*
 * The machine's fp32 peak: a loop of nothing but AVX2 fused multiply-adds (12 independent
 * accumulators of 8 floats, enough to keep two FMA pipes busy through their latency), on THREADS
 * threads for about SECONDS seconds, in GFLOP/s (2 per multiply-add). No real kernel reaches it:
 * a speed target above it cannot be met by faster kernels. gemm.ts compiles and runs it where a C
 * compiler is found (x86-64):
 *
 *   cc -O2 -mavx2 -mfma -pthread test/bench/peak.c -o peak && ./peak THREADS [SECONDS]
 *
 * Prints {"threads": N, "gflops": X}.
 */
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static long iterations;

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

/* Distinct starting values, so that the compiler cannot merge the 12 chains into one. */
static void *spin(void *out) {
  __m256 a[12];
  for (int j = 0; j < 12; j++) a[j] = _mm256_set1_ps(1.0f + 0.1f * j);
  const __m256 m = _mm256_set1_ps(0.9999999f), c = _mm256_set1_ps(1e-7f);
  for (long i = 0; i < iterations; i++) {
    a[0] = _mm256_fmadd_ps(a[0], m, c); a[1] = _mm256_fmadd_ps(a[1], m, c); a[2] = _mm256_fmadd_ps(a[2], m, c);
    a[3] = _mm256_fmadd_ps(a[3], m, c); a[4] = _mm256_fmadd_ps(a[4], m, c); a[5] = _mm256_fmadd_ps(a[5], m, c);
    a[6] = _mm256_fmadd_ps(a[6], m, c); a[7] = _mm256_fmadd_ps(a[7], m, c); a[8] = _mm256_fmadd_ps(a[8], m, c);
    a[9] = _mm256_fmadd_ps(a[9], m, c); a[10] = _mm256_fmadd_ps(a[10], m, c); a[11] = _mm256_fmadd_ps(a[11], m, c);
  }
  __m256 sum = a[0];
  for (int j = 1; j < 12; j++) sum = _mm256_add_ps(sum, a[j]);
  _mm256_storeu_ps((float *)out, sum); /* the result is kept, so the loop is not optimized away */
  return NULL;
}

/* Seconds for `threads` threads to run `iterations` each. */
static double timed(int threads, float *sink) {
  pthread_t ids[256];
  double start = now();
  for (int t = 0; t < threads; t++) pthread_create(&ids[t], NULL, spin, sink + 8 * t);
  for (int t = 0; t < threads; t++) pthread_join(ids[t], NULL);
  return now() - start;
}

int main(int argc, char **argv) {
  int threads = argc > 1 ? atoi(argv[1]) : 1;
  double seconds = argc > 2 ? atof(argv[2]) : 2.0;
  if (threads < 1 || threads > 256 || !(seconds > 0)) {
    fprintf(stderr, "usage: peak THREADS(1..256) [SECONDS]\n");
    return 2;
  }
  float *sink = calloc(8 * (size_t)threads, sizeof(float));
  /* Calibrate on one thread, long enough (50 ms) that the clock's resolution and a slow start do not count. */
  double elapsed = 0;
  for (iterations = 1000000; (elapsed = timed(1, sink)) < 0.05; iterations *= 4) {}
  iterations = (long)(iterations * seconds / elapsed);
  elapsed = timed(threads, sink);
  double flops = (double)threads * iterations * 12 * 8 * 2;
  printf("{\"threads\": %d, \"gflops\": %.1f, \"check\": %g}\n", threads, flops / elapsed / 1e9, sink[0]);
  free(sink);
  return 0;
}
