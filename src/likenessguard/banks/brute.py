"""Brute-force reference matchers: the slow, obviously-correct twins of every index.

Every fast index (exact dictionaries, FAISS IVF, numpy) is tested against
these on random data: same entries above the threshold, same similarities.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt

from likenessguard.banks.base import HASH_STRENGTH, BankEntry, SignalIndex
from likenessguard.banks.exact import DEFINITIVE, consistent, lookup_key, swap_bytes


class BruteHashIndex(SignalIndex[str]):
    """A list of (hash, id) pairs scanned in full on every query."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.pairs: list[tuple[str, int]] = []

    def add(self, signal: str, entry_id: int) -> None:
        self.pairs.append((signal.strip().lower(), entry_id))

    def query(self, signal: str) -> list[tuple[int, float]]:
        key = lookup_key(self.name, signal)
        if key is None:
            return []
        hits = []
        for value, entry_id in self.pairs:
            other = lookup_key(self.name, value)
            if other is not None and (
                other == key or (self.name == "crc32" and other == swap_bytes(key))
            ):
                hits.append((entry_id, 1.0))
        return sorted(set(hits))

    def __len__(self) -> int:
        return len(self.pairs)


def brute_hash_lookup(
    entries: Sequence[BankEntry], hashes: Mapping[str, str | None]
) -> list[tuple[BankEntry, str]]:
    """Every entry matching ``hashes`` by scanning all entries (reference for HashMatcher)."""
    out = []
    for entry in entries:
        for name in HASH_STRENGTH:
            mine, theirs = getattr(entry, name), hashes.get(name)
            if not mine or not theirs:
                continue
            a, b = lookup_key(name, mine), lookup_key(name, theirs)
            if a is not None and (a == b or (name == "crc32" and swap_bytes(a) == b)):
                if name in DEFINITIVE or consistent(entry, hashes):
                    out.append((entry, name))
                break
    return out


class BruteVectorIndex(SignalIndex[npt.NDArray[np.float32]]):
    """Unit vectors compared to the query one by one (cosine = dot product)."""

    def __init__(self, dim: int, threshold: float) -> None:
        self.dim = dim
        self.threshold = threshold
        self.vectors: list[npt.NDArray[np.float32]] = []
        self.ids: list[int] = []

    def add(self, signal: npt.NDArray[np.float32], entry_id: int) -> None:
        self.vectors.append(np.asarray(signal, dtype=np.float32).reshape(self.dim))
        self.ids.append(entry_id)

    def query(self, signal: npt.NDArray[np.float32]) -> list[tuple[int, float]]:
        q = np.asarray(signal, dtype=np.float32).reshape(self.dim)
        hits = []
        for vec, entry_id in zip(self.vectors, self.ids, strict=True):
            sim = float(min(1.0, max(0.0, float(np.dot(vec, q)))))
            if sim >= self.threshold:
                hits.append((entry_id, sim))
        return sorted(hits, key=lambda h: (-h[1], h[0]))

    def __len__(self) -> int:
        return len(self.ids)
