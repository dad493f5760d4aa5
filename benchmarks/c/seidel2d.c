#include "bench.h"

/* One in-place Gauss-Seidel sweep (PolyBench seidel-2d), row by row like the Python kernel:
 * the neighbour sum, then the recurrence along the row. */
static void seidel2d(double *a, int64_t n0, int64_t n1) {
    for (int64_t i = 1; i < n0 - 1; i++) {
        double *up = a + (i - 1) * n1, *row = a + i * n1, *down = a + (i + 1) * n1;
        for (int64_t j = 1; j < n1 - 1; j++)
            row[j] += (up[j - 1] + up[j] + up[j + 1] + row[j + 1] + down[j - 1] + down[j]
                       + down[j + 1]);
        for (int64_t j = 1; j < n1 - 1; j++) {
            row[j] += row[j - 1];
            row[j] /= 9.0;
        }
    }
}

BENCH_ENTRY static void entry(double *a, int64_t n0, int64_t n1) { seidel2d(a, n0, n1); }

void run_seidel2d(int64_t reps, double *a, int64_t n0, int64_t n1) {
    for (int64_t r = 0; r < reps; r++) entry(a, n0, n1);
}
