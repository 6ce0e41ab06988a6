"""Reading speed: ``read_artifacts`` on SDXL kohya LoRAs against ``safetensors.safe_open``.

The scan target (3,000 SDXL LoRAs with ~700 tensors and ~10 KB of metadata,
``scan --no-hash`` within 2x of a ``safe_open`` loop reading metadata and keys)
is dominated by this reader: the strict header validation, metadata decoding,
identification and the ``.alpha`` scalar reads. This script measures exactly
that, against the reference loop over the same files in the same run.

Files: a few distinct LoRAs (different seeds, full kohya metadata) hard-linked
to 3,000 paths, so the benchmark needs ~50 MB of disk rather than 15 GB; every
path is opened, stat'ed and parsed separately, and all are in the page cache.

    python bench/bench_read.py            # 3,000 files, updates docs/benchmarks.md
    python bench/bench_read.py --quick    # 300 files, docs untouched
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from safetensors import safe_open  # noqa: E402

from docs_section import write_section  # noqa: E402  (bench/ is on sys.path)
from likenessguard.artifacts.open import read_artifacts  # noqa: E402
from likenessguard.testing import make_lora  # noqa: E402

TARGET = 2.0
BEGIN, END = "<!-- bench_read:begin -->", "<!-- bench_read:end -->"
DISTINCT = 10
MODULES = 233  # x3 tensors (down, up, alpha) = ~700 tensors, as a typical SDXL LoRA


def build(folder: Path, count: int) -> list[Path]:
    sources = [
        make_lora(folder / f"src_{i}.safetensors", "sdxl", modules=MODULES, rank=1, seed=i)
        for i in range(DISTINCT)
    ]
    paths = []
    for n in range(count):
        path = folder / f"lora_{n:05d}.safetensors"
        os.link(sources[n % DISTINCT], path)
        paths.append(path)
    return paths


def reference(paths: list[Path]) -> None:
    for path in paths:
        with safe_open(str(path), framework="numpy") as f:
            f.metadata()
            list(f.keys())


def ours(paths: list[Path]) -> None:
    for path in paths:
        (artifact,) = read_artifacts(path)
        if artifact.errors:
            raise SystemExit(f"unexpected error: {artifact.errors[0]}")


def best_of(fns: dict[str, Callable[[], None]], rounds: int) -> dict[str, float]:
    # Interleaved rounds: load from other work on the machine hits both sides alike.
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(rounds):
        for name, fn in fns.items():
            started = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - started)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="300 files; docs untouched")
    parser.add_argument("--files", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=None)
    args = parser.parse_args()
    count = args.files or (300 if args.quick else 3000)
    rounds = args.rounds or (2 if args.quick else 5)
    with tempfile.TemporaryDirectory(prefix="lg-bench-read-") as tmp:
        paths = build(Path(tmp), count)
        (sample,) = read_artifacts(paths[0])
        header = sample.data_offset or 0
        best = best_of({"reference": lambda: reference(paths), "ours": lambda: ours(paths)},
                       rounds)  # fmt: skip
    ratio = best["ours"] / best["reference"]
    load = os.getloadavg()[0]
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    ok = "meets" if ratio <= TARGET else "misses"
    section = f"""{BEGIN}
## Reading artifacts

`python bench/bench_read.py`: {count:,} SDXL kohya LoRAs ({len(sample.tensors)} tensors,
{header:,}-byte header with full kohya metadata each; {DISTINCT} distinct files hard-linked to
{count:,} paths, all in the page cache), best of {rounds} interleaved rounds.

Measured {stamp} on {os.cpu_count()} cores, {platform.python_implementation()}
{platform.python_version()}; load average {load:.1f} at the end.

| what | seconds | per file | ratio |
|---|---:|---:|---:|
| `safetensors.safe_open`: metadata + keys (reference) | {best["reference"]:.3f} | {best["reference"] / count * 1e3:.2f} ms | 1.00 |
| **`read_artifacts`**: strict validation, metadata decoding, identification, alpha reads | {best["ours"]:.3f} | {best["ours"] / count * 1e3:.2f} ms | **{ratio:.2f}** (target <= {TARGET}, {ok}) |

Where the time goes (profiled): the typed header decode into msgspec structs
(~0.5 ms for a 100 KB header, `__metadata__` decoded a second time as a string
map), the bulk checks, one `TensorInfo` struct per tensor (~0.1 ms for 700, built
in C), the JSON-in-string metadata, and `identify()` (~0.1 ms when the tensor
layout was seen before in the process, ~1 ms for a new layout: grouping ~700
keys into modules); the cyclic GC is paused during a parse. The reference parses
in Rust and builds no per-tensor objects. The ratio depends on machine load:
other suites on the 2 cores slow the Python side more than the Rust one.
{END}
"""  # noqa: E501
    print(section)
    if not args.quick:
        write_section(BEGIN, END, section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
