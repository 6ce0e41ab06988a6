"""Scan speed: ``scan --no-hash`` of SDXL LoRAs vs a plain ``safe_open`` loop on the same files.

Target (issue 2): scanning 3,000 SDXL-shaped kohya LoRAs (~700 tensors, ~10 KB
of metadata each) without hashing, catalog writes to a fresh SQLite file
included, takes at most 2x a plain loop of ``safetensors.safe_open(p,
framework="numpy")`` reading ``.metadata()`` and ``.keys()``, measured in the
same run on the same files with them in the page cache.

The files are real safetensors files whose headers declare the real tensor
shapes of an SDXL kohya LoRA at rank 4 in F16 (~7 MB each), written *sparse*:
header, the alpha scalars (readers read them; laid out first in the data
region), then a hole to the declared size. ``scan --no-hash`` never reads
tensor data beyond the alphas, so holes cost nothing; 3,000 files take
~300 MB on disk and are deleted afterwards.

Usage::

    python bench/bench_scan.py            # 3,000 files, updates docs/benchmarks.md
    python bench/bench_scan.py --quick    # 300 files, docs untouched
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import struct
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from docs_section import DOCS, write_section  # noqa: E402  (bench/ is on sys.path)
from likenessguard.pipeline.analyzers import build_analyzers  # noqa: E402
from likenessguard.pipeline.executors.local import ProcessExecutor  # noqa: E402
from likenessguard.pipeline.scanner import Scanner, chunk_size  # noqa: E402
from likenessguard.store.catalog import Catalog  # noqa: E402
from likenessguard.testing import kohya_metadata, lora_shapes  # noqa: E402

TARGET_RATIO = 2.0
RANK = 4
MODULES = 233  # 233 modules x (down, up, alpha) = 699 tensors, as the "~700"
BEGIN, END = "<!-- bench_scan:begin -->", "<!-- bench_scan:end -->"


def write_sparse_lora(path: Path, shapes: dict[str, tuple[int, ...]], meta: dict[str, str]) -> int:
    """Write a safetensors file with a real header, real alphas and a hole for the rest."""
    header: dict[str, object] = {"__metadata__": meta}
    # The alpha scalars' bytes come first in the data region (offsets need not
    # follow key order, only tile the region), so the real data is one small
    # block and the rest is one hole: fast to write and to delete.
    alphas = sorted(n for n in shapes if n.endswith(".alpha"))
    others = sorted(n for n in shapes if not n.endswith(".alpha"))
    offset = 0
    for name in alphas + others:
        n = 2
        for dim in shapes[name]:
            n *= dim
        header[name] = {
            "dtype": "F16",
            "shape": list(shapes[name]),
            "data_offsets": [offset, offset + n],
        }
        offset += n
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    alpha = struct.pack("<e", float(RANK) / 2)
    with path.open("wb") as f:
        f.write(struct.pack("<Q", len(raw)) + raw + alpha * len(alphas))
        f.truncate(8 + len(raw) + offset)
    return 8 + len(raw) + offset


def make_corpus(root: Path, count: int) -> tuple[int, int, int]:
    """Write ``count`` LoRAs in 30 folders; return (declared bytes, tensors, metadata bytes)."""
    shapes = lora_shapes("sdxl", "kohya", rank=RANK, modules=MODULES)
    total = 0
    meta_bytes = 0
    for i in range(count):
        folder = root / f"user_{i % 30:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        meta = kohya_metadata(
            output_name=f"lora_{i:05d}", base_model="sdxl", rank=RANK, alpha=RANK / 2, seed=i
        )
        meta_bytes = len(json.dumps(meta))
        total += write_sparse_lora(folder / f"lora_{i:05d}.safetensors", shapes, meta)
    return total, len(shapes), meta_bytes


def reference(paths: list[Path]) -> float:
    """The yardstick: safetensors' own Rust header parser, metadata and keys only."""
    from safetensors import safe_open

    started = time.perf_counter()
    for p in paths:
        with safe_open(p, framework="numpy") as f:
            f.metadata()
            f.keys()
    return time.perf_counter() - started


def readers_only(paths: list[Path]) -> float:
    """The readers alone (``read_artifacts`` per file): what the scan cannot go below."""
    from likenessguard.artifacts.open import read_artifacts

    started = time.perf_counter()
    for p in paths:
        read_artifacts(p)
    return time.perf_counter() - started


def readers_cold(paths: list[Path]) -> float:
    """The readers with every file's tensor layout worked out afresh (no layout cache hits).

    The bench's files share one layout, as a hub's LoRAs from one trainer at
    one rank do; this is the cost for a file whose layout the process has not
    seen before.
    """
    from likenessguard.artifacts.identify import _layout
    from likenessguard.artifacts.open import read_artifacts

    started = time.perf_counter()
    for p in paths:
        _layout.cache_clear()
        read_artifacts(p)
    return time.perf_counter() - started


