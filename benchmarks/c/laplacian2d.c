#include "bench.h"

static void laplacian2d(const double *a, double *out, int64_t n0, int64_t n1) {
    for (int64_t i = 1; i < n0 - 1; i++)
        for (int64_t j = 1; j < n1 - 1; j++)
            out[i * n1 + j] = a[(i - 1) * n1 + j] + a[(i + 1) * n1 + j] + a[i * n1 + j - 1]
                              + a[i * n1 + j + 1] - 4.0 * a[i * n1 + j];
}

BENCH_ENTRY static void entry(const double *a, double *out, int64_t n0, int64_t n1) {
    laplacian2d(a, out, n0, n1);
}

void run_laplacian2d(int64_t reps, const double *a, int64_t n0, int64_t n1, double *out,
                     int64_t m0, int64_t m1) {
    (void)m0;
    (void)m1;
    for (int64_t r = 0; r < reps; r++) entry(a, out, n0, n1);
}
