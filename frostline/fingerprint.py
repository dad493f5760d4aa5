"""Content fingerprints: stable hex digests of stage contents.

A fingerprint never includes object ids, file times or source positions, so the
same content gives the same key in every process (DESIGN.md, "Fingerprints").
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable


def digest(*parts: str | bytes) -> str:
    """A SHA-256 hex digest of the given parts, each length-prefixed so parts cannot blur."""
    h = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)
    return h.hexdigest()


def digest_all(parts: Iterable[str | bytes]) -> str:
    """``digest`` over an iterable of parts."""
    return digest(*parts)
