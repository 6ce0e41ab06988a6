"""The console table: what a moderator reads at the end of a scan.

Most severe first, so the files that need a human are on top; errors stay
visible in their own column because a file that could not be read was not
checked, which is not the same as clean.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, TextIO

from rich.console import Console
from rich.table import Table
from rich.text import Text

from likenessguard.reports.base import fired_labels, severity_of, sort_key
from likenessguard.verdicts.base import Severity

SEVERITY_STYLE: dict[Severity, str] = {
    Severity.CRITICAL: "bold white on red",
    Severity.HIGH: "bold red",
    Severity.MEDIUM: "yellow",
    Severity.LOW: "cyan",
    Severity.NONE: "dim",
}


def _matches(record: Mapping[str, Any]) -> str:
    parts = []
    for m in record.get("matches") or ():
        if m.get("negative"):
            continue
        entry = m.get("entry") or {}
        name = entry.get("name") or entry.get("id") or "?"
        sim = m.get("similarity", 1.0)
        how = m.get("method", "?") if sim >= 1.0 else f"{m.get('method', '?')} {sim:.2f}"
        parts.append(f"{m.get('bank', '?')}:{name} ({how})")
    return "\n".join(parts)


def _problems(record: Mapping[str, Any]) -> Text:
    text = Text()
    for finding in record.get("findings") or ():
        text.append(f"{finding.get('code')}: {finding.get('message')}\n", style="bold red")
    for error in record.get("errors") or ():
        text.append(f"{error}\n", style="red")
    text.rstrip()
    return text


def _label(record: Mapping[str, Any], base: str | None) -> str:
    path = str(record.get("path") or "")
    if base and path.startswith(base + os.sep):
        path = path[len(base) + 1 :]
    member = record.get("member")
    return f"{path} ! {member}" if member else path


def _common_base(records: list[Mapping[str, Any]]) -> str | None:
    """The folder every local path is under, so rows can show short relative paths."""
    paths = [str(r.get("path") or "") for r in records]
    if not paths or not all(os.path.isabs(p) for p in paths):
        return None
    base = os.path.commonpath(paths)
    if base in paths:  # a single file, or one path is the base itself
        base = os.path.dirname(base)
    return base if base and base != os.sep else None


class TableReport:
    """Collects records and prints one Rich table, most severe first."""

    def __init__(self, out: TextIO, *, title: str | None = None, color: bool | None = None) -> None:
        self.console = Console(
            file=out,
            highlight=False,
            soft_wrap=False,
            no_color=color is False,
            force_terminal=True if color else None,
            # Pipes get a wide table unless COLUMNS says otherwise (Rich reads it).
            width=None if out.isatty() or "COLUMNS" in os.environ else 200,
        )
        self.title = title
        self.records: list[Mapping[str, Any]] = []

    def add(self, record: Mapping[str, Any]) -> None:
        self.records.append(record)

    def close(self) -> None:
        if not self.records:
            self.console.print("no model files found")
            return
        base = _common_base(self.records)
        table = Table(
            title=self.title,
            caption=f"paths are under {base}" if base else None,
            show_lines=False,
            expand=False,
        )
        table.add_column("path", overflow="fold", ratio=3)
        table.add_column("kind")
        table.add_column("family")
        table.add_column("severity")
        table.add_column("labels")
        table.add_column("matches", overflow="fold")
        table.add_column("findings / errors", overflow="fold", ratio=2)
        ordered = sorted(self.records, key=sort_key)
        ordered.sort(key=lambda r: -int(severity_of(r)))
        for r in ordered:
            sev = severity_of(r)
            table.add_row(
                _label(r, base),
                str(r.get("kind") or "-"),
                str(r.get("base_family") or "-"),
                Text(sev.label, style=SEVERITY_STYLE[sev]),
                ", ".join(fired_labels(r)),
                _matches(r),
                _problems(r),
            )
        self.console.print(table)
