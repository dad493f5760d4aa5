"""LLVM types for frostline types, and the constants the backend shares."""

from __future__ import annotations

from llvmlite import ir

from frostline import types as t

i1 = ir.IntType(1)
i8 = ir.IntType(8)
i32 = ir.IntType(32)
i64 = ir.IntType(64)
f32 = ir.FloatType()
f64 = ir.DoubleType()
i8p = i8.as_pointer()
void = ir.VoidType()


def scalar(ty: t.ScalarType | t.WeakType) -> ir.Type:
    """The register type of a scalar: i1 for bool, iN, float or double."""
    ty = t.concrete(ty)  # type: ignore[assignment]
    if ty.kind == "b":
        return i1
    if ty.kind in "iu":
        return ir.IntType(ty.bits)
    return f32 if ty.bits == 32 else f64


def memory(ty: t.ScalarType) -> ir.Type:
    """The in-memory type of an array element: bools are bytes."""
    return i8 if ty.kind == "b" else scalar(ty)


#: The owner field of an array struct: the memory block holding the data (``memory``),
#: null for memory the array does not own (arguments, constants).
OWNER = 3


def array(ty: t.ArrayType) -> ir.LiteralStructType:
    """``{T* data, [n x i64] shape, [n x i64] strides, i8* owner}``; strides are in bytes."""
    dims = ir.ArrayType(i64, ty.ndim)
    return ir.LiteralStructType([memory(ty.dtype).as_pointer(), dims, dims, i8p])


def value(ty: t.Type) -> ir.Type:
    """The LLVM type that holds a value of a frostline type."""
    if isinstance(ty, (t.ScalarType, t.WeakType)):
        return scalar(ty)
    if isinstance(ty, t.ArrayType):
        return array(ty)
    if isinstance(ty, t.TupleType):
        return ir.LiteralStructType([value(i) for i in ty.items])
    return i8  # None or a dtype: a placeholder byte, never read


def function(return_type: t.Type, arg_types: tuple[t.Type, ...]) -> ir.FunctionType:
    """Internal ABI: ``i32 f(R* out, i8* stack_base, args...)``.

    The i32 is 0 or an error number; ``stack_base`` is the stack address where
    the call from Python entered, so recursive functions can bound their depth
    (``stack``).
    """
    return ir.FunctionType(i32, [value(return_type).as_pointer(), i8p]
                           + [value(a) for a in arg_types])


