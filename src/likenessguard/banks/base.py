"""The bank seam: entries, banks, the :class:`SignalIndex` ABC and the match record.

A bank is what a trust-and-safety team shares: a named list of banned (or,
for a negative bank, known-good) models, each identified by any hashes a hub
reported and/or a weight fingerprint. Indexes answer "which entries does this
file match?"; the :class:`Match` says which, how and how closely.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

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


# -- bank entries and banks -----------------------------------------------------------

#: Hash name -> accepted hex lengths. AutoV3 is shown by Civitai as its first 12 hex
#: digits and stored by us in full; AutoV2 is the first 10 hex of the SHA256.
HASH_LENGTHS: Mapping[str, tuple[int, ...]] = {
    "sha256": (64,),
    "autov1": (8,),
    "autov2": (10,),
    "autov3": (12, 64),
    "blake3": (64,),
    "crc32": (8,),
}
#: Strongest first: the method reported when an entry matches by several hashes.
HASH_STRENGTH: tuple[str, ...] = ("sha256", "blake3", "autov3", "autov2", "autov1", "crc32")
_HEX = frozenset("0123456789abcdef")


def normalize_hash(name: str, value: str) -> str:
    """Lowercase, trimmed hex of a bank hash; ``ValueError`` saying what is wrong.

    >>> normalize_hash("autov2", " A5E5A941A3 ")
    'a5e5a941a3'
    """
    if name not in HASH_LENGTHS:
        raise ValueError(f"unknown hash {name!r}: use one of {', '.join(HASH_LENGTHS)}")
    text = value.strip().lower().removeprefix("0x")
    lengths = HASH_LENGTHS[name]
    if len(text) not in lengths or not set(text) <= _HEX:
        want = " or ".join(str(n) for n in lengths)
        raise ValueError(f"{name} must be {want} hex digits, got {value.strip()[:80]!r}")
    return text


@dataclass(frozen=True, slots=True)
class BankEntry:
    """One banned (or allowed) model: any of its hashes and/or its weight fingerprint.

    Hash fields are normalised lowercase hex (see :func:`normalize_hash`);
    ``fingerprint`` is the text form of a :class:`~likenessguard.hashing.fingerprint.Fingerprint`.
    ``id`` is assigned by the catalog (None before it is stored).
    """

    name: str | None = None
    sha256: str | None = None
    autov1: str | None = None
    autov2: str | None = None
    autov3: str | None = None
    blake3: str | None = None
    crc32: str | None = None
    fingerprint: str | None = None
    source_url: str | None = None
    reason: str | None = None
    subject: str | None = None
    added_by: str | None = None
    added_at: datetime | None = None
    disabled: bool = False
    id: int | None = None

    def hashes(self) -> dict[str, str]:
        """The hashes this entry holds, by name."""
        return {n: v for n in HASH_STRENGTH if (v := getattr(self, n)) is not None}

    def has_signal(self) -> bool:
        return bool(self.hashes()) or self.fingerprint is not None

    def identity_keys(self) -> set[str]:
        """Keys that make two entries the same model (for merging duplicates).

        Only collision-free signals count: sha256, blake3, a full autov3 and the
        fingerprint text. Short hashes (autov1/autov2/crc32, 12-hex autov3) never
        merge entries on their own.
        """
        keys = {f"sha256:{self.sha256}"} if self.sha256 else set()
        if self.blake3:
            keys.add(f"blake3:{self.blake3}")
        if self.autov3 and len(self.autov3) == 64:
            keys.add(f"autov3:{self.autov3}")
        if self.fingerprint:
            keys.add(f"fp:{self.fingerprint}")
        return keys

    def merged(self, other: BankEntry) -> BankEntry:
        """This entry with ``other``'s fields filled in where this one has none."""
        values = {
            f: getattr(self, f) if getattr(self, f) not in (None, "") else getattr(other, f)
            for f in ENTRY_FIELDS
            if f not in ("id", "disabled")
        }
        # A longer autov3 (full) beats its 12-hex prefix.
        if self.autov3 and other.autov3 and len(other.autov3) > len(self.autov3):
            values["autov3"] = other.autov3
        return BankEntry(
            **values, disabled=self.disabled and other.disabled, id=self.id or other.id
        )

    def public(self) -> dict[str, Any]:
        """The entry as shown in a match record: id, name, source_url, reason, subject, hashes."""
        out: dict[str, Any] = {"id": self.id, "name": self.name, "source_url": self.source_url}
        if self.reason:
            out["reason"] = self.reason
        if self.subject:
            out["subject"] = self.subject
        out.update(self.hashes())
        return out

    def to_json(self) -> dict[str, Any]:
        """Every field, for bank exports (``added_at`` as ISO 8601)."""
        out: dict[str, Any] = {}
        for f in ENTRY_FIELDS:
            value = getattr(self, f)
            if f == "added_at" and value is not None:
                value = value.isoformat()
            if f == "disabled" and not value:
                continue
            if value is not None and f != "id":
                out[f] = value
        return out


ENTRY_FIELDS: tuple[str, ...] = (
    "name",
    "sha256",
    "autov1",
    "autov2",
    "autov3",
    "blake3",
    "crc32",
    "fingerprint",
    "source_url",
    "reason",
    "subject",
    "added_by",
    "added_at",
    "disabled",
    "id",
)


@dataclass(frozen=True, slots=True)
class Bank:
    """A named list of entries. A ``negative`` (allow) bank suppresses matches of its entries."""

    name: str
    negative: bool = False
    description: str = ""
    entries: tuple[BankEntry, ...] = ()


# -- the index seam --------------------------------------------------------------------

T = TypeVar("T")


class SignalIndex(ABC, Generic[T]):
    """An index from signals (a hash, a fingerprint) to entry ids.

    Every implementation has a brute-force twin (``banks.brute``) that tests
    compare it against, as python-threatexchange requires of each signal type.
    """

    @abstractmethod
    def add(self, signal: T, entry_id: int) -> None:
        """Index ``signal`` for ``entry_id``. Must accept duplicates of either."""

    @abstractmethod
    def query(self, signal: T) -> list[tuple[int, float]]:
        """Entry ids matching ``signal`` with their similarity in [0, 1], best first.

        Must return every entry at or above the index's threshold (exact
        indexes: similarity 1.0) and never an entry below it.
        """

    @abstractmethod
    def __len__(self) -> int:
        """How many (signal, entry) pairs are indexed."""
