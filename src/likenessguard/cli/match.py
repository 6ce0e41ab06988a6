"""``likenessguard match | rematch | mirrors``: is this a banned model, and where are its copies?

``match`` answers for files on disk (an upload queue, a moderator's download)
without touching the catalog; ``rematch`` re-checks the whole catalog against
the banks from stored hashes and fingerprints; ``mirrors`` lists clusters of
copies across hubs and repos, the earliest-seen first.

Exit codes: ``match`` exits 1 when any file matches a ban (so it can gate an
upload), 2 when no file could be read at all.
"""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from likenessguard.banks.matcher import Matcher
from likenessguard.cli.common import DbOption, console, exit_on_error
from likenessguard.cli.exit_codes import ExitCode
from likenessguard.config import resolve_db_url
from likenessguard.pipeline.match import find_mirrors, match_files, rematch
from likenessguard.store.banks import load_banks
from likenessguard.store.db import open_catalog


class OutFormat(StrEnum):
    TABLE = "table"
    JSONL = "jsonl"


MinSimilarity = Annotated[
    float | None,
    typer.Option(
        "--min-similarity",
        min=0.0,
        max=1.0,
        help="Fingerprint similarity that counts as a copy (default: per kind, see docs/banks.md).",
    ),
]


def match(
    paths: Annotated[list[Path], typer.Argument(help="Model files to check.")],
    bank: Annotated[
        list[str] | None,
        typer.Option("--bank", "-b", help="Bank to match against (repeatable; default: all)."),
    ] = None,
    output_format: Annotated[
        OutFormat, typer.Option("--format", "-f", help="jsonl (one record per artifact) or table.")
    ] = OutFormat.JSONL,
    min_similarity: MinSimilarity = None,
    db: DbOption = None,
) -> None:
    """Match files against banks by every hash and by weight fingerprint."""
    err = console(stderr=True)
    with exit_on_error():
        engine = open_catalog(resolve_db_url(db))
        matcher = Matcher(load_banks(engine, bank or None), min_similarity=min_similarity)
        engine.dispose()
    for problem in matcher.skipped:
        err.print(problem, markup=False)
    results = match_files([str(p) for p in paths], matcher)
    readable = 0
    hit = False
    table = Table("path", "bank", "entry", "method", "similarity")
    for res in results:
        for problem in (*res.errors, *res.warnings):
            err.print(problem, markup=False)
        if res.hashes is not None or res.fingerprint is not None:
            readable += 1
        hit = hit or any(not m.negative for m in res.matches)
        if output_format is OutFormat.JSONL:
            sys.stdout.write(json.dumps(res.to_json()) + "\n")
            continue
        if not res.matches:
            table.add_row(escape(res.path), "-", "-", "no match", "-")
        for m in res.matches:
            label = m.entry.get("name") or f"#{m.entry.get('id')}"
            bank_name = m.bank + (" (allow)" if m.negative else "")
            table.add_row(
                escape(res.path),
                escape(bank_name),
                escape(str(label)),
                m.method,
                f"{m.similarity:.3f}",
            )
    if output_format is OutFormat.TABLE:
        console().print(table)
    if readable == 0:
        raise typer.Exit(int(ExitCode.USAGE))
    if hit:
        raise typer.Exit(int(ExitCode.FINDINGS))


def rematch_cmd(
    bank: Annotated[
        list[str] | None,
        typer.Option("--bank", "-b", help="Only re-match against this bank (repeatable)."),
    ] = None,
    min_similarity: MinSimilarity = None,
    output_format: Annotated[
        OutFormat, typer.Option("--format", "-f", help="table (a summary line) or jsonl.")
    ] = OutFormat.TABLE,
    db: DbOption = None,
) -> None:
    """Re-match the whole catalog against banks from stored hashes and fingerprints."""
    with exit_on_error():
        engine = open_catalog(resolve_db_url(db))
        report = rematch(engine, bank or None, min_similarity=min_similarity)
    for problem in report.problems:
        console(stderr=True).print(problem, markup=False)
    if output_format is OutFormat.JSONL:
        sys.stdout.write(json.dumps(report.to_json()) + "\n")
        return
    console().print(
        f"{report.artifacts} artifacts re-matched: {report.matched} match a ban, "
        f"{report.changed} changed, {report.fingerprints_stored} fingerprints stored",
        markup=False,
    )


def mirrors(
    min_similarity: MinSimilarity = None,
    output_format: Annotated[
        OutFormat, typer.Option("--format", "-f", help="table or jsonl (one cluster per line).")
    ] = OutFormat.TABLE,
    db: DbOption = None,
) -> None:
    """Clusters of copies across the catalog (same hash or near-same weights), earliest first."""
    with exit_on_error():
        engine = open_catalog(resolve_db_url(db))
        clusters = find_mirrors(engine, min_similarity)
    if output_format is OutFormat.JSONL:
        for c in clusters:
            sys.stdout.write(json.dumps(c.to_json()) + "\n")
        return
    out = console()
    if not clusters:
        out.print("no mirrors: every artifact in the catalog is unique", markup=False)
    for n, c in enumerate(clusters, start=1):
        out.print(f"cluster {n}: {len(c.members)} copies (by {', '.join(c.methods)})", markup=False)
        table = Table("first seen", "hub", "repo", "path", "similarity")
        for m in c.members:
            table.add_row(
                m.first_seen[:19],
                m.hub,
                escape(m.repo or "-"),
                escape(m.path),
                "-" if m.similarity is None else f"{m.similarity:.3f}",
            )
        out.print(table)


def register(app: typer.Typer) -> None:
    app.command("match")(match)
    app.command("rematch")(rematch_cmd)
    app.command("mirrors")(mirrors)
