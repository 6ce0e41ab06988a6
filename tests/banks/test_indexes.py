"""Every index agrees with its brute-force twin (hypothesis), and IVF finds planted copies."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from likenessguard.banks.base import BankEntry
from likenessguard.banks.brute import BruteHashIndex, BruteVectorIndex, brute_hash_lookup
from likenessguard.banks.exact import ExactIndex, HashMatcher
from likenessguard.banks.similarity import VectorIndex, faiss_available

HEX = "0123456789abcdef"


def hexes(n: int) -> st.SearchStrategy[str]:
    # A tiny alphabet makes collisions (the interesting case) common.
    return st.text(alphabet="0a", min_size=n, max_size=n)


@settings(max_examples=60, deadline=None)
@given(
    name=st.sampled_from(["sha256", "autov2", "autov3", "crc32", "autov1"]),
    values=st.lists(st.tuples(st.integers(0, 20), st.booleans()), min_size=1, max_size=30),
    probes=st.lists(st.integers(0, 20), min_size=1, max_size=10),
    upper=st.booleans(),
)
def test_exact_index_equals_brute(
    name: str, values: list[tuple[int, bool]], probes: list[int], upper: bool
) -> None:
    width = {"sha256": 64, "autov2": 10, "autov3": 12, "crc32": 8, "autov1": 8}[name]

    def value(i: int) -> str:
        return format(i * 2654435761 % (1 << 32), "08x").rjust(width, "0")[:width]

    fast, slow = ExactIndex(name), BruteHashIndex(name)
    for entry_id, (i, up) in enumerate(values):
        v = value(i).upper() if up else value(i)
        fast.add(v, entry_id)
        slow.add(v, entry_id)
    for p in probes:
        q = value(p).upper() if upper else value(p)
        assert sorted(fast.query(q)) == slow.query(q)
    assert len(fast) == len(slow) == len(values)


def test_autov3_prefix_and_full_find_each_other_and_crc32_either_order() -> None:
    full = "ab" * 32
    idx = ExactIndex("autov3")
    idx.add(full[:12].upper(), 1)
    assert idx.query(full) == [(1, 1.0)]
    crc = ExactIndex("crc32")
    crc.add("0D4A1185", 7)
    assert crc.query("85114a0d") == [(7, 1.0)] and crc.query("0d4a1185") == [(7, 1.0)]


@settings(max_examples=40, deadline=None)
@given(
    entries=st.lists(
        st.fixed_dictionaries(
            {},
            optional={
                "sha256": st.sampled_from(["a" * 64, "b" * 64, "c" * 64]),
                "autov2": st.sampled_from(["a" * 10, "b" * 10]),
                "crc32": st.sampled_from(["0d4a1185", "85114a0d", "12345678"]),
                "autov3": st.sampled_from(["a" * 12, "c" * 64]),
            },
        ),
        min_size=1,
        max_size=12,
    ),
    probe=st.fixed_dictionaries(
        {
            "sha256": st.sampled_from(["a" * 64, "b" * 64, "c" * 64]),
            "crc32": st.sampled_from(["0d4a1185", "12345678", "ffffffff"]),
            "autov3": st.sampled_from(["a" * 64, "c" * 64, "d" * 64]),
        }
    ),
)
def test_hash_matcher_equals_brute_lookup(
    entries: list[dict[str, str]], probe: dict[str, str]
) -> None:
    probe = {**probe, "autov2": probe["sha256"][:10]}
    bank = [BankEntry(id=i, **e) for i, e in enumerate(entries) if e]
    matcher = HashMatcher(bank)
    fast = sorted((e.id, m) for e, m in matcher.lookup(probe))
    slow = sorted((e.id, m) for e, m in brute_hash_lookup(bank, probe))
    assert fast == slow


def test_a_weak_hash_collision_is_not_a_match() -> None:
    entry = BankEntry(id=1, sha256="a" * 64, crc32="0d4a1185")
    matcher = HashMatcher([entry])
    assert matcher.lookup({"sha256": "b" * 64, "crc32": "0d4a1185"}) == []
    assert [m for _, m in matcher.lookup({"sha256": "a" * 64, "crc32": "0d4a1185"})] == ["sha256"]
    assert [m for _, m in matcher.lookup({"crc32": "85114a0d"})] == ["crc32"]


def _unit(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    m = rng.standard_normal((n, d)).astype(np.float32)
    return m / np.linalg.norm(m, axis=1, keepdims=True)


BACKENDS = [
    "numpy",
    pytest.param("faiss", marks=pytest.mark.skipif(not faiss_available(), reason="no faiss")),
]


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(1, 60),
    seed=st.integers(0, 10_000),
    threshold=st.floats(0.0, 0.95),
    near=st.floats(0.0, 1.0),
)
def test_vector_index_equals_brute(
    backend: str, n: int, seed: int, threshold: float, near: float
) -> None:
    rng = np.random.default_rng(seed)
    d = 16
    base = _unit(rng, n, d)
    fast = VectorIndex(d, threshold, backend=backend, k=4)
    slow = BruteVectorIndex(d, threshold)
    fast.add_many(base, range(n))
    for i, v in enumerate(base):
        slow.add(v, i)
    # Queries near an indexed vector, so some similarities sit around the threshold.
    q = base[rng.integers(0, n)] * near + _unit(rng, 1, d)[0] * (1 - near)
    q = q / np.linalg.norm(q)
    got = dict(fast.query(q.astype(np.float32)))
    want = dict(slow.query(q.astype(np.float32)))
    # float32 dot products in a different order may differ in the last bit at the threshold.
    edge = {i for i, s in {**got, **want}.items() if abs(s - threshold) < 1e-5}
    assert set(got) - edge == set(want) - edge
    for i in set(got) & set(want):
        assert got[i] == pytest.approx(want[i], abs=1e-5)


@pytest.mark.skipif(not faiss_available(), reason="no faiss")
@pytest.mark.slow
def test_ivf_finds_every_planted_copy() -> None:
    rng = np.random.default_rng(3)
    d, n = 256, 60_000
    base = _unit(rng, n, d)
    index = VectorIndex(d, 0.5, backend="faiss", ivf_min=10_000)
    index.add_many(base, np.arange(n))
    assert index.approximate
    picks = rng.choice(n, size=200, replace=False)
    # Near-exact copies (casts, re-keys, merges score >= 0.9).
    mix = rng.uniform(0.9, 0.99, size=(200, 1)).astype(np.float32)
    noise = _unit(rng, 200, d)
    noise -= (noise * base[picks]).sum(axis=1, keepdims=True) * base[picks]
    noise /= np.linalg.norm(noise, axis=1, keepdims=True)
    q = base[picks] * mix + noise * np.sqrt(1 - mix**2)
    q = q / np.linalg.norm(q, axis=1, keepdims=True)
    found = index.query_many(q)
    for p, m, hits in zip(picks, mix[:, 0], found, strict=True):
        assert dict(hits)[int(p)] == pytest.approx(float(m), abs=1e-3)
    assert all(int(p) in {i for i, _ in hits} for p, hits in zip(picks, found, strict=True))
