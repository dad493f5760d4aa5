#include "bench.h"

static void mandelbrot(const double *xs, int64_t nx, const double *ys, int64_t ny, int64_t max_iter,
                       int32_t *out) {
    for (int64_t i = 0; i < ny; i++) {
        const double cy = ys[i];
        for (int64_t j = 0; j < nx; j++) {
            const double cx = xs[j];
            double zx = 0.0, zy = 0.0;
            int64_t n = 0;
            while (n < max_iter && zx * zx + zy * zy <= 4.0) {
                const double t = zx * zx - zy * zy + cx;
                zy = 2.0 * zx * zy + cy;
                zx = t;
                n++;
            }
            out[i * nx + j] = (int32_t)n;
        }
    }
}

BENCH_ENTRY static void entry(const double *xs, int64_t nx, const double *ys, int64_t ny,
                              int64_t max_iter, int32_t *out) {
    mandelbrot(xs, nx, ys, ny, max_iter, out);
}

void run_mandelbrot(int64_t reps, const double *xs, int64_t nx, const double *ys, int64_t ny,
                    int64_t max_iter, int32_t *out, int64_t o0, int64_t o1) {
    (void)o0;
    (void)o1;
    for (int64_t r = 0; r < reps; r++) entry(xs, nx, ys, ny, max_iter, out);
}
