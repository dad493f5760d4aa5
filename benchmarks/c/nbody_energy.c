#include "bench.h"

static double nbody_energy(const double *pos, const double *mass, int64_t n) {
    double e = 0.0;
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = i + 1; j < n; j++) {
            const double dx = pos[3 * i] - pos[3 * j];
            const double dy = pos[3 * i + 1] - pos[3 * j + 1];
            const double dz = pos[3 * i + 2] - pos[3 * j + 2];
            e -= mass[i] * mass[j] / sqrt(dx * dx + dy * dy + dz * dz);
        }
    return e;
}

BENCH_ENTRY static double entry(const double *pos, const double *mass, int64_t n) {
    return nbody_energy(pos, mass, n);
}

double run_nbody_energy(int64_t reps, const double *pos, int64_t p0, int64_t p1, const double *mass,
                        int64_t m0) {
    (void)p1;
    (void)m0;
    double e = 0.0;
    for (int64_t r = 0; r < reps; r++) e = entry(pos, mass, p0);
    return e;
}
