"""The data-only entry format: every ObjectCode reads back equal, and no entry, however
crafted, does more than fail to decode (nothing in it is unpickled or evaluated)."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import struct
import sys
from pathlib import Path

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import frostline as fl
from frostline import types as t
from frostline.backends.llvm.sharedlib import with_library
from frostline.stages.executable import EntryABI, ObjectCode, RaisedError
from frostline.toolchain import entry_codec
from frostline.toolchain.cache import DiskCache
from frostline.toolchain.entry_codec import CorruptEntry, decode_entry, encode_entry

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/corpus as ``corpus``

KEY = "ab" * 32


def corpus_object_code() -> list[ObjectCode]:
    """The object code of every kernel of the differential corpus, for each distinct
    signature its cases call it with (as the disk cache stores it: with its library)."""
    from corpus.kernels import CASES

    seen, codes = set(), []
    for case in CASES:
        try:
            types = tuple(fl.typeof(a) for a in case.args_factory())
        except TypeError:
            continue  # arguments frostline has no type for: never compiled
        key = (case.fn, tuple(sorted(case.options.items())), types)
        if key in seen:
            continue
        seen.add(key)
        try:
            exe = fl.jit(case.fn, cache=False, **case.options).compile(*types)
        except (fl.CompileError, TypeError):
            continue  # cases that check a compile error
        codes.append(with_library(exe.object_code))
    return codes


def test_every_object_code_of_the_corpus_reads_back_exactly():
    codes = corpus_object_code()
    assert len(codes) > 200, "the corpus compiled far fewer kernels than it holds"
    kinds = {type(c.abi.return_type) for c in codes}
    assert {t.TupleType, t.NoneType, t.ScalarType} <= kinds
    assert any(c.abi.errors for c in codes) and any(c.abi.written_params for c in codes)
    for code in codes:
        back = decode_entry(KEY, encode_entry(KEY, code))
        assert back == code, code.abi.signature
        assert back.fingerprint == code.fingerprint, code.abi.signature


def scalar_types() -> st.SearchStrategy[t.Type]:
    return st.sampled_from(sorted(t.SCALARS.values(), key=str))


def value_types() -> st.SearchStrategy[t.Type]:
    arrays = st.builds(t.ArrayType, scalar_types(), st.integers(1, 4),
                       st.sampled_from("CFA")).map(
        lambda a: a.with_layout("C") if a.ndim == 1 and a.layout == "F" else a)
    return st.recursive(scalar_types() | arrays | st.just(t.none),
                        lambda inner: st.lists(inner, max_size=4).map(
                            lambda items: t.TupleType(tuple(items))), max_leaves=8)


names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,12}", fullmatch=True)
texts = st.text(st.characters(blacklist_characters="\0", blacklist_categories=("Cs",)),
                max_size=40)


@st.composite
def object_code(draw: st.DrawFn) -> ObjectCode:
    params = draw(st.lists(names, max_size=5, unique=True))
    errors = draw(st.lists(st.builds(
        RaisedError, st.sampled_from(["builtins", "kern", "pkg.sub_mod"]),
        st.sampled_from(["ValueError", "KernelError", "outer.<locals>.LocalError"]), texts),
        max_size=3))
    abi = EntryABI(
        function_name=draw(names | st.just("<lambda>")),
        symbol=f"frostline.entry.{draw(st.from_regex('[0-9a-f]{16}', fullmatch=True))}",
        param_names=tuple(params),
        arg_types=tuple(draw(value_types()) for _ in params),
        return_type=draw(value_types()),
        written_params=tuple(sorted(draw(st.sets(st.sampled_from(params))) if params else ())),
        errors=tuple(errors), guarded=draw(st.booleans()),
        qualified_name=draw(st.just("") | texts.map(lambda q: f"kern:{q}")))
    return ObjectCode(data=draw(st.binary(max_size=64)), abi=abi,
                      target_triple="x86_64-unknown-linux-gnu",
                      target_cpu=draw(st.sampled_from(["znver4", "skylake-avx512", "generic"])),
                      target_features=draw(st.sampled_from(["", "+avx2,-avx512f", "+avx10.1"])),
                      assembly=draw(texts), shared_library=draw(st.binary(max_size=64)))


@settings(max_examples=100, deadline=None)
@given(object_code())
def test_generated_object_code_reads_back_exactly(code):
    back = decode_entry(KEY, encode_entry(KEY, code))
    assert back == code
    assert back.fingerprint == code.fingerprint


#: Code with a field that has no data form reading back equal, by what is odd about it.
UNENCODABLE = {
    "a weak literal type": lambda c: attrs.evolve(
        c, abi=attrs.evolve(c.abi, return_type=t.weak_int)),
    "a symbol with a NUL": lambda c: attrs.evolve(c, abi=attrs.evolve(c.abi, symbol="f\0g")),
    "a parameter that is not an identifier": lambda c: attrs.evolve(
        c, abi=attrs.evolve(c.abi, param_names=("not a name", "n"))),
    "a target triple with a slash": lambda c: attrs.evolve(c, target_triple="../x"),
}


@pytest.fixture(scope="module")
def code() -> ObjectCode:
    def kernel(a, n):
        if n < 0:
            raise ValueError("negative")
        a[0] = n
        return (a[0], n)

    return with_library(fl.jit(kernel, cache=False).compile("float64[::1], int64").object_code)


@pytest.mark.parametrize("what", UNENCODABLE)
def test_code_without_a_faithful_data_form_is_not_written(tmp_path, code, what):
    odd = UNENCODABLE[what](code)
    with pytest.raises(ValueError, match="cannot be stored"):
        encode_entry(KEY, odd)
    cache = DiskCache(tmp_path / "c")
    with pytest.warns(fl.CacheWarning, match="cached in memory only"):
        cache.put(KEY, odd)
    assert len(cache) == 0


class Payload:
    """A pickle that, if ever unpickled, creates the file ``marker``."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def framed(header: bytes, payload: bytes, magic: bytes = entry_codec.MAGIC) -> bytes:
    """An entry with the right framing and checksum around any header and payload."""
    body = struct.pack("<8sIQ", magic, len(header), len(payload)) + header + payload
    return body + hashlib.sha256(body).digest()