def scan(root: Path, db: Path, jobs: int, *, judged: bool = False) -> float:
    """An in-process ``scan --no-hash`` into a fresh SQLite catalog.

    ``judged`` adds the analyzers the ``scan`` command runs on every file
    (verdicts; bank matching finds no bank in a fresh catalog).
    """
    for leftover in db.parent.glob(db.name + "*"):
        leftover.unlink()
    catalog = Catalog.open(f"sqlite:///{db}")
    executor = ProcessExecutor(jobs, chunk_size=chunk_size(False)) if jobs > 1 else None
    analyzers = build_analyzers({}, (), catalog=catalog, fingerprint=False) if judged else []
    try:
        started = time.perf_counter()
        scanner = Scanner(catalog, hash_files=False, executor=executor, analyzers=analyzers)
        n = sum(1 for _ in scanner.scan_paths([root]))
        elapsed = time.perf_counter() - started
    finally:
        if executor is not None:
            executor.close()
        catalog.close()
    if scanner.stats.errored:
        raise SystemExit(f"the scan reported {scanner.stats.errored} errors: the corpus is wrong")
    assert n == scanner.stats.scanned
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="300 files, no docs update")
    parser.add_argument("--count", type=int, default=None, help="number of LoRAs")
    parser.add_argument("--runs", type=int, default=5, help="interleaved rounds (default 5)")
    parser.add_argument("--dir", type=Path, default=None, help="where to write the corpus")
    args = parser.parse_args()
    count = args.count or (300 if args.quick else 3000)

    workdir = Path(tempfile.mkdtemp(prefix="lg-bench-scan-", dir=args.dir))
    try:
        root = workdir / "hub"
        print(f"writing {count} sparse SDXL kohya LoRAs (rank {RANK}, F16)...", flush=True)
        t0 = time.perf_counter()
        declared, tensors, meta_bytes = make_corpus(root, count)
        paths = sorted(root.rglob("*.safetensors"))
        used = sum(p.stat().st_blocks * 512 for p in paths)
        print(
            f"  {tensors} tensors and {meta_bytes / 1024:.1f} KB of metadata each; "
            f"{declared / 1e9:.1f} GB declared, {used / 1e6:.0f} MB on disk "
            f"({time.perf_counter() - t0:.1f} s)",
            flush=True,
        )
        reference(paths)  # warm the page cache for both contestants
        db = workdir / "catalog.db"
        # Interleaved rounds: this machine's speed drifts over minutes (shared
        # hosts), so each round times the reference next to the contestants and
        # every figure is the best of its rounds.
        times: dict[str, list[float]] = {}
        contestants: list[tuple[str, Callable[[], float], int]] = [
            ("ref", lambda: reference(paths), args.runs),
            ("scan", lambda: scan(root, db, 1), args.runs),
            ("read", lambda: readers_only(paths), args.runs),
            ("cold", lambda: readers_cold(paths), max(1, args.runs - 2)),
            ("jobs2", lambda: scan(root, db, 2), max(1, args.runs - 2)),
            ("judged", lambda: scan(root, db, 1, judged=True), max(1, args.runs - 2)),
        ]
        for r in range(args.runs):
            for label, fn, rounds in contestants:
                if r < rounds:
                    times.setdefault(label, []).append(fn())
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    ref_best, ref_median = min(times["ref"]), statistics.median(times["ref"])
    scan_best, scan_median = min(times["scan"]), statistics.median(times["scan"])
    read_best, cold_best = min(times["read"]), min(times["cold"])
    jobs2_best, judged_best = min(times["jobs2"]), min(times["judged"])
    ratios = sorted(s / r for s, r in zip(times["scan"], times["ref"], strict=False))
    ref = ref_best
    ratio = scan_best / ref
    ratio2 = jobs2_best / ref
    per_ms = 1000 * scan_best / count
    print(f"\nreference safe_open loop : {ref:7.2f} s  ({1000 * ref / count:.2f} ms/file)")
    print(f"scan --no-hash, 1 job    : {scan_best:7.2f} s  ({per_ms:.2f} ms/file)  {ratio:.2f}x")
    print(f"scan --no-hash, 2 jobs   : {jobs2_best:7.2f} s  {ratio2:.2f}x")
    print(f"readers alone (1 job)    : {read_best:7.2f} s  {read_best / ref:.2f}x")
    print(f"readers, layouts unseen  : {cold_best:7.2f} s  {cold_best / ref:.2f}x")
    print(f"scan + verdicts, 1 job   : {judged_best:7.2f} s  {judged_best / ref:.2f}x")
    ok = ratio <= TARGET_RATIO or ratio2 <= TARGET_RATIO
    print(f"target <= {TARGET_RATIO}x: {'met' if ok else 'MISSED'}")
    if args.quick or args.count:
        return 0 if ok else 1
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    load = os.getloadavg()[0]
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    status = "met" if ok else "missed"
    section = "\n".join(
        [
            BEGIN,
            "## Scan",
            "",
            f"`python bench/bench_scan.py` on {machine}: {count:,} SDXL kohya LoRAs",
            f"({tensors} tensors, rank {RANK}, F16, {meta_bytes / 1024:.0f} KB of kohya metadata",
            "each; written sparse: real header and alphas, a hole for the tensor data, which",
            "`--no-hash` never reads). Reference: a plain loop of `safetensors.safe_open(p,",
            'framework="numpy")` reading `.metadata()` and `.keys()`, best of runs, same files',
            "in the page cache. Scan: the in-process `Scanner` with `hash_files=False` walking",
            "the folder and writing every record to a fresh SQLite catalog (best of runs).",
            "",
            "| what | time | per file | ratio to reference | target |",
            "|---|---|---|---|---|",
            f"| reference `safe_open` loop | {ref:.2f} s | {1000 * ref / count:.2f} ms | 1.00x | |",
            f"| `scan --no-hash`, 1 job | {scan_best:.2f} s | {per_ms:.2f} ms | {ratio:.2f}x "
            f"| <= {TARGET_RATIO}x |",
            f"| `scan --no-hash --jobs 2` | {jobs2_best:.2f} s "
            f"| {1000 * jobs2_best / count:.2f} ms | {ratio2:.2f}x | |",
            f"| readers alone (`read_artifacts` loop) | {read_best:.2f} s "
            f"| {1000 * read_best / count:.2f} ms | {read_best / ref:.2f}x | |",
            f"| readers, every layout unseen (cache cleared per file) | {cold_best:.2f} s "
            f"| {1000 * cold_best / count:.2f} ms | {cold_best / ref:.2f}x | |",
            f"| `scan --no-hash` as the CLI runs it, verdicts judged (1 job) | {judged_best:.2f} s "
            f"| {1000 * judged_best / count:.2f} ms | {judged_best / ref:.2f}x | |",
            "",
            f"Medians: 1-job scan {scan_median:.2f} s, reference {ref_median:.2f} s; the 1-job",
            f"ratio within each round ranged {ratios[0]:.2f}x to {ratios[-1]:.2f}x. The readers",
            "alone take "
            f"{100 * read_best / scan_best:.0f}% of the 1-job scan; the rest (walk, stat checks,",
            "records, batched catalog writes) is the pipeline's share. The reader validates",
            "every rule of the format (repeated keys, dtypes, shapes against offsets, tiling)",
            "and identifies the model from its keys, where the reference parses the header in",
            "Rust and checks nothing of the model's identity. Ordinary headers take a bulk",
            "path: a typed msgspec decode into structs (JSON types checked in C), set and list",
            "checks over all entries at once, repeated or unknown keys found by counting",
            "colons; anything unusual falls back to the strict per-entry parser, which words",
            "the error. `TensorInfo` is a msgspec struct (built in C, untracked by the GC);",
            "`identify()` works out each distinct tensor layout (names and shapes) once per",
            "process, which the row above with the cache cleared per file prices for a",
            "file of a layout not seen before; the scan keeps the cyclic GC off the objects",
            "alive when it starts; records go to the catalog as msgspec-encoded JSON. With",
            "`--jobs N` header-only files travel sixteen per task, since moving one task",
            "between processes costs about as much as reading one header. The `scan` command",
            "also judges every file (real person, sexual, minor risk: the verdicts row); that",
            "work belongs to the verdicts, whose own budget and benchmark are in Verdicts below.",
            "History of the 1-job ratio on this bench: 4.79x (first version), 2.46x (bulk",
            "header path), then under 1.5x with the typed decode, struct records, the layout",
            "cache, the GC setting and msgspec-encoded catalog JSON.",
            "",
            f"**Status: target {status}; measured {stamp}, load average {load:.1f} at the end**",
            "(the machine is shared: other suites running on the 2 cores slow the Python side",
            "more than the reference and eat the second worker of `--jobs 2`).",
            END,
            "",
        ]
    )
    write_section(BEGIN, END, section)
    print(f"\nupdated the Scan section of {DOCS.relative_to(ROOT)}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
