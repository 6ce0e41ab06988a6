"""Hashing speed and memory: all six hashes vs ``openssl dgst -sha256`` on the same file.

Targets (issue 2): all six hashes of a 1 GiB file in at most 1.5x the time of
``openssl dgst -sha256`` alone, measured in the same run with the file in the
page cache; peak RSS while hashing a 4 GiB file at most 200 MB.

The files are random bytes shaped as a safetensors file (a real header, one U8
tensor covering the rest), so autov3's second full sha256 pass runs: the worst
case. They are written to a temporary directory and deleted afterwards.

Usage::

    python bench/bench_hashing.py            # 1 GiB and 4 GiB, updates docs/benchmarks.md
    python bench/bench_hashing.py --quick    # 64 MiB and 256 MiB smoke run, docs untouched
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from docs_section import DOCS, write_section  # noqa: E402  (bench/ is on sys.path)
from likenessguard.hashing.file_hashes import (  # noqa: E402
    DEFAULT_CHUNK_SIZE,
    POOL_BUFFERS,
    MultiHasher,
    hash_file,
)

MiB = 1 << 20
GiB = 1 << 30
TARGET_RATIO = 1.5
TARGET_RSS_MB = 200
BEGIN, END = "<!-- bench_hashing:begin -->", "<!-- bench_hashing:end -->"
HEADER_LEN = 128  # padded with spaces, as the safetensors library pads to 8 bytes


def write_safetensors_shaped(path: Path, size: int) -> int:
    """Write ``size`` bytes: a valid safetensors header, then random tensor data."""
    payload = size - 8 - HEADER_LEN
    header = json.dumps(
        {
            "__metadata__": {"format": "pt"},
            "payload": {"dtype": "U8", "shape": [payload], "data_offsets": [0, payload]},
        }
    ).encode()
    assert len(header) <= HEADER_LEN
    header = header.ljust(HEADER_LEN, b" ")
    with path.open("wb") as f:
        f.write(HEADER_LEN.to_bytes(8, "little") + header)
        left = payload
        while left:
            n = min(left, 16 * MiB)
            f.write(os.urandom(n))
            left -= n
    return 8 + HEADER_LEN


def _cpu_seconds() -> float:
    """CPU time of this process (all threads) plus its waited-for children (openssl)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def best_of(runs: int, fn: Callable[[], object]) -> tuple[float, float]:
    """Best wall time and best CPU time over ``runs`` calls.

    CPU time is the work done whatever else the machine is running; wall time
    is what the target is about, and suffers when other work takes the cores.
    """
    wall = cpu = float("inf")
    for _ in range(runs):
        started, started_cpu = time.perf_counter(), _cpu_seconds()
        fn()
        wall = min(wall, time.perf_counter() - started)
        cpu = min(cpu, _cpu_seconds() - started_cpu)
    return wall, cpu


def openssl_sha256(path: Path) -> None:
    subprocess.run(["openssl", "dgst", "-sha256", str(path)], check=True, capture_output=True)


def coreutils_sha256(path: Path) -> None:
    subprocess.run(["sha256sum", str(path)], check=True, capture_output=True)


def one_thread(path: Path) -> None:
    """The same six hashers fed in the calling thread: what the two lanes buy."""
    hasher = MultiHasher(total_size=path.stat().st_size)
    buffer = memoryview(bytearray(DEFAULT_CHUNK_SIZE))
    with path.open("rb", buffering=0) as f:
        while n := f.readinto(buffer):
            hasher.update(buffer[:n])
    hasher.finish()


def sha256_only(path: Path) -> None:
    digest = hashlib.sha256()
    buffer = memoryview(bytearray(DEFAULT_CHUNK_SIZE))
    with path.open("rb", buffering=0) as f:
        while n := f.readinto(buffer):
            digest.update(buffer[:n])


def read_only(path: Path) -> None:
    """The copy from the page cache alone: the floor under any readinto design."""
    buffer = memoryview(bytearray(DEFAULT_CHUNK_SIZE))
    with path.open("rb", buffering=0) as f:
        while f.readinto(buffer):
            pass


# VmHWM, not ru_maxrss: Linux carries ru_maxrss across fork+exec, so a child's
# figure would include the (larger) bench process it was spawned from.
RSS_CHILD = """
import re, sys
sys.path.insert(0, {src!r})
from likenessguard.hashing.file_hashes import hash_file
if {hash!r}:
    hash_file({path!r})
status = open("/proc/self/status").read()
print(re.search(r"VmHWM:\\s+(\\d+) kB", status).group(1))
"""


