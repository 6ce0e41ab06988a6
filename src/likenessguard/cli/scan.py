"""``likenessguard scan`` and ``findings``: scan folders into the catalog, show what matters.

``scan`` is the command CI jobs and hub hooks run, so its output and exit code
are contracts: records go to stdout in the chosen format, progress and the
summary go to stderr, and the exit code says whether anything at or above
``--fail-on`` was found (see ``exit_codes`` and docs/cli.md).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from likenessguard.cli.common import (
    DbOption,
    FormatOption,
    console,
    exit_on_error,
    is_interactive,
    open_catalog,
    parse_severity,
)
from likenessguard.cli.exit_codes import ExitCode
from likenessguard.config import load_settings
from likenessguard.errors import UsageError
from likenessguard.pipeline.analyzers import build_analyzers
from likenessguard.pipeline.base import ScanTarget
from likenessguard.pipeline.executors.local import make_executor
from likenessguard.pipeline.scanner import (
    ScanEvent,
    Scanner,
    ScanStats,
    chunk_size,
    root_prefix,
)
from likenessguard.pipeline.walk import WalkProblem, walk
from likenessguard.reports.base import ReportFormat, make_report, severity_of
from likenessguard.verdicts.base import Severity


def _summary(stats: ScanStats, elapsed: float, worst: Severity, catalog_url: str) -> str:
    parts = [
        f"{stats.files} file{'s' if stats.files != 1 else ''}",
        f"{stats.scanned} read",
        f"{stats.skipped} unchanged",
        f"{stats.errored} with errors",
    ]
    return (
        f"scanned {', '.join(parts)} ({stats.records} records) in {elapsed:.1f}s; "
        f"worst severity: {worst.label}; catalog: {catalog_url}"
    )


def scan_command(  # noqa: PLR0917  (Typer maps each option to a parameter)
    paths: Annotated[
        list[Path],
        typer.Argument(help="Files and folders to scan (folders recursively).", metavar="PATH..."),
    ],
    db: DbOption = None,
    output_format: FormatOption = ReportFormat.TABLE,
    no_hash: Annotated[
        bool,
        typer.Option(
            "--no-hash", help="Read headers only; skip the six hashes (much faster on big files)."
        ),
    ] = False,
    jobs: Annotated[
        int,
        typer.Option("--jobs", "-j", help="Parallel worker processes (0 = one per core).", min=0),
    ] = 1,
    fail_on: Annotated[
        str,
        typer.Option(
            "--fail-on",
            help="Exit 1 when a record is at or above this severity: low, medium, high, critical. "
            "An unsafe-pickle finding counts as critical, a bank match as high.",
        ),
    ] = "high",
    bank: Annotated[
        list[str] | None,
        typer.Option("--bank", help="Also match files against this bank (repeatable)."),
    ] = None,
    rescan: Annotated[
        bool,
        typer.Option("--rescan", help="Re-read every file, even those unchanged since last scan."),
    ] = False,
    prune: Annotated[
        bool,
        typer.Option(
            "--prune", help="Remove catalog rows of files that are gone from the scanned folders."
        ),
    ] = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No progress bar and no summary line.")
    ] = False,
) -> None:
    """Scan model files and folders into the catalog and report what was found.

    Unchanged files (same size, mtime and inode) are not read again; their stored
    records are reported. A broken or hostile file becomes a record with errors
    and the scan goes on.
    """
    err = console(stderr=True)
    with exit_on_error():
        threshold = parse_severity(fail_on, option="--fail-on")
        if threshold is Severity.NONE:
            raise UsageError("--fail-on: use low, medium, high or critical ('none' always fails)")
        catalog = open_catalog(db)
        analyzers = build_analyzers(
            load_settings(), tuple(bank or ()), catalog=catalog, fingerprint=not no_hash
        )
        executor = make_executor(jobs, chunk_size=chunk_size(not no_hash))
    started = time.monotonic()
    scanner = Scanner(
        catalog, hash_files=not no_hash, analyzers=analyzers, executor=executor, force=rescan
    )
    report = make_report(output_format, sys.stdout, title="likenessguard scan")
    existing = [p for p in paths if os.path.lexists(p)]
    worst = Severity.NONE
    seen: set[str] = set()
    unreadable: list[str] = []
    show_progress = is_interactive() and not quiet
    try:
        with exit_on_error():
            scanner.preload(root_prefix(p) for p in existing if os.path.exists(p))
            events: Iterator[ScanEvent]
            if show_progress:
                events = _with_progress(scanner, list(walk(paths)), err)
            else:
                events = scanner.run(walk(paths))
            for event in events:
                uri = (event.record.get("location") or {}).get("uri")
                if uri is None:  # a path the user named that does not exist
                    for message in event.record.get("errors") or ():
                        err.print(f"error: {message}", markup=False)
                    continue
                seen.add(str(uri))
                if event.status == "failed":
                    # A folder that could not be read hides its files; never prune them.
                    unreadable.append(str(uri).rstrip("/") + "/")
                worst = max(worst, severity_of(event.record))
                report.add(event.record)
            if prune:
                gone = [
                    uri
                    for p in existing
                    if os.path.isdir(p)
                    for uri in catalog.stats_under(root_prefix(p))
                    if uri not in seen and not uri.startswith(tuple(unreadable))
                ]
                removed = catalog.delete(gone)
                if removed and not quiet:
                    err.print(f"pruned {removed} catalog rows of files that are gone", markup=False)
    finally:
        executor.close()
        report.close()
        catalog.close()
    stats = scanner.stats
    if not quiet:
        err.print(_summary(stats, time.monotonic() - started, worst, catalog.url), markup=False)
    if worst >= threshold:
        raise typer.Exit(ExitCode.FINDINGS)
    if stats.scanned + stats.skipped == 0:
        if not quiet:
            reason = (
                "no path exists"
                if len(stats.missing) == len(paths)
                else "no model file was readable"
            )
            err.print(f"error: nothing could be scanned: {reason}", markup=False)
        raise typer.Exit(ExitCode.USAGE)


def _with_progress(
    scanner: Scanner, items: list[ScanTarget | WalkProblem], err: Console
) -> Iterator[ScanEvent]:
    """Scan with a transient progress bar on stderr (a terminal only; pipes stay clean)."""
    progress = Progress(
        TextColumn("scanning"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.description}", markup=False),
        console=err,
        transient=True,
    )
    with progress:
        task = progress.add_task("", total=len(items))
        for event in scanner.run(items):
            # One event per record: archive members beyond the first do not advance.
            if not event.record.get("member") or event.scan_record is None:
                progress.update(
                    task, advance=1, description=str(event.record.get("path", ""))[-60:]
                )
            yield event


def findings_command(
    db: DbOption = None,
    output_format: FormatOption = ReportFormat.TABLE,
    min_severity: Annotated[
        str,
        typer.Option(
            "--min-severity", help="Only records at or above: none, low, medium, high, critical."
        ),
    ] = "low",
    errors: Annotated[
        bool, typer.Option("--errors", help="Show records of files that could not be read instead.")
    ] = False,
    limit: Annotated[
        int | None, typer.Option("--limit", help="At most this many records.", min=1)
    ] = None,
) -> None:
    """Show the catalog's findings, most severe first (or its unreadable files with --errors)."""
    with exit_on_error():
        minimum = parse_severity(min_severity, option="--min-severity")
        catalog = open_catalog(db)
        try:
            report = make_report(output_format, sys.stdout, title=f"findings in {catalog.url}")
            records = (
                catalog.iter_records(with_errors=True, limit=limit)
                if errors
                else catalog.iter_records(min_severity=minimum, limit=limit)
            )
            for record in records:
                report.add(record)
            report.close()
        finally:
            catalog.close()


def register(app: typer.Typer) -> None:
    app.command("scan")(scan_command)
    app.command("findings")(findings_command)
