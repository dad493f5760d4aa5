"""frostline: compile numeric Python functions ahead of time through typed stages and LLVM.

::

    import frostline as fl

    @fl.jit
    def axpy(a, x, y):
        for i in range(x.shape[0]):
            y[i] += a * x[i]

    exe = axpy.compile("float64, float64[:], float64[:]")
"""

__version__ = "0.1.0"

from frostline.dispatcher import Dispatcher, jit  # noqa: E402
from frostline.errors import CompileError, IncompatibleTargetError  # noqa: E402
from frostline.modes import ExecutionMode, FallbackWarning  # noqa: E402
from frostline.parallel import get_num_threads, prange, set_num_threads  # noqa: E402
from frostline.stages import Executable  # noqa: E402
from frostline.stages.executable import BoundCall  # noqa: E402
from frostline.stats import stats  # noqa: E402
from frostline.toolchain.bundle import BundleWarning, load_bundle  # noqa: E402
from frostline.toolchain.cache import CacheWarning, DiskCache  # noqa: E402
from frostline.types import (  # noqa: E402
    ArrayType,
    ScalarType,
    Signature,
    bool_,
    float32,
    float64,
    int8,
    int16,
    int32,
    int64,
    typeof,
    uint8,
    uint16,
    uint32,
    uint64,
)

__all__ = [
    "ArrayType", "BoundCall", "BundleWarning", "CacheWarning", "CompileError", "CompilerPool",
    "DiskCache", "Dispatcher",
    "Executable", "ExecutionMode", "FallbackWarning", "IncompatibleTargetError", "ScalarType",
    "Signature",
    "bool_", "float32", "float64", "get_num_threads", "int8", "int16", "int32", "int64", "jit",
    "load_bundle",
    "prange", "set_num_threads", "stats",
    "WorkerCrashed", "WorkerTimeout", "compiler_pool",
    "typeof", "uint8", "uint16", "uint32", "uint64",
]

#: Imported when first asked for: a process that never uses the compiler pool does not
#: pay for its modules at start-up.
_SERVICE = ("CompilerPool", "WorkerCrashed", "WorkerTimeout", "compiler_pool")


def __getattr__(name: str) -> object:
    if name in _SERVICE:
        from frostline.toolchain.service import pool

        return getattr(pool, name)
    raise AttributeError(f"module 'frostline' has no attribute {name!r}")
