"""Every program outside the language is a CompileError with file, line, column and caret.

Each case is a kernel whose offending line ends in ``# error: TEXT``: the error
must point at that line, its caret at TEXT, and its message must contain the
expected words.
"""

import importlib.util
import itertools
import textwrap

import numpy as np
import pytest

import frostline as fl

HEADER = "import math\nimport numpy as np\nimport frostline as fl\n" \
         "TABLE = np.arange(4.0)\nNAMES = {'a': 1}\nWORD = 'text'\n" \
         "def helper(a, b=1):\n    return a + b\n"

# (id, kernel source, signature, message fragment)
CASES = [
    ("nested-def", """
def k(x):
    def inner(y):  # error: def inner
        return y
    return x
""", "float64", "nested function definitions are not supported"),
    ("class", """
def k(x):
    class C:  # error: class C
        pass
    return x
""", "float64", "class definitions are not supported"),
    ("with", """
def k(x):
    with open('f') as f:  # error: with
        pass
    return x
""", "float64", "'with' statements are not supported"),
    ("try", """
def k(x):
    try:  # error: try
        x = 1.0
    except ValueError:
        pass
    return x
""", "float64", "'try' statements are not supported"),
    ("import", """
def k(x):
    import os  # error: import
    return x
""", "float64", "imports are not supported"),
    ("del", """
def k(x):
    y = x
    del y  # error: del
    return x
""", "float64", "'del' statements are not supported"),
    ("list", """
def k(x):
    y = [x, x]  # error: [x, x]
    return x
""", "float64", "lists are not supported"),
    ("dict", """
def k(x):
    y = {1: x}  # error: {1: x}
    return x
""", "float64", "dicts are not supported"),
    ("comprehension", """
def k(x):
    y = [i for i in range(3)]  # error: [i for
    return x
""", "float64", "list comprehensions are not supported"),
    ("lambda", """
def k(x):
    f = lambda y: y  # error: lambda
    return x
""", "float64", "lambda functions are not supported"),
    ("fstring", """
def k(x):
    raise ValueError(f"bad {x}")  # error: f"bad
""", "float64", "exception messages must be string literals"),
    ("string-value", """
def k(x):
    s = "text"  # error: "text"
    return x
""", "float64", "strings are not supported"),
    ("complex", """
def k(x):
    return x + 1j  # error: 1j
""", "float64", "complex values are not supported"),
    ("mask-index", """
def k(x):
    return x[x > 0.0][0]  # error: x > 0.0
""", "float64[:]", "indexing with an array"),
    ("walrus", """
def k(x):
    if (y := x) > 0:  # error: y := x
        return y
    return x
""", "float64", "assignment expressions are not supported"),
    ("undefined-name", """
def k(x):
    return x + missing_name  # error: missing_name
""", "float64", "name 'missing_name' is not defined"),
    ("module-attribute", """
def k(x):
    return math.no_such_function(x)  # error: math.no_such
""", "float64", "module 'math' has no attribute 'no_such_function'"),
    ("unsupported-global", """
def k(x):
    return x + NAMES['a']  # error: NAMES
""", "float64", "refers to a dict"),
    ("unsupported-global-string", """
def k(x):
    return WORD  # error: WORD
""", "float64", "refers to a str"),
    ("array-matmul", """
def k(x, y):
    return x @ y  # error: x @ y
""", "float64[:], float64[:]", "matrix products"),
    ("float-bitwise", """
def k(x):
    return x & 1  # error: x & 1
""", "float64", "unsupported operand types for &: float64"),
    ("matmul", """
def k(x):
    return x @ x  # error: x @ x
""", "float64", "the @ operator is not supported"),
    ("invert-float", """
def k(x):
    return ~x  # error: ~x
""", "float64", "bad operand type for unary ~"),
    ("array-truth", """
def k(x):
    if x:  # error: x:
        return 1.0
    return 0.0
""", "float64[:]", "the truth value of an array is ambiguous"),
    ("is-comparison", """
def k(x):
    return x is None  # error: x is None
""", "float64", "'is' and 'in' comparisons are not supported"),
    ("for-not-range", """
def k(x):
    s = 0.0
    for v in x:  # error: x:
        s += v
    return s
""", "float64", "for loops iterate over range(...) or an array, not float64"),
    ("range-float", """
def k(x):
    for i in range(x):  # error: x)
        pass
""", "float64", "range() arguments must be integers"),
    ("range-as-value", """
def k(x):
    r = range(3)  # error: range(3)
    return x
""", "float64", "range() can only be used as the iterable of a for loop"),
    ("incompatible-returns", """
def k(x):
    if x > 0:
        return 1.0
    return (1.0, 2.0)
""", "float64", "returns values of incompatible types"),
    ("falls-off-end", """
def k(x):
    if x > 0:
        return 1.0
""", "float64", "can reach its end, where Python returns None"),
    ("return-dtype", """
def k(x):
    return x.dtype
""", "float64[:]", "returns a dtype, which Python code cannot receive"),
    ("bare-raise", """
def k(x):
    raise  # error: raise
""", "float64", "bare 'raise' is not supported"),
    ("raise-non-exception", """
def k(x):
    raise helper(x)  # error: helper(x)
""", "float64", "raise needs an exception class"),
    ("assert-message", """
def k(x):
    assert x > 0, x  # error: x
""", "float64", "assert messages must be string literals"),
    ("assign-attribute", """
def k(x):
    x.shape = 3  # error: x.shape
""", "float64[:]", "can only assign to names"),
    ("unpack-count", """
def k(x):
    a, b = x.shape  # error: x.shape
    return a
""", "float64[:]", "cannot unpack 1 values into 2 names"),
    ("store-tuple-in-row", """
def k(x):
    x[0] = (1.0, 2.0)  # error: (1.0, 2.0)
""", "float64[:, :]", "cannot store a (float64, float64) in an array of float64"),
    ("incompatible-variable", """
def k(x, a):
    y = x
    y = a  # error: a
    return 0.0
""", "float64, float64[:]", "variable 'y' is assigned values of incompatible types"),
    ("write-global-array", """
def k(i):
    TABLE[i] = 1.0  # error: TABLE
""", "int64", "is a global array frozen into the compiled code and cannot be written"),
    ("module-as-value", """
def k(x):
    return math  # error: math
""", "float64", "module math, not a value"),
    ("array-attribute", """
def k(x):
    return x.flags  # error: x.flags
""", "float64[:]", "arrays have no attribute 'flags'"),
    ("tuple-variable-index", """
def k(x, i):
    t = (x, i)
    return t[i]  # error: i]
""", "float64, int64", "tuples of mixed types can only be indexed with integer literals"),
    ("tuple-index-range", """
def k(x):
    t = (x, x)
    return t[2]  # error: 2]
""", "float64", "tuple index out of range"),
    ("float-index", """
def k(x, f):
    return x[f]  # error: f]
""", "float64[:], float64", "array indices must be integers"),
    ("too-many-indices", """
def k(x):
    return x[0, 0]  # error: 0, 0
""", "float64[:]", "too many indices"),
    ("index-scalar", """
def k(x):
    return x[0]  # error: x[0]
""", "float64", "cannot be indexed"),
    ("call-local", """
def k(x):
    f = x
    return f(1)  # error: f(1)
""", "float64", "only functions can be called"),
    ("call-exception", """
def k(x):
    e = ValueError("x")  # error: ValueError
    return x
""", "float64", "exceptions can only be raised"),
    ("call-keywords-builtin", """
def k(x):
    return abs(x=x)  # error: abs
""", "float64", "takes no keyword arguments"),
    ("math-arity", """
def k(x):
    return math.sqrt(x, x)  # error: math.sqrt
""", "float64", "sqrt() takes 1 arguments, got 2"),
    ("math-on-array", """
def k(x):
    return math.sqrt(x)  # error: math.sqrt(x)
""", "float64[:]", "sqrt() takes scalars, not arrays"),
    ("helper-too-many", """
def k(x):
    return helper(x, x, x)  # error: helper
""", "float64", "helper() takes 2 positional arguments but 3 were given"),
    ("helper-bad-keyword", """
def k(x):
    return helper(x, c=1)  # error: helper
""", "float64", "unexpected keyword argument 'c'"),
    ("helper-missing", """
def k(x):
    return helper(b=x)  # error: helper
""", "float64", "missing required argument 'a'"),
    ("no-base-case", """
def k(x):
    return k(x) + 1  # error: k(x)
""", "int64", "cannot infer a type here"),
    ("star-args", """
def k(*xs):  # error: def k
    return 0
""", "float64", "only plain positional parameters are supported"),
    ("unknown-annotation", """
def k(x):
    y: list = x  # error: list
    return y
""", "float64", "unknown type in annotation"),
    ("store-array-in-element", """
def k(x, y):
    x[0] = y  # error: y
""", "float64[:], float64[:]", "cannot store a float64[:] in an array of float64"),
    ("literal-too-big", """
def k(x):
    return x + 100000000000000000000000  # error: 100000000000000000000000
""", "int64", "integer literal 100000000000000000000000 does not fit in int64"),
    ("literal-out-of-range", """
def k(a):
    return a[0] + 300  # error: a[0] + 300
""", "uint8[:]", "integer literal 300 is out of range for uint8"),
    ("store-literal-out-of-range", """
def k(a):
    a[0] = -1  # error: -1
""", "uint16[:]", "integer literal -1 is out of range for uint16"),
    ("none-variable", """
def k(x):
    y = None  # error: None
    return x
""", "float64", "None cannot be assigned to a variable"),
]

