"""The bytes of a disk cache entry: data only, checked field by field when read back.

Format 2 (the directory ``<cache>/2``)::

    magic b"FLCACHE\\x02" (8 bytes) | header length (u32) | payload length (u64)
    | header: a JSON object, ASCII
    | payload: three sections, each a u64 length and that many raw bytes:
      the object code, the shared library, the assembly text (UTF-8)
    | SHA-256 of everything before it (32 bytes)

The header holds the key, the time of writing, the frostline version, the
target (triple, CPU name, features) and the entry ABI, with every type written
as signature text (``float64[:, ::1]``, ``(int64, bool)``) and parsed back with
``types.as_type``.  All integers are little-endian.

Nothing in an entry is unpickled or evaluated: reading one parses JSON and
slices bytes, and every field is checked for its type and shape, so a damaged
or hostile entry can at worst fail to decode (``CorruptEntry``).  The native
code an entry carries is another matter: loading it runs it, which is why the
cache directory itself must be trusted (see ``cachedir``).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import struct
import time
from collections.abc import Callable
from typing import Any, TypeVar

import attrs

from frostline import __version__
from frostline.stages.executable import EntryABI, ObjectCode, RaisedError
from frostline.types import Type, as_type

MAGIC = b"FLCACHE\x02"
#: The sub-directory of the cache that holds entries of this format.
FORMAT = "2"
#: The largest entry read or written; anything larger is refused unread.
MAX_ENTRY_SIZE = 64 << 20
_MAX_HEADER = 1 << 20
_MAX_TEXT = 1 << 16
_PREFIX = struct.Struct("<8sIQ")
_SECTION = struct.Struct("<Q")
_CHECKSUM_SIZE = 32
_SECTIONS = ("object code", "shared library", "assembly")

_SYMBOL = re.compile(r"[A-Za-z_][A-Za-z0-9_.$]{0,255}\Z")
_TARGET_NAME = re.compile(r"[A-Za-z0-9_.+-]{1,128}\Z")
_FEATURES = re.compile(r"([+-][A-Za-z0-9_.-]+(,[+-][A-Za-z0-9_.-]+)*)?\Z")

T = TypeVar("T")


class CorruptEntry(Exception):
    """An entry whose bytes do not check out; the message says how."""


@attrs.frozen
class StoredEntry:
    """A decoded entry: its key, when it was written, and its object code."""

    key: str
    created: float
    code: ObjectCode


def encode_entry(key: str, code: ObjectCode, created: float | None = None) -> bytes:
    """The bytes of an entry holding ``code`` under ``key``.

    ``ValueError`` if some field of ``code`` has no data form that reads back
    equal (a type without signature text, a symbol of odd characters): such
    code is not written rather than written wrong.
    """
    header = {
        "format": int(FORMAT),
        "key": key,
        "created": time.time() if created is None else created,
        "frostline": __version__,
        "target": {"triple": code.target_triple, "cpu": code.target_cpu,
                   "features": code.target_features},
        "abi": _abi_to_json(code.abi),
    }
    try:
        _check_header(header, key)
        back = _abi_from_json(header["abi"])
    except CorruptEntry as exc:
        raise ValueError(f"{code.abi.signature} cannot be stored: {exc}") from None
    if back != code.abi:
        raise ValueError(f"{code.abi.signature} cannot be stored: its ABI does not read back "
                         "equal")
    header_bytes = json.dumps(header, allow_nan=False, sort_keys=True).encode("ascii")
    payload = b"".join(_SECTION.pack(len(s)) + s for s in (
        code.data, code.shared_library, code.assembly.encode("utf-8")))
    body = _PREFIX.pack(MAGIC, len(header_bytes), len(payload)) + header_bytes + payload
    return body + hashlib.sha256(body).digest()


def decode_entry(key: str, data: bytes) -> ObjectCode:
    """The object code stored in an entry for ``key``; ``CorruptEntry`` if it is not one."""
    entry = read_entry(data)
    if entry.key != key:
        raise CorruptEntry("entry stored under another key")
    return entry.code


def read_entry(data: bytes) -> StoredEntry:
    """Check an entry's framing, checksum and every header field; ``CorruptEntry`` if any
    fails."""
    header, sections = _split(data)
    key = header.get("key")
    if not isinstance(key, str):
        raise CorruptEntry("header: key is not text")
    _check_header(header, key)
    target = header["target"]
    try:
        assembly = sections[2].decode("utf-8")
    except UnicodeDecodeError:
        raise CorruptEntry("assembly is not UTF-8 text") from None
    code = ObjectCode(data=sections[0], abi=_abi_from_json(header["abi"]),
                      target_triple=target["triple"], target_cpu=target["cpu"],
                      target_features=target["features"], assembly=assembly,
                      shared_library=sections[1])
    return StoredEntry(key, float(header["created"]), code)


def has_magic(prefix: bytes) -> bool:
    """Whether bytes start as an entry of this format does (eviction checks it)."""
    return prefix[:len(MAGIC)] == MAGIC


def _split(data: bytes) -> tuple[dict[str, Any], list[bytes]]:
    """Header and sections of an entry, after checking magic, lengths and checksum."""
    if len(data) > MAX_ENTRY_SIZE:
        raise CorruptEntry(f"larger than {MAX_ENTRY_SIZE} bytes")
    if len(data) < _PREFIX.size + _CHECKSUM_SIZE:
        raise CorruptEntry(f"truncated ({len(data)} bytes)")
    magic, header_len, payload_len = _PREFIX.unpack_from(data)
    if magic != MAGIC:
        raise CorruptEntry("not a frostline cache entry of this format (bad magic)")
    if len(data) != _PREFIX.size + header_len + payload_len + _CHECKSUM_SIZE:
        raise CorruptEntry(f"truncated or padded ({len(data)} bytes)")
    if header_len > _MAX_HEADER:
        raise CorruptEntry(f"header of {header_len} bytes")
    body, checksum = data[:-_CHECKSUM_SIZE], data[-_CHECKSUM_SIZE:]
    if hashlib.sha256(body).digest() != checksum:
        raise CorruptEntry("checksum mismatch")
    start = _PREFIX.size
    try:
        header = json.loads(data[start:start + header_len].decode("ascii"),
                            object_pairs_hook=_unique_keys)
    except (ValueError, RecursionError) as exc:
        raise CorruptEntry(f"unreadable header ({exc})") from None
    if not isinstance(header, dict):
        raise CorruptEntry("unreadable header (not an object)")
    return header, _sections(data[start + header_len:start + header_len + payload_len])


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found = dict(pairs)
    if len(found) != len(pairs):
        raise ValueError("a field appears twice")
    return found


def _sections(payload: bytes) -> list[bytes]:
    sections, at = [], 0
    for name in _SECTIONS:
        if at + _SECTION.size > len(payload):
            raise CorruptEntry(f"payload ends before the {name}")
        (size,) = _SECTION.unpack_from(payload, at)
        at += _SECTION.size
        if size > len(payload) - at:
            raise CorruptEntry(f"the {name} runs past the payload")
        sections.append(payload[at:at + size])
        at += size
    if at != len(payload):
        raise CorruptEntry("bytes after the last section")
    return sections


# -- header fields ---------------------------------------------------------------------------

def _check_header(header: dict[str, Any], key: str) -> None:
    _fields(header, ("format", "key", "created", "frostline", "target", "abi"), "header")
    if type(header["format"]) is not int or header["format"] != int(FORMAT):
        raise CorruptEntry(f"header: format is {header['format']!r}, not {FORMAT}")
    if not re.fullmatch(r"[0-9a-f]{64}", key):
        raise CorruptEntry("header: key is not 64 hexadecimal digits")
    created = header["created"]
    if type(created) not in (int, float) or not math.isfinite(created):
        raise CorruptEntry("header: created is not a time")
    _text(header["frostline"], "frostline version")
    target = _fields(header["target"], ("triple", "cpu", "features"), "target")
    _text(target["triple"], "target triple", _TARGET_NAME)
    _text(target["cpu"], "target cpu", _TARGET_NAME)
    _text(target["features"], "target features", _FEATURES, limit=_MAX_TEXT)


def _abi_to_json(abi: EntryABI) -> dict[str, Any]:
    return {
        "function_name": abi.function_name,
        "symbol": abi.symbol,
        "param_names": list(abi.param_names),
        "arg_types": [str(t) for t in abi.arg_types],
        "return_type": str(abi.return_type),
        "written_params": list(abi.written_params),
        "errors": [{"module": e.module, "qualname": e.qualname, "message": e.message,
                    "detail": e.detail} for e in abi.errors],
        "guarded": abi.guarded,
        "qualified_name": abi.qualified_name,
    }


def _abi_from_json(value: object) -> EntryABI:
    abi = _fields(value, ("function_name", "symbol", "param_names", "arg_types", "return_type",
                          "written_params", "errors", "guarded", "qualified_name"), "abi")
    params = _items(abi["param_names"], "parameter name", _identifier)
    arg_types = _items(abi["arg_types"], "argument type", _type)
    if len(arg_types) != len(params):
        raise CorruptEntry("abi: as many argument types as parameters are needed")
    written = _items(abi["written_params"], "written parameter", _identifier)
    if not set(written) <= set(params):
        raise CorruptEntry("abi: a written parameter that is not a parameter")
    if type(abi["guarded"]) is not bool:
        raise CorruptEntry("abi: guarded is not true or false")
    return EntryABI(
        function_name=_text(abi["function_name"], "function name", nonempty=True),
        symbol=_text(abi["symbol"], "symbol", _SYMBOL),
        param_names=params, arg_types=arg_types, return_type=_type(abi["return_type"]),
        written_params=written, errors=_items(abi["errors"], "raised error", _raised_error),
        guarded=abi["guarded"], qualified_name=_text(abi["qualified_name"], "qualified name"))


def _raised_error(value: object) -> RaisedError:
    error = _fields(value, ("module", "qualname", "message", "detail"), "raised error")
    module = _text(error["module"], "error module", nonempty=True)
    qualname = _text(error["qualname"], "error class", nonempty=True)
    if not all(part.isidentifier() for part in module.split(".")):
        raise CorruptEntry(f"error module {module!r} is not a module name")
    if not all(part.isidentifier() or part == "<locals>" for part in qualname.split(".")):
        raise CorruptEntry(f"error class {qualname!r} is not a class name")
    detail = error["detail"]
    if detail not in ("", "shapes"):
        raise CorruptEntry(f"error detail {detail!r} is not known")
    return RaisedError(module, qualname, _text(error["message"], "error message"),
                       detail)  # type: ignore[arg-type]


def _type(value: object) -> Type:
    text = _text(value, "type", limit=4096, nonempty=True)
    try:
        parsed = as_type(text)
    except (ValueError, TypeError, RecursionError):
        raise CorruptEntry(f"{text!r} is not a type") from None
    if str(parsed) != text:
        raise CorruptEntry(f"type {text!r} is not written as frostline writes it")
    return parsed


def _identifier(value: object) -> str:
    name = _text(value, "parameter name", nonempty=True)
    if not name.isidentifier():
        raise CorruptEntry(f"{name!r} is not an identifier")
    return name


def _fields(value: object, names: tuple[str, ...], what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise CorruptEntry(f"{what} is not an object")
    if set(value) != set(names):
        odd = sorted(set(value) ^ set(names))
        raise CorruptEntry(f"{what}: missing or unexpected fields {odd}")
    return value


def _items(value: object, what: str, item: Callable[[object], T]) -> tuple[T, ...]:
    if not isinstance(value, list) or len(value) > 4096:
        raise CorruptEntry(f"{what}s are not a list")
    return tuple(item(v) for v in value)


def _text(value: object, what: str, pattern: re.Pattern[str] | None = None, *,
          limit: int = _MAX_TEXT, nonempty: bool = False) -> str:
    if not isinstance(value, str):
        raise CorruptEntry(f"{what} is not text")
    if len(value) > limit or "\0" in value or (nonempty and not value):
        raise CorruptEntry(f"{what} is empty, too long or holds a NUL")
    if pattern is not None and not pattern.match(value):
        raise CorruptEntry(f"{what} {value[:80]!r} is not of the expected form")
    return value
