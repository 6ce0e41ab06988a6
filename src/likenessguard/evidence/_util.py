"""Small bounded helpers shared by the extractors (text clipping, HTML stripping, type guards)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

# A single evidence text longer than this is clipped: detectors gain nothing from
# megabytes of description, and a hostile listing must not cost more than a normal one.
MAX_TEXT = 4000
# At most this many items per extractor and per field family.
MAX_ITEMS = 300


def clip(text: str, limit: int = MAX_TEXT) -> str:
    return text if len(text) <= limit else text[:limit]


def as_text(value: Any) -> str | None:
    """A non-empty stripped string, or None for anything else (numbers become text)."""
    if isinstance(value, str):
        value = value.strip()
        return clip(value) if value else None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def texts(value: Any, limit: int = MAX_ITEMS) -> Iterator[str]:
    """Strings from a string, or from a list of strings / ``{"name": ...}`` objects."""
    if isinstance(value, str):
        t = as_text(value)
        if t:
            yield t
        return
    if not isinstance(value, list | tuple):
        return
    for n, item in enumerate(value):
        if n >= limit:
            return
        t = as_text(item.get("name") if isinstance(item, dict) else item)
        if t:
            yield t


def dicts(value: Any, limit: int = MAX_ITEMS) -> Iterable[dict[str, Any]]:
    if not isinstance(value, list | tuple):
        return []
    return [v for v in value[:limit] if isinstance(v, dict)]


def strip_html(text: str) -> str:
    """Drop tags and decode the few entities descriptions use; one linear pass."""
    out: list[str] = []
    in_tag = False
    for ch in text:
        if ch == "<":
            in_tag = True
            out.append(" ")
        elif ch == ">" and in_tag:
            in_tag = False
        elif not in_tag:
            out.append(ch)
    s = "".join(out)
    for a, b in (
        ("&nbsp;", " "),
        ("&amp;", "&"),
        ("&lt;", "<"),
        ("&gt;", ">"),
        ("&quot;", '"'),
        ("&#39;", "'"),
    ):
        s = s.replace(a, b)
    return " ".join(s.split())
