#include "bench.h"

static int64_t fib(int64_t n) {
    if (n < 2) return n;
    return fib(n - 1) + fib(n - 2);
}

BENCH_ENTRY static int64_t entry(int64_t n) { return fib(n); }

int64_t run_fib(int64_t reps, int64_t n) {
    int64_t f = 0;
    for (int64_t r = 0; r < reps; r++) f = entry(n);
    return f;
}
