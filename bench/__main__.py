"""Run every bench/bench_*.py in turn: ``python -m bench [--quick]`` (``make bench``).

Each benchmark runs in its own interpreter so one area's memory and threads do
not skew the next one's figures; arguments are passed on to each. The exit code
is 1 if any benchmark failed, after all have run.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    scripts = sorted(HERE.glob("bench_*.py"))
    if not scripts:
        print("no bench/bench_*.py found", file=sys.stderr)
        return 1
    failed: list[str] = []
    for script in scripts:
        print(f"== {script.name} {' '.join(argv)}".rstrip(), flush=True)
        started = time.perf_counter()
        result = subprocess.run([sys.executable, str(script), *argv], check=False)
        elapsed = time.perf_counter() - started
        status = "ok" if result.returncode == 0 else f"FAILED (exit {result.returncode})"
        print(f"== {script.name}: {status} in {elapsed:.1f} s\n", flush=True)
        if result.returncode != 0:
            failed.append(script.name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