_counter = itertools.count()


def load_kernel(tmp_path, source):
    name = f"bad_kernel_{next(_counter)}"
    path = tmp_path / f"{name}.py"
    path.write_text(HEADER + textwrap.dedent(source))
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.k, path


@pytest.mark.parametrize("source, signature, message",
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_compile_error_points_at_the_problem(tmp_path, source, signature, message):
    check_error(tmp_path, source, signature, message)


def check_error(tmp_path, source, signature, message):
    """Compiling the kernel in ``source`` raises a CompileError with ``message``, pointing
    at the text after ``# error: `` on its marked line (if one is)."""
    kernel, path = load_kernel(tmp_path, source)
    with pytest.raises(fl.CompileError) as info:
        fl.jit(kernel).compile(signature)
    err = info.value
    assert message in err.message, err.message
    assert err.filename == str(path)
    lines = path.read_text().splitlines()
    marked = [i for i, line in enumerate(lines, 1) if "# error: " in line]
    text = str(err)
    assert text.startswith(f"{path}:{err.lineno}:{err.col + 1}: ")
    assert "^" in text.splitlines()[-1]
    if marked:
        lineno = marked[0]
        expected = lines[lineno - 1].split("# error: ")[1]
        assert err.lineno == lineno, text
        assert lines[lineno - 1][err.col:].startswith(expected), text
    else:
        assert 1 <= err.lineno <= len(lines)


def test_lambda_kernels_are_refused():
    with pytest.raises(fl.CompileError, match="lambda functions are not supported"):
        fl.jit(lambda x: x).compile("float64")


def test_functions_without_source_are_refused():
    namespace = {}
    exec("def k(x):\n    return x\n", namespace)
    with pytest.raises(fl.CompileError, match="cannot read the source of k"):
        fl.jit(namespace["k"]).compile("float64")


def test_signature_arity_mismatch_is_a_type_error():
    def two(a, b):
        return a + b

    with pytest.raises(TypeError, match="takes 2 parameters but the signature"):
        fl.jit(two).compile("float64")


def test_compile_error_in_a_callee_points_into_the_callee(tmp_path):
    kernel, path = load_kernel(tmp_path, """
def bad(x):
    return x @ x  # error: x @ x
def k(x):
    return bad(x)
""")
    with pytest.raises(fl.CompileError) as info:
        fl.jit(kernel)(np.float64(1.0))
    assert info.value.lineno == path.read_text().splitlines().index(
        "    return x @ x  # error: x @ x") + 1
