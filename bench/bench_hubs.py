"""Hub crawl costs and throughput, and Dask scale-out, each against a reference run alongside.

``python bench/bench_hubs.py [--quick]`` (``--quick``: smaller, docs untouched).

1. Header crawl of a synthetic hub served by ``likenessguard.testing.hubserver``
   with a per-request latency (a stand-in for the network): requests and bytes
   per file from the server's own counters, against downloading the files
   (the reference for bytes), and throughput with 16 connections against one
   connection (the reference for speed).
2. A listing-only crawl (sha256 bank matching): content bytes must be zero.
3. Dask: fingerprinting a batch of LoRAs (CPU-bound) on a LocalCluster with 2
   single-threaded worker processes against 1 (goal >= 1.6x).

Results go to docs/benchmarks.md (the Hubs section) and feed docs/scale.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
os.environ.pop("HF_HUB_OFFLINE", None)

from docs_section import load_note, write_section
from likenessguard.hubs.base import RepoQuery
from likenessguard.hubs.http import Politeness
from likenessguard.pipeline.crawl import (
    ConnectorSpec,
    Crawler,
    CrawlOptions,
    close_connectors,
)
from likenessguard.pipeline.executors.local import SerialExecutor, ThreadExecutor
from likenessguard.store.catalog import Catalog
from likenessguard.testing.hubserver import HubServer, synthetic_lora

BEGIN, END = "<!-- bench_hubs:begin -->", "<!-- bench_hubs:end -->"
LATENCY = 0.02  # seconds per request added by the server: a nearby CDN round trip


def build_hub(hub: HubServer, repos: int) -> None:
    """Repos shaped like real LoRA uploads: a card, a config and a 2.4 MB weights file."""
    for i in range(repos):
        rid = f"author{i % 10}/lora-{i:05d}"
        weights = synthetic_lora(
            i % 6, rank=16, modules=32, metadata={"ss_output_name": f"style_{i:05d}"}
        )
        hub.add_repo(
            rid,
            {
                "README.md": f"---\ntags: [lora]\n---\n# Style {i}\n".encode(),
                "config.json": b'{"rank": 16}',
                f"style_{i:05d}.safetensors": weights,
            },
            tags=["lora"],
        )


def crawl(hub: HubServer, connections: int, *, headers: bool = True) -> tuple[float, Any]:
    with tempfile.TemporaryDirectory(prefix="lg-bench-hubs-") as tmp:
        catalog = Catalog.open(f"sqlite:///{tmp}/c.db")
        spec = ConnectorSpec(
            "huggingface",
            endpoint=hub.url,
            policy=Politeness(rate=0, concurrency=connections, backoff=0.05),
        )
        executor = ThreadExecutor(connections) if connections > 1 else SerialExecutor()
        crawler = Crawler(
            spec,
            catalog,
            executor=executor,
            options=CrawlOptions(
                fingerprint="none", concurrency=connections, batch=50, read_headers=headers
            ),
        )
        hub.stats.reset()
        started = time.perf_counter()
        stats = crawler.crawl(RepoQuery())
        elapsed = time.perf_counter() - started
        executor.close()
        catalog.close()
        close_connectors()
    return elapsed, stats


def _fingerprint_file(path: str) -> int:
    from likenessguard.artifacts.base import FileSource
    from likenessguard.artifacts.open import read_artifacts
    from likenessguard.hashing.fingerprint import fingerprint_artifact

    [artifact] = read_artifacts(path)
    with FileSource(path) as source:
        fp = fingerprint_artifact(artifact, source)
    return fp.modules


def _spin(n: int) -> int:
    """Pure CPU work with no I/O: what 2 workers can gain on this machine right now."""
    total = 0
    for i in range(n):
        total = (total + i * i) % 1_000_003
    return total


def dask_scaling(files: list[str], rounds: int) -> tuple[dict[int, float], dict[int, float]]:
    """(fingerprint batch times, pure-CPU reference times) for 1 and 2 workers."""
    from likenessguard.pipeline.executors.dask import DaskExecutor

    out: dict[int, float] = {}
    ref: dict[int, float] = {}
    for workers in (1, 2):
        with DaskExecutor.from_address("dask-local", workers=workers) as ex:
            list(ex.map_unordered(_fingerprint_file, files[: workers * 2]))  # warm imports
            times, spins = [], []
            for _ in range(rounds):
                started = time.perf_counter()
                outcomes = list(ex.map_unordered(_fingerprint_file, files))
                times.append(time.perf_counter() - started)
                bad = [o.error for o in outcomes if o.error]
                if bad:
                    raise SystemExit(f"fingerprinting failed: {bad[0]}")
                started = time.perf_counter()
                list(ex.map_unordered(_spin, [2_000_000] * len(files)))
                spins.append(time.perf_counter() - started)
            out[workers] = min(times)
            ref[workers] = min(spins)
    return out, ref


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes; docs untouched")
    args = parser.parse_args()
    repos = 40 if args.quick else 200
    with HubServer(page_size=1000, latency=LATENCY) as hub:
        build_hub(hub, repos)
        sizes = [
            len(f.data)
            for r in hub.repos.values()
            for p, f in r.head.files.items()
            if p.endswith(".safetensors")
        ]
        headers = [
            8 + int.from_bytes(f.data[:8], "little")
            for r in hub.repos.values()
            for p, f in r.head.files.items()
            if p.endswith(".safetensors")
        ]
        t16, s16 = crawl(hub, 16)
        req = dict(hub.stats.requests)
        per_file_requests = sum(hub.stats.file_requests.values()) / len(sizes)
        per_file_bytes = hub.stats.content_bytes / len(sizes)
        max_file_requests = max(hub.stats.file_requests.values())
        t1, _ = crawl(hub, 1)
        tl, sl = crawl(hub, 16, headers=False)
        listing_content = hub.stats.content_bytes
        listing_req = dict(hub.stats.requests)
    assert s16.records == repos and sl.records == repos, (s16, sl)
    mean_size = statistics.mean(sizes)
    mean_header = statistics.mean(headers)

    with tempfile.TemporaryDirectory(prefix="lg-bench-fp-") as tmp:
        from likenessguard.testing import make_lora

        n = 6 if args.quick else 16
        files = [
            str(make_lora(Path(tmp) / f"l{i}.safetensors", "sdxl", "kohya", rank=16, seed=i))
            for i in range(n)
        ]
        scaling, spin = dask_scaling(files, 1 if args.quick else 2)
    speedup = scaling[1] / scaling[2]
    headroom = spin[1] / spin[2]

    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        BEGIN,
        "## Hubs",
        "",
        f"`python bench/bench_hubs.py`, {when}, {platform.machine()}, "
        f"CPython {platform.python_version()}, {load_note()}.",
        "",
        f"**Header crawl** of {repos} synthetic LoRA repos (card, config, one "
        f"{mean_size / 1e6:.1f} MB kohya LoRA with a {mean_header / 1e3:.1f} kB header) "
        f"served by `testing/hubserver.py` with {LATENCY * 1000:.0f} ms added per request, "
        "through the real `huggingface_hub` client and our ranged reads. Counts are the "
        "server's.",
        "",
        "| measurement | ours | reference | ratio | target |",
        "|---|---:|---:|---:|---:|",
        f"| requests per safetensors file | {per_file_requests:.2f} (max "
        f"{max_file_requests}) | 1 full GET | - | <= 2 |",
        f"| bytes per safetensors file | {per_file_bytes / 1024:.1f} KiB | full file "
        f"{mean_size / 1024:.0f} KiB | {per_file_bytes / mean_size:.3f} | <= header + 64 KiB "
        f"({(mean_header + 65536) / 1024:.1f} KiB) |",
        f"| header crawl, 16 connections | {repos / t16:.1f} repos/s ({t16:.2f} s) | "
        f"1 connection {repos / t1:.1f} repos/s ({t1:.2f} s) | {t1 / t16:.1f}x | - |",
        f"| listing-only crawl (sha256 matching), 16 connections | {repos / tl:.1f} repos/s, "
        f"{listing_content} content bytes | header crawl {repos / t16:.1f} repos/s | "
        f"{t16 / tl:.2f}x | 0 bytes |",
        f"| Dask fingerprinting of {len(files)} SDXL LoRAs, 2 workers | {scaling[2]:.2f} s | "
        f"1 worker {scaling[1]:.2f} s | {speedup:.2f}x | >= 1.6x |",
        f"| same clusters, pure-CPU loop (machine headroom) | {spin[2]:.2f} s | "
        f"1 worker {spin[1]:.2f} s | {headroom:.2f}x | the ceiling for the row above |",
        "",
        f"Requests per repo in the header crawl: listing "
        f"{req.get('models', 0) / repos:.3f}, tree {req.get('tree', 0) / repos:.2f}, "
        f"resolve {req.get('resolve', 0) / repos:.2f} (README + weights); listing-only: "
        f"resolve {listing_req.get('resolve', 0) / repos:.2f} (README only).",
        "The Dask batch is `likenessguard.hashing.fingerprint.fingerprint_artifact` over "
        "local files (single-threaded worker processes; LocalCluster start-up and worker "
        "imports excluded by a warm-up map).",
        END,
        "",
    ]
    section = "\n".join(lines)
    print(section)
    if not args.quick:
        write_section(BEGIN, END, section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
