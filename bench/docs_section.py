"""The one place benchmarks write their figures: a marked section of docs/benchmarks.md each.

Each ``bench_<area>.py`` renders its section between ``<!-- bench_<area>:begin -->``
and ``<!-- bench_<area>:end -->`` and hands it here; the rest of the file
(other areas, prose between sections) is left as it is.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

DOCS = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
INTRO = """# Benchmarks

Every speed target is a ratio against a reference measured in the same run on
the same data, so a busy or different machine moves both sides together. Each
area has a script in `bench/` (`python bench/bench_<area>.py`, `--quick` for a
smoke run); `make bench` runs them all and each rewrites its own section below.
"""


def write_section(begin: str, end: str, section: str) -> None:
    """Replace the section between the markers ``begin`` and ``end``, or append it if new."""
    text = DOCS.read_text() if DOCS.exists() else INTRO
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end) + r"\n?", re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _: section, text)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    DOCS.parent.mkdir(parents=True, exist_ok=True)
    DOCS.write_text(text)


def load_note() -> str:
    """``load average L on N cores``, saying so when other work held the cores.

    Ratios hold up under load but scale-out figures do not, so a reader must know
    whether the machine was busy; a fixed "other work was running" would be false
    on a quiet run.
    """
    load, cores = os.getloadavg()[0], os.cpu_count() or 1
    busy = " (other work was running: scale-out figures are depressed)" if load >= cores else ""
    return f"load average {load:.1f} on {cores} cores{busy}"
