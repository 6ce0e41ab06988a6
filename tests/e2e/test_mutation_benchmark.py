"""The mutation benchmark: every disguised copy of a banned LoRA is found, nothing unrelated is.

From synthetic LoRAs of every family and key scheme (and the LyCORIS/DoRA
kinds) we build the copies re-uploaders make: renamed, metadata stripped or
replaced, cast F16 -> F32 -> BF16, converted kohya <-> PEFT with alpha baked
in, tensors reordered, SVD-resized to half rank, merged 0.85/0.15 with
another LoRA; plus unrelated LoRAs of exactly the same shapes. Every file goes
through the real reader, hasher and fingerprint, and is matched against a
bank holding only the sources' fingerprints (so hashes cannot help). The
similarity distributions of both groups are printed (run with ``-s``) and
recorded in docs/banks.md.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import pytest
from threadpoolctl import threadpool_limits

from likenessguard.banks.base import Bank, BankEntry
from likenessguard.banks.matcher import Matcher
from likenessguard.hashing.fingerprint import THRESHOLDS, Fingerprint
from likenessguard.pipeline.match import examine_file
from likenessguard.testing import FAMILIES, make_lora
from likenessguard.testing.mutations import (
    cast,
    convert_scheme,
    merge,
    rename,
    reorder,
    replace_metadata,
    strip_metadata,
    svd_resize,
)

# (family, scheme, kind) of every source LoRA.
SOURCES: list[tuple[str, str, str]] = [
    (family, scheme, "lora")
    for family in FAMILIES
    for scheme in ("kohya", "diffusers_peft", "comfy")
] + [
    ("sdxl", "kohya", "locon"),
    ("sdxl", "kohya", "loha"),
    ("sdxl", "kohya", "lokr"),
    ("sdxl", "kohya", "dora"),
    ("sd1", "diffusers_peft", "dora"),
    ("flux1", "comfy", "loha"),
]
PLAIN = {"lora", "dora", "locon"}  # kinds whose modules are up/down factors
MODULES = 12

Mutation = Callable[[Path, Path, Path], Path]
MUTATIONS: dict[str, tuple[Mutation, set[str]]] = {
    "rename": (lambda s, d, _o: rename(s, d), {"*"}),
    "strip_metadata": (lambda s, d, _o: strip_metadata(s, d), {"*"}),
    "replace_metadata": (lambda s, d, _o: replace_metadata(s, d), {"*"}),
    "cast_f16_f32": (lambda s, d, _o: cast(s, d, "F32"), {"*"}),
    "cast_f16_bf16": (lambda s, d, _o: cast(s, d, "BF16"), {"*"}),
    "cast_f32_bf16_f16": (
        lambda s, d, _o: cast(cast(cast(s, d, "F32"), d, "BF16"), d, "F16"),
        {"*"},
    ),
    "convert_scheme": (lambda s, d, _o: convert_scheme(s, d), {"lora", "dora"}),
    "reorder": (lambda s, d, _o: reorder(s, d, seed=5), {"*"}),
    "svd_half": (lambda s, d, _o: svd_resize(s, d), PLAIN),
    "merge_85_15": (lambda s, d, o: merge(s, o, d, 0.85), PLAIN),
}


def _fingerprint(path: Path) -> Fingerprint:
    (res,) = examine_file(str(path))
    assert res.fingerprint is not None, (path, res.errors, res.warnings)
    return res.fingerprint


@pytest.mark.slow
def test_every_mutated_copy_matches_its_source_and_nothing_unrelated_does(tmp_path: Path) -> None:
    # Thousands of tiny matrix products: BLAS worker threads only contend on a shared box.
    with threadpool_limits(1):
        _benchmark(tmp_path)


def _benchmark(tmp_path: Path) -> None:
    entries: list[BankEntry] = []
    copies: list[tuple[str, int, Path]] = []  # (mutation, source entry id, file)
    unrelated: list[Path] = []
    for n, (family, scheme, kind) in enumerate(SOURCES):
        stem = f"{family}_{scheme}_{kind}"
        common = {"kind": kind, "modules": MODULES, "rank": 8, "alpha": 4.0, "te": False}
        src = make_lora(tmp_path / f"{stem}.safetensors", family, scheme, seed=1000 + n, **common)
        other = make_lora(
            tmp_path / f"{stem}.partner.safetensors", family, scheme, seed=2000 + n, **common
        )
        for u in range(2):
            unrelated.append(
                make_lora(
                    tmp_path / f"{stem}.unrelated{u}.safetensors",
                    family,
                    scheme,
                    seed=3000 + 10 * n + u,
                    **common,
                )
            )
        entries.append(BankEntry(id=n + 1, name=stem, fingerprint=_fingerprint(src).to_text()))
        for name, (mutate, kinds) in MUTATIONS.items():
            if "*" not in kinds and kind not in kinds:
                continue
            dst = tmp_path / "copies" / f"{stem}.{name}.safetensors"
            dst.parent.mkdir(exist_ok=True)
            copies.append((name, n + 1, mutate(src, dst, other)))

    matcher = Matcher([Bank("banned", entries=tuple(entries))])
    threshold = THRESHOLDS["adapter"]
    copy_sims: dict[str, list[float]] = defaultdict(list)
    missed = []
    for name, entry_id, path in copies:
        fp = _fingerprint(path)
        matches = matcher.match(None, fp)
        best = matches[0] if matches else None
        if best is None or best.entry["id"] != entry_id:
            missed.append(
                (name, path.name, [(m.entry["name"], round(m.similarity, 3)) for m in matches])
            )
            continue
        copy_sims[name].append(best.similarity)
    unrelated_sims = []
    false_hits = []
    source_fps = [(e.name, Fingerprint.from_text(e.fingerprint or "")) for e in entries]
    for path in unrelated:
        fp = _fingerprint(path)
        unrelated_sims.append(max(src.similarity(fp) for _, src in source_fps))
        hits = matcher.match(None, fp)
        if hits:
            false_hits.append(
                (path.name, [(m.entry["name"], round(m.similarity, 3)) for m in hits])
            )

    print(
        f"\nmutation benchmark: {len(entries)} sources, {len(copies)} copies, "
        f"{len(unrelated)} unrelated"
    )
    print(f"{'group':<20} {'n':>4} {'min':>6} {'median':>7} {'max':>6}")
    for name, sims in copy_sims.items():
        print(
            f"{name:<20} {len(sims):>4} {min(sims):>6.3f} "
            f"{statistics.median(sims):>7.3f} {max(sims):>6.3f}"
        )
    print(
        f"{'unrelated (best)':<20} {len(unrelated_sims):>4} {min(unrelated_sims):>6.3f} "
        f"{statistics.median(unrelated_sims):>7.3f} {max(unrelated_sims):>6.3f}"
    )
    print(f"threshold {threshold}")
    assert not missed, f"copies not matched to their source: {missed}"
    assert not false_hits, f"unrelated LoRAs matched: {false_hits}"
    assert sum(len(v) for v in copy_sims.values()) == len(copies)