def header_of(data: bytes) -> dict:
    header_len = struct.unpack_from("<I", data, 8)[0]
    return json.loads(data[20:20 + header_len])


def test_a_well_framed_entry_holding_a_pickle_is_damaged_and_never_unpickled(tmp_path, code):
    marker = tmp_path / "the-pickle-ran"
    header = json.dumps(header_of(encode_entry(KEY, code))).encode()
    hostile = {
        "this format's magic": framed(header, pickle.dumps(Payload(marker))),
        "the old format's": framed(json.dumps({"key": KEY}).encode(),
                                   pickle.dumps(Payload(marker)), magic=b"FLCACHE\x01"),
    }
    for what, data in hostile.items():
        with pytest.raises(CorruptEntry):
            decode_entry(KEY, data)
        assert not marker.exists(), what


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | texts,
                    lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(texts, inner, max_size=3), max_leaves=6)


def paths(value: object, prefix: tuple = ()) -> list[tuple]:
    """Every place in a JSON value (key paths)."""
    found = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            found += paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found += paths(v, (*prefix, i))
    return found


def replaced(value: object, path: tuple, new: object) -> object:
    if not path:
        return new
    copy = dict(value) if isinstance(value, dict) else list(value)  # type: ignore[arg-type]
    copy[path[0]] = replaced(copy[path[0]], path[1:], new)  # type: ignore[index]
    return copy


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_crafted_header_with_a_valid_checksum_at_worst_fails_to_decode(code, data):
    entry = encode_entry(KEY, code)
    header = header_of(entry)
    payload = entry[20 + struct.unpack_from("<I", entry, 8)[0]:-32]
    where = data.draw(st.sampled_from(paths(header)))
    forged = replaced(header, where, data.draw(JSON))
    if data.draw(st.booleans()):
        payload = data.draw(st.binary(max_size=64))
    try:
        decoded = decode_entry(KEY, framed(json.dumps(forged).encode(), payload))
    except CorruptEntry:
        return
    assert isinstance(decoded, ObjectCode)  # an edit that kept every field valid


def test_an_entry_above_the_size_cap_is_refused_unread(tmp_path, code):
    cache = DiskCache(tmp_path / "c")
    cache.put(KEY, code)
    with open(cache.path(KEY), "r+b") as f:
        f.truncate(entry_codec.MAX_ENTRY_SIZE + 1)  # sparse: nothing is written
    with pytest.warns(fl.CacheWarning, match="larger than"):
        assert cache.get(KEY) is None
    with pytest.raises(CorruptEntry, match="larger than"):
        decode_entry(KEY, bytes(entry_codec.MAX_ENTRY_SIZE + 1))
