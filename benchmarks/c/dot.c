#include "bench.h"

static double dot(const double *x, const double *y, int64_t n) {
    double s = 0.0;
    for (int64_t i = 0; i < n; i++) s += x[i] * y[i];
    return s;
}

BENCH_ENTRY static double entry(const double *x, const double *y, int64_t n) { return dot(x, y, n); }

double run_dot(int64_t reps, const double *x, int64_t nx, const double *y, int64_t ny) {
    (void)ny;
    double s = 0.0;
    for (int64_t r = 0; r < reps; r++) s = entry(x, y, nx);
    return s;
}
