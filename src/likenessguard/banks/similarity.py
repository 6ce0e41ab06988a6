"""Fingerprint search over large banks and catalogs: FAISS when installed, numpy otherwise.

A million fingerprints of 256 float32 are 1 GB; a brute-force matrix product
over them takes tens of milliseconds per query, too slow for a hub's upload
stream. With the ``faiss`` extra installed, indexes above ``ivf_min`` vectors
use an inverted file with 8-bit scalar-quantised vectors (IVF-SQ8, inner
product): the query is compared only to the vectors in its ``nprobe`` nearest
cells, and the candidates are re-scored with exact float32 dot products, so
only recall (never a score) is approximate.
Fingerprints are close to isotropic, the worst case for any partitioning:
recall is ~100% for near-exact copies (similarity >= 0.9: casts, renames,
re-keys, merges) and falls for weaker ones (measured per similarity band in
bench/bench_banks.py and docs/benchmarks.md). Smaller indexes, and every index
without FAISS, are exact.

FAISS is imported lazily: the core never needs it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from likenessguard.banks.base import SignalIndex

Vector = npt.NDArray[np.float32]


def faiss_available() -> bool:
    try:
        import faiss  # noqa: F401
    except ImportError:
        return False
    return True


class VectorIndex(SignalIndex[Vector]):
    """Unit vectors -> entry ids, queried by cosine similarity (inner product).

    Args:
        dim: vector length.
        threshold: ``query`` returns every entry at or above it.
        backend: ``auto`` (FAISS if importable), ``faiss`` or ``numpy``.
        ivf_min: from this many vectors on, FAISS uses IVF instead of an exact flat index.
        nprobe: IVF cells searched per query (recall/speed trade-off).
        k: candidates fetched per query before the threshold is applied.
    """

    def __init__(
        self,
        dim: int,
        threshold: float,
        *,
        backend: str = "auto",
        ivf_min: int = 100_000,
        nprobe: int = 96,
        k: int = 64,
    ) -> None:
        if backend not in ("auto", "faiss", "numpy"):
            raise ValueError(f"unknown backend {backend!r}: use auto, faiss or numpy")
        if backend == "auto":
            backend = "faiss" if faiss_available() else "numpy"
        self.dim = dim
        self.threshold = threshold
        self.backend = backend
        self.ivf_min = ivf_min
        self.nprobe = nprobe
        self.k = k
        self._pending_vecs: list[Vector] = []
        self._pending_ids: list[int] = []
        self._matrix: Vector = np.zeros((0, dim), dtype=np.float32)
        self._ids: npt.NDArray[np.int64] = np.zeros(0, dtype=np.int64)
        self._faiss: Any = None

    # -- building -------------------------------------------------------------------

    def add(self, signal: Vector, entry_id: int) -> None:
        self._pending_vecs.append(np.asarray(signal, dtype=np.float32).reshape(self.dim))
        self._pending_ids.append(entry_id)

    def add_many(self, vectors: npt.ArrayLike, ids: Sequence[int] | npt.ArrayLike) -> None:
        """Add a block of vectors at once (the fast path for big banks)."""
        mat = np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, self.dim)
        ida = np.asarray(ids, dtype=np.int64).reshape(-1)
        if len(ida) != len(mat):
            raise ValueError(f"{len(mat)} vectors but {len(ida)} ids")
        self._flush()
        self._matrix = np.concatenate([self._matrix, mat]) if len(self._matrix) else mat
        self._ids = np.concatenate([self._ids, ida]) if len(self._ids) else ida
        self._faiss = None

    def _flush(self) -> None:
        if self._pending_vecs:
            vecs, ids = np.stack(self._pending_vecs), list(self._pending_ids)
            self._pending_vecs, self._pending_ids = [], []
            self.add_many(vecs, ids)

    def build(self) -> None:
        """Build the search structure now (otherwise the first query does)."""
        self._flush()
        if self.backend != "faiss" or self._faiss is not None or not len(self._matrix):
            return
        import faiss

        n = len(self._matrix)
        if n < self.ivf_min:
            index: Any = faiss.IndexFlatIP(self.dim)
        else:
            # sqrt(n) cells keeps training (k-means on 40 points per cell) to seconds.
            nlist = int(min(1024, max(64, math.sqrt(n))))
            quantizer = faiss.IndexFlatIP(self.dim)
            # 8-bit codes: a quarter of the memory traffic per probed cell, so more
            # cells fit in the latency budget; candidates are re-scored exactly below.
            index = faiss.IndexIVFScalarQuantizer(
                quantizer,
                self.dim,
                nlist,
                faiss.ScalarQuantizer.QT_8bit,
                faiss.METRIC_INNER_PRODUCT,
            )
            rng = np.random.default_rng(0)
            sample = self._matrix[rng.choice(n, size=min(n, 40 * nlist), replace=False)]
            index.train(sample)
            index.nprobe = min(self.nprobe, nlist)
        index.add(self._matrix)
        self._faiss = index

    @property
    def approximate(self) -> bool:
        """True when queries may miss entries (FAISS IVF); scores are always exact."""
        self._flush()
        return self.backend == "faiss" and len(self._matrix) >= self.ivf_min

    # -- querying -------------------------------------------------------------------

    def search(self, queries: npt.ArrayLike, k: int | None = None) -> list[list[tuple[int, float]]]:
        """Top-``k`` (id, similarity) per query row, best first, similarity clipped to [0, 1]."""
        self.build()
        q = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, self.dim)
        n = len(self._matrix)
        k = min(k or self.k, n)
        if n == 0 or k == 0:
            return [[] for _ in range(len(q))]
        if self._faiss is not None:
            _approx, rows = self._faiss.search(q, k)
            # Exact dot products for the candidates (IVF-SQ8 scores are quantised).
            safe = np.where(rows >= 0, rows, 0)
            sims = np.einsum("qkd,qd->qk", self._matrix[safe], q)
            order = np.argsort(-sims, axis=1, kind="stable")
            sims = np.take_along_axis(sims, order, axis=1)
            rows = np.take_along_axis(rows, order, axis=1)
        else:
            sims, rows = self._numpy_search(q, k)
        out = []
        for srow, rrow in zip(sims, rows, strict=True):
            hits = [
                (int(self._ids[r]), float(min(1.0, max(0.0, s))))
                for s, r in zip(srow, rrow, strict=True)
                if r >= 0
            ]
            out.append(hits)
        return out

    def _numpy_search(
        self, q: Vector, k: int
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
        sims_all = q @ self._matrix.T
        if k < sims_all.shape[1]:
            part = np.argpartition(-sims_all, k - 1, axis=1)[:, :k]
        else:
            part = np.tile(np.arange(sims_all.shape[1]), (len(q), 1))
        top = np.take_along_axis(sims_all, part, axis=1)
        order = np.argsort(-top, axis=1, kind="stable")
        return np.take_along_axis(top, order, axis=1), np.take_along_axis(part, order, axis=1)

    def query(self, signal: Vector) -> list[tuple[int, float]]:
        return self.query_many(np.asarray(signal).reshape(1, self.dim))[0]

    def query_many(self, queries: npt.ArrayLike) -> list[list[tuple[int, float]]]:
        """Every entry at or above the threshold for each query row, best first.

        Exact indexes return all of them (however many); IVF returns those among
        the ``k`` nearest candidates, widening ``k`` while the k-th still qualifies.
        """
        q = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, self.dim)
        self._flush()
        if self.backend == "numpy" or not len(self._matrix):
            return [self._exact(row) for row in q]
        results = []
        for row in q:
            k = self.k
            while True:
                hits = self.search(row, k)[0]
                if len(hits) < k or hits[-1][1] < self.threshold or k >= len(self._matrix):
                    break
                k *= 4
            results.append([h for h in hits if h[1] >= self.threshold])
        return results

    def _exact(self, row: Vector) -> list[tuple[int, float]]:
        if not len(self._matrix):
            return []
        sims = np.clip(self._matrix @ row, 0.0, 1.0)
        idx = np.nonzero(sims >= self.threshold)[0]
        hits = sorted(
            ((int(self._ids[i]), float(sims[i])) for i in idx), key=lambda h: (-h[1], h[0])
        )
        return hits

    def __len__(self) -> int:
        self._flush()
        return len(self._ids)
