"""Match one file (its hashes and fingerprint) against a set of banks.

This is the Hasher-Matcher-Actioner "matcher" for model files: exact hash
indexes and fingerprint indexes per bank, disabled entries left out, and
negative (allow) banks applied last: a file that matches any negative bank has
its positive matches suppressed and only the negative ones reported (flagged
``negative``), so a known false positive stops alerting without being deleted
from the ban list.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from likenessguard.banks.base import HASH_STRENGTH, Bank, BankEntry, Match
from likenessguard.banks.exact import HashMatcher
from likenessguard.banks.similarity import VectorIndex
from likenessguard.hashing.fingerprint import DIM, THRESHOLDS, Fingerprint

_METHOD_RANK = {m: i for i, m in enumerate((*HASH_STRENGTH, "fingerprint"))}


@dataclass
class _BankIndex:
    bank: Bank
    hashes: HashMatcher
    vectors: dict[str, VectorIndex]
    entries: dict[int, BankEntry]


class Matcher:
    """Indexes a set of banks once and matches many files against them.

    Args:
        banks: banks with their entries (entries need ids; disabled ones are skipped).
        min_similarity: overrides the per-kind fingerprint thresholds (``THRESHOLDS``).
        backend: vector index backend (``auto``, ``faiss``, ``numpy``).

    Example::

        matcher = Matcher(load_banks(engine, ["civitai-removed"]))
        matches = matcher.match(hashes.to_json(), fingerprint)
    """

    def __init__(
        self,
        banks: Sequence[Bank],
        *,
        min_similarity: float | None = None,
        backend: str = "auto",
    ) -> None:
        self.min_similarity = min_similarity
        self._banks: list[_BankIndex] = []
        self.skipped: list[str] = []
        for bank in banks:
            enabled = [e for e in bank.entries if not e.disabled]
            index = _BankIndex(bank, HashMatcher(), {}, {})
            groups: dict[str, tuple[list[np.ndarray], list[int]]] = {}
            for entry in enabled:
                if entry.id is None:
                    raise ValueError(f"bank {bank.name}: entries need ids before matching")
                index.entries[entry.id] = entry
                index.hashes.add(entry)
                if entry.fingerprint:
                    try:
                        fp = Fingerprint.from_text(entry.fingerprint)
                    except ValueError as exc:
                        self.skipped.append(f"bank {bank.name} entry {entry.id}: {exc}")
                        continue
                    vecs, ids = groups.setdefault(fp.kind, ([], []))
                    vecs.append(fp.vector)
                    ids.append(entry.id)
            for kind, (vecs, ids) in groups.items():
                vi = VectorIndex(DIM, self.threshold(kind), backend=backend)
                vi.add_many(np.stack(vecs), ids)
                index.vectors[kind] = vi
            self._banks.append(index)

    def threshold(self, kind: str) -> float:
        if self.min_similarity is not None:
            return self.min_similarity
        return THRESHOLDS.get(kind, 0.9)

    @property
    def banks(self) -> list[Bank]:
        return [b.bank for b in self._banks]

    def match(
        self, hashes: Mapping[str, str | None] | None, fingerprint: Fingerprint | None = None
    ) -> list[Match]:
        """Every match of a file against the banks, strongest first, negatives applied."""
        positive: list[Match] = []
        negative: list[Match] = []
        for index in self._banks:
            found: dict[int, Match] = {}
            if hashes:
                for entry, method in index.hashes.lookup(hashes):
                    found[entry.id or 0] = Match(
                        bank=index.bank.name,
                        entry=entry.public(),
                        method=method,
                        similarity=1.0,
                        negative=index.bank.negative,
                    )
            if fingerprint is not None and fingerprint.kind in index.vectors:
                for entry_id, sim in index.vectors[fingerprint.kind].query(fingerprint.vector):
                    if entry_id in found:
                        continue  # an exact hash already says more than a similarity
                    found[entry_id] = Match(
                        bank=index.bank.name,
                        entry=index.entries[entry_id].public(),
                        method="fingerprint",
                        similarity=sim,
                        negative=index.bank.negative,
                    )
            (negative if index.bank.negative else positive).extend(found.values())
        out = negative if negative else positive
        return sorted(out, key=lambda m: (_METHOD_RANK[m.method], -m.similarity, m.bank))

    def __len__(self) -> int:
        return sum(len(b.entries) for b in self._banks)
