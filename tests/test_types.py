"""Types, typeof, promotion and signature parsing."""

import numpy as np
import pytest

import frostline as fl
from frostline import types as t


@pytest.mark.parametrize("text, expected", [
    ("float64", (fl.float64,)),
    ("float64, float64[:], float64[:]", (fl.float64, fl.float64[:], fl.float64[:])),
    ("int32[:, ::1]", (t.ArrayType(fl.int32, 2, "C"),)),
    ("float32[::1, :]", (t.ArrayType(fl.float32, 2, "F"),)),
    ("float64[:, :, :]", (t.ArrayType(fl.float64, 3, "A"),)),
    ("float64[::1]", (t.ArrayType(fl.float64, 1, "C"),)),
    ("bool, uint8, i8, f4", (fl.bool_, fl.uint8, fl.int64, fl.float32)),
    ("", ()),
])
def test_signature_strings_use_numba_spelling(text, expected):
    assert t.parse_signature(text).args == expected


def test_signature_with_return_type():
    sig = t.parse_signature("float64(int64, float64[::1])")
    assert sig.return_type == fl.float64
    assert sig.args == (fl.int64, fl.float64[::1])


@pytest.mark.parametrize("text, bad_part", [
    ("float64, flaot64[:]", "flaot64"),
    ("float64[:, :, ::1, :]", "]"),
    ("float64[:", ""),
    ("float64 int64", "int64"),
    ("float64[1:2]", "1"),
    ("float64, $", "$"),
])
def test_malformed_signature_points_at_the_bad_part(text, bad_part):
    with pytest.raises(ValueError) as info:
        t.parse_signature(text)
    message = str(info.value)
    lines = message.splitlines()
    assert lines[1].strip() == text
    caret = lines[2].index("^") - lines[1].index(text[0])
    assert text[caret:].startswith(bad_part)


def test_type_objects_build_array_types():
    assert fl.float64[:] == t.ArrayType(fl.float64, 1, "A")
    assert fl.float64[:, ::1] == t.ArrayType(fl.float64, 2, "C")
    assert fl.float64[::1, :] == t.ArrayType(fl.float64, 2, "F")
    assert str(fl.float64[:, ::1]) == "float64[:, ::1]"
    with pytest.raises(ValueError):
        fl.float64[1:3]


@pytest.mark.parametrize("value, expected", [
    (1, fl.int64), (1.5, fl.float64), (True, fl.bool_), (np.float32(1), fl.float32),
    (np.uint16(3), fl.uint16), (np.bool_(False), fl.bool_),
    (np.zeros(3), fl.float64[::1]), (np.zeros((2, 3)), fl.float64[:, ::1]),
    (np.zeros((2, 3), order="F"), fl.float64[::1, :]),
    (np.zeros((4, 4))[::2], t.ArrayType(fl.float64, 2, "A")),
    (np.zeros(4, dtype=np.int8), fl.int8[::1]),
])
def test_typeof(value, expected):
    assert fl.typeof(value) == expected


def test_typeof_rejects_unsupported_values():
    with pytest.raises(TypeError, match="str"):
        fl.typeof("x")
    with pytest.raises(TypeError):
        fl.typeof(np.zeros(3, dtype=np.complex128))


@pytest.mark.parametrize("a, b, expected", [
    (fl.int8, fl.int8, fl.int8), (fl.int8, fl.uint8, fl.int16), (fl.int64, fl.uint64, fl.float64),
    (fl.int32, fl.uint32, fl.int64), (fl.int16, fl.float32, fl.float32),
    (fl.int32, fl.float32, fl.float64), (fl.float32, fl.float64, fl.float64),
    (fl.bool_, fl.int8, fl.int8), (fl.uint8, fl.uint32, fl.uint32),
])
def test_promotion_matches_numpy(a, b, expected):
    assert t.promote(a, b) == expected
    assert np.result_type(a.numpy_dtype, b.numpy_dtype) == expected.numpy_dtype


@pytest.mark.parametrize("scalar", [fl.int8, fl.uint8, fl.int32, fl.float32, fl.float64])
def test_literals_are_weak_like_python_scalars_in_numpy(scalar):
    assert t.promote(scalar, t.weak_int) == scalar
    np_result = (np.ones(1, dtype=scalar.numpy_dtype) + 1).dtype
    assert np_result == scalar.numpy_dtype
    assert t.promote(fl.int8, t.weak_float) == fl.float64
    assert t.promote(fl.float32, t.weak_float) == fl.float32
