#include "bench.h"

/* Naive i-k-j matrix product, c = a @ b (c zeroed first), like the Python kernel. */
static void matmul(const double *a, const double *b, double *c, int64_t n, int64_t m, int64_t p) {
    for (int64_t i = 0; i < n; i++) {
        for (int64_t j = 0; j < p; j++) c[i * p + j] = 0.0;
        for (int64_t k = 0; k < m; k++)
            for (int64_t j = 0; j < p; j++) c[i * p + j] += a[i * m + k] * b[k * p + j];
    }
}

BENCH_ENTRY static void entry(const double *a, const double *b, double *c, int64_t n, int64_t m,
                              int64_t p) {
    matmul(a, b, c, n, m, p);
}

void run_matmul(int64_t reps, const double *a, int64_t a0, int64_t a1, const double *b, int64_t b0,
                int64_t b1, double *c, int64_t c0, int64_t c1) {
    (void)b0;
    (void)c0;
    (void)c1;
    for (int64_t r = 0; r < reps; r++) entry(a, b, c, a0, a1, b1);
}
