#include "bench.h"

static void stencil3d(const double *a, double *out, int64_t n0, int64_t n1, int64_t n2) {
    const int64_t s0 = n1 * n2, s1 = n2;
    for (int64_t i = 1; i < n0 - 1; i++)
        for (int64_t j = 1; j < n1 - 1; j++)
            for (int64_t k = 1; k < n2 - 1; k++) {
                const int64_t c = i * s0 + j * s1 + k;
                out[c] = a[c - s0] + a[c + s0] + a[c - s1] + a[c + s1] + a[c - 1] + a[c + 1]
                         - 6.0 * a[c];
            }
}

BENCH_ENTRY static void entry(const double *a, double *out, int64_t n0, int64_t n1, int64_t n2) {
    stencil3d(a, out, n0, n1, n2);
}

void run_stencil3d(int64_t reps, const double *a, int64_t n0, int64_t n1, int64_t n2, double *out,
                   int64_t m0, int64_t m1, int64_t m2) {
    (void)m0;
    (void)m1;
    (void)m2;
    for (int64_t r = 0; r < reps; r++) entry(a, out, n0, n1, n2);
}
