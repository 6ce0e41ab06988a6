"""The match record: which bank entry a file matched, how, and how closely."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

MATCH_METHODS: tuple[str, ...] = (
    "sha256",
    "autov3",
    "autov2",
    "autov1",
    "blake3",
    "crc32",
    "fingerprint",
)


@dataclass(frozen=True, slots=True)
class Match:
    """A hit of one artifact against one bank entry.

    ``similarity`` is 1.0 for exact hash methods; for ``fingerprint`` it is the
    documented weight similarity in [0, 1] (see docs/records.md).
    ``entry`` carries the entry's public fields: id, name, source_url, reason,
    subject and whichever hashes it holds.
    """

    bank: str
    entry: Mapping[str, Any]
    method: str
    similarity: float = 1.0
    negative: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "bank": self.bank,
            "entry": dict(self.entry),
            "method": self.method,
            "similarity": round(self.similarity, 4),
        }
        if self.negative:
            out["negative"] = True
        return out
