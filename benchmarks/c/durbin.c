#include "bench.h"

/* Levinson-Durbin recursion (PolyBench durbin), like the Python kernel; z is scratch. */
static void durbin(const double *r, double *y, double *z, int64_t n) {
    y[0] = -r[0];
    double beta = 1.0, alpha = -r[0];
    for (int64_t k = 1; k < n; k++) {
        beta = (1.0 - alpha * alpha) * beta;
        double total = 0.0;
        for (int64_t i = 0; i < k; i++) total += r[k - i - 1] * y[i];
        alpha = -(r[k] + total) / beta;
        for (int64_t i = 0; i < k; i++) z[i] = y[i] + alpha * y[k - i - 1];
        for (int64_t i = 0; i < k; i++) y[i] = z[i];
        y[k] = alpha;
    }
}

BENCH_ENTRY static void entry(const double *r, double *y, double *z, int64_t n) {
    durbin(r, y, z, n);
}

void run_durbin(int64_t reps, const double *r, int64_t nr, double *y, int64_t ny, double *z,
                int64_t nz) {
    (void)ny;
    (void)nz;
    for (int64_t rep = 0; rep < reps; rep++) entry(r, y, z, nr);
}
