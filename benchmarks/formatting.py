"""Formatting measurements for the Markdown report: times, ratios, cells, tables."""

from __future__ import annotations

from collections.abc import Iterable

from .harness import Outcome


def fmt_time(seconds: float) -> str:
    """Format a duration with a sensible unit."""
    if seconds < 1e-6:
        return f"{seconds * 1e9:.1f} ns"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.2f} µs"
    if seconds < 1.0:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.3f} s"


def fmt_ratio(value: float | None) -> str:
    """Format a ratio as ``1.23×`` (``—`` if missing)."""
    return "—" if value is None else f"{value:.2f}×"


def fmt_small_ratio(value: float | None) -> str:
    """Like ``fmt_ratio``, with two significant digits below 0.1 (``0.0012×``)."""
    if value is None or value >= 0.1:
        return fmt_ratio(value)
    return f"{value:.2g}×"


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def cell(out: Outcome | None, limit: int = 70) -> str:
    """Markdown cell text for an outcome."""
    if out is None:
        return "—"
    if out.error is not None:
        msg = out.error if len(out.error) <= limit else out.error[: limit - 3] + "..."
        return f"**ERROR: {_escape(msg)}**"
    if out.seconds is None:
        return _escape(out.note or "—")
    return fmt_time(out.seconds)


def ratio(a: Outcome | None, b: Outcome | None) -> float | None:
    """a.seconds / b.seconds if both were measured."""
    if a is None or b is None or not a.ok or not b.ok:
        return None
    assert a.seconds is not None and b.seconds is not None
    return a.seconds / b.seconds


def table(header: list[str], rows: Iterable[list[str]]) -> list[str]:
    """Markdown table lines."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return lines