def peak_rss_mb(path: Path, *, do_hash: bool) -> float:
    """Peak RSS of a fresh interpreter that imports the hasher and (optionally) hashes ``path``."""
    code = RSS_CHILD.format(src=str(ROOT / "src"), hash=do_hash, path=str(path))
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return int(out.stdout.strip()) / 1024  # Linux reports KiB


@dataclass
class Row:
    name: str
    seconds: float
    cpu: float
    reference: float
    note: str = ""

    @property
    def ratio(self) -> float:
        return self.seconds / self.reference


def fmt_size(size: int) -> str:
    return f"{size / GiB:g} GiB" if size >= GiB else f"{size / MiB:g} MiB"


def measure(path: Path, size: int, runs: int, extras: bool) -> list[Row]:
    openssl_sha256(path)  # warm the page cache and the binary
    hash_file(path)
    # Interleaved so that load from other work on the machine hits both alike,
    # and more pairs than the other rows: the headline ratio deserves them.
    ref = cand = (float("inf"), float("inf"))
    for _ in range(runs + 2):
        ref = min_pair(ref, best_of(1, lambda: openssl_sha256(path)))
        cand = min_pair(cand, best_of(1, lambda: hash_file(path)))
    rows = [Row("`openssl dgst -sha256` (reference)", *ref, ref[0])]
    rows.append(Row("**`hash_file`: all six hashes**", *cand, ref[0], "target <= 1.5"))
    if extras:
        variants: list[tuple[str, Callable[[], object], int]] = [
            (
                f"`hash_file`, chunk_size={c // MiB} MiB",
                partial(hash_file, path, chunk_size=c),
                runs,
            )
            for c in (1 * MiB, 2 * MiB, 4 * MiB, 8 * MiB, 16 * MiB)
            if c != DEFAULT_CHUNK_SIZE
        ]
        variants += [
            ("six hashes in one thread (`MultiHasher.update`)", partial(one_thread, path), runs),
            ("hashlib sha256 alone, same read loop", partial(sha256_only, path), runs),
            ("read loop alone (page cache copy)", partial(read_only, path), runs),
            ("coreutils `sha256sum` (one run)", partial(coreutils_sha256, path), 1),
        ]
        for name, fn, n in variants:
            rows.append(Row(name, *best_of(n, fn), ref[0]))
    print(f"\n{fmt_size(size)} file:")
    for row in rows:
        rate = size / row.seconds / 1e9
        print(
            f"  {row.name:<55} {row.seconds:7.3f} s  {rate:5.2f} GB/s  x{row.ratio:.2f}"
            f"  cpu {row.cpu:6.3f} s"
        )
    return rows


def min_pair(a: tuple[float, float], b: tuple[float, float]) -> tuple[float, float]:
    return min(a[0], b[0]), min(a[1], b[1])


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    version = subprocess.run(["openssl", "version"], check=False, capture_output=True, text=True)
    openssl = version.stdout.strip()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    nice = os.nice(0) if hasattr(os, "nice") else 0
    priority = f", run at niceness {nice} (both sides)" if nice else ""
    return (
        f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, {openssl}; "
        f"load average {load:.1f} at the end (other work was running when it is near or "
        f"above the core count){priority}"
    )


