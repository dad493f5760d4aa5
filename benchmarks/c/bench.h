/* Shared helpers for the C reference kernels.
 *
 * Calling convention (see benchmarks/c_kernels.py): each kernel NAME exports
 *     RET run_NAME(int64_t reps, <args>)
 * where every NumPy array argument is passed as a data pointer followed by one
 * int64_t per dimension, float scalars as double and int scalars as int64_t.
 * run_NAME calls the kernel `reps` times through a BENCH_ENTRY wrapper, which
 * GCC may not analyse interprocedurally (noipa), so no call can be hoisted or
 * merged; the kernel itself is a plain static function that GCC optimises
 * freely inside the wrapper.
 */
#ifndef FROSTLINE_BENCH_H
#define FROSTLINE_BENCH_H
#include <math.h>
#include <stdint.h>

#define BENCH_ENTRY __attribute__((noipa))

#endif
