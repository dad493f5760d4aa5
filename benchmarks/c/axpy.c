#include "bench.h"

static void axpy(double a, const double *x, double *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] += a * x[i];
}

BENCH_ENTRY static void entry(double a, const double *x, double *y, int64_t n) { axpy(a, x, y, n); }

void run_axpy(int64_t reps, double a, const double *x, int64_t nx, double *y, int64_t ny) {
    (void)ny;
    for (int64_t r = 0; r < reps; r++) entry(a, x, y, nx);
}