def render(
    small: list[Row], small_size: int, big: list[Row], big_size: int, rss: float, base: float
) -> str:
    lines = [
        BEGIN,
        "## Hashing",
        "",
        "`python bench/bench_hashing.py`: all six hashes (sha256, autov1, autov2, autov3,",
        "blake3, crc32) of a safetensors-shaped file of random bytes (so autov3's second",
        "sha256 pass runs), in the page cache, against `openssl dgst -sha256` on the same",
        "file in the same run, interleaved with it (best of N+2 pairs; other rows best of N).",
        "Ratio = time / openssl's time.",
        "",
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {machine()}.",
        "",
    ]
    for size, rows in ((small_size, small), (big_size, big)):
        lines += [
            f"**{fmt_size(size)}**",
            "",
            "| what | seconds | GB/s | ratio | CPU seconds |",
            "|---|---:|---:|---:|---:|",
        ]
        for row in rows:
            lines.append(
                f"| {row.name} | {row.seconds:.3f} | {size / row.seconds / 1e9:.2f} | "
                f"{row.ratio:.2f}{' (' + row.note + ')' if row.note else ''} | {row.cpu:.3f} |"
            )
        lines.append("")
    ratio = small[1].ratio
    verdict = "meets it" if ratio <= TARGET_RATIO else "MISSES it"
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    if ratio > TARGET_RATIO and load >= (os.cpu_count() or 1):
        verdict = (
            f"MISSES it on this run, which was measured under load {load:.1f} on "
            f"{os.cpu_count()} cores: inconclusive, rerun on an idle machine"
        )
    rss_verdict = "meets" if rss <= TARGET_RSS_MB else "MISSES"
    lines += [
        f"- Target all six hashes <= {TARGET_RATIO}x openssl on {fmt_size(small_size)}: "
        f"**x{ratio:.2f}**, {verdict}.",
        f"- CPU work: the six hashes cost x{small[1].cpu / small[0].cpu:.2f} the CPU time of "
        "openssl's one sha256 (two sha256 passes, blake3, crc32 and the copy). Spread over two "
        f"idle cores that is a wall ratio near x{small[1].cpu / small[0].cpu / 2:.2f}; when "
        "other work holds the cores (see the load average above) the wall ratio rises toward "
        "the CPU ratio, because openssl needs one core and this needs two.",
        f"- Peak RSS hashing the {fmt_size(big_size)} file (a fresh interpreter, "
        f"`VmHWM`): **{rss:.0f} MB** ({base:.0f} MB of it is the interpreter and imports "
        f"alone); target <= {TARGET_RSS_MB} MB: {rss_verdict} it. The buffer pool is "
        f"{POOL_BUFFERS} x {DEFAULT_CHUNK_SIZE // MiB} MiB whatever the file size.",
        "- Why it is this fast: one read feeds two hashing threads (lane A: sha256 + blake3;",
        "  lane B: autov3's sha256 + crc32 + autov1), each releasing the GIL on "
        f"{DEFAULT_CHUNK_SIZE // MiB} MiB chunks, so",
        "  the two full sha256 passes run on different cores; crc32 uses ISA-L (~3x zlib).",
        '  The reader\'s copy from the page cache (see "read loop alone") is the remaining',
        "  overhead; mmap would avoid it but a file truncated while mapped kills the process",
        "  with SIGBUS, which a scanner of other people's files cannot risk.",
        END,
    ]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="64 MiB / 256 MiB, no docs update")
    parser.add_argument("--dir", type=Path, default=None, help="where to write the test files")
    parser.add_argument("--runs", type=int, default=3, help="best of N (default 3)")
    args = parser.parse_args()
    if shutil.which("openssl") is None:
        print("openssl is not installed: it is the reference; install it", file=sys.stderr)
        return 2
    small_size, big_size = (64 * MiB, 256 * MiB) if args.quick else (GiB, 4 * GiB)

    # 5 GiB of temporary files: a plain `kill` must still delete them.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    workdir = Path(tempfile.mkdtemp(prefix="lg-bench-hash-", dir=args.dir))
    try:
        small, big = workdir / "small.safetensors", workdir / "big.safetensors"
        print(f"writing {fmt_size(small_size)} and {fmt_size(big_size)} of random data...")
        offset = write_safetensors_shaped(small, small_size)
        assert hash_file(small).autov3 is not None, "the bench file must exercise autov3"
        assert hash_file(small, data_offset=offset) == hash_file(small)
        write_safetensors_shaped(big, big_size)

        small_rows = measure(small, small_size, args.runs, extras=True)
        big_rows = measure(big, big_size, min(args.runs, 2), extras=False)
        base = peak_rss_mb(big, do_hash=False)
        rss = peak_rss_mb(big, do_hash=True)
        print(f"\npeak RSS hashing {fmt_size(big_size)}: {rss:.0f} MB (interpreter: {base:.0f} MB)")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    ratio = small_rows[1].ratio
    print(
        f"six hashes / openssl on {fmt_size(small_size)}: x{ratio:.2f} (target <= {TARGET_RATIO})"
    )
    if not args.quick:
        write_section(BEGIN, END, render(small_rows, small_size, big_rows, big_size, rss, base))
        print(f"\nupdated the Hashing section of {DOCS.relative_to(ROOT)}")
    ok = ratio <= TARGET_RATIO and rss <= TARGET_RSS_MB
    if not ok:
        print("a target was missed", file=sys.stderr)
    return 0 if ok or args.quick else 1


if __name__ == "__main__":
    sys.exit(main())
