"""``likenessguard bank ...``: create, fill, share and prune banks of banned (or allowed) models.

A trust-and-safety team lives on its ban lists: a spreadsheet of removed
models from a researcher, Civitai's API objects of takedowns, files they hold
themselves. These commands turn all of them into banks in the catalog, export
banks for other teams, and re-match the whole catalog when entries are added
(``--no-rematch`` skips that), so old uploads are caught the moment a ban lands.
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

from likenessguard.banks.io import read_bank_file, write_bank
from likenessguard.cli.common import DbOption, console, exit_on_error
from likenessguard.cli.exit_codes import ExitCode
from likenessguard.config import resolve_db_url
from likenessguard.errors import UsageError
from likenessguard.pipeline.match import entry_for, examine_file, rematch
from likenessguard.store.banks import (
    CatalogEngine,
    add_entries,
    create_bank,
    delete_bank,
    get_bank,
    list_banks,
    set_disabled,
)
from likenessguard.store.db import open_catalog

bank_app = typer.Typer(
    name="bank",
    help="Banks of banned (or allowed) models: create, import, add, export, disable.",
    no_args_is_help=True,
)


class ListFormat(StrEnum):
    TABLE = "table"
    JSONL = "jsonl"


class ExportFormat(StrEnum):
    CSV = "csv"
    JSONL = "jsonl"


NoRematch = Annotated[
    bool,
    typer.Option(
        "--no-rematch",
        help="Don't re-match the catalog against the bank afterwards "
        "(run 'likenessguard rematch' later).",
    ),
]


def _engine(db: str | None) -> CatalogEngine:
    return open_catalog(resolve_db_url(db))


def _rematch_after(engine: CatalogEngine, name: str, quiet: bool = False) -> None:
    report = rematch(engine, [name])
    if not quiet:
        console(stderr=True).print(
            f"rematched {report.artifacts} catalog artifacts against {name}: "
            f"{report.matched} match, {report.changed} changed",
            markup=False,
        )


@bank_app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="Bank name (letters, digits, '.', '_', '-').")],
    negative: Annotated[
        bool,
        typer.Option(
            "--negative",
            help="An allow bank: its entries suppress matches (known false positives).",
        ),
    ] = False,
    description: Annotated[str, typer.Option("--description", help="What the bank holds.")] = "",
    db: DbOption = None,
) -> None:
    """Create an empty bank."""
    with exit_on_error():
        create_bank(_engine(db), name, negative=negative, description=description)
    console().print(f"created {'negative ' if negative else ''}bank {name}", markup=False)


@bank_app.command("list")
def list_(
    output_format: Annotated[
        ListFormat, typer.Option("--format", "-f", help="table or jsonl.")
    ] = ListFormat.TABLE,
    db: DbOption = None,
) -> None:
    """List banks with their entry counts."""
    with exit_on_error():
        banks = list_banks(_engine(db))
    if output_format is ListFormat.JSONL:
        for b in banks:
            sys.stdout.write(json.dumps(b.to_json()) + "\n")
        return
    table = Table("bank", "type", "entries", "disabled", "description")
    for b in banks:
        table.add_row(
            escape(b.name),
            "allow" if b.negative else "ban",
            str(b.entries),
            str(b.disabled),
            escape(b.description),
        )
    console().print(table)


@bank_app.command("show")
def show(
    name: Annotated[str, typer.Argument(help="Bank name.")],
    output_format: Annotated[
        ListFormat, typer.Option("--format", "-f", help="table or jsonl (one entry per line).")
    ] = ListFormat.TABLE,
    limit: Annotated[int, typer.Option("--limit", help="Show at most this many entries.")] = 100,
    db: DbOption = None,
) -> None:
    """Show a bank's entries."""
    with exit_on_error():
        bank = get_bank(_engine(db), name)
    entries = bank.entries[:limit] if limit > 0 else bank.entries
    if output_format is ListFormat.JSONL:
        for e in entries:
            sys.stdout.write(json.dumps({"id": e.id, **e.to_json()}) + "\n")
        return
    out = console()
    kind = "allow" if bank.negative else "ban"
    out.print(f"{bank.name} ({kind} bank, {len(bank.entries)} entries)", markup=False)
    table = Table("id", "name", "hashes", "fingerprint", "source", "state")
    for e in entries:
        hashes = ", ".join(f"{k}:{v[:12]}" for k, v in e.hashes().items())
        table.add_row(
            str(e.id),
            escape(e.name or "-"),
            escape(hashes or "-"),
            e.fingerprint.split(":")[1] if e.fingerprint else "-",
            escape(e.source_url or "-"),
            "disabled" if e.disabled else "active",
        )
    out.print(table)
    if len(bank.entries) > len(entries):
        out.print(f"... {len(bank.entries) - len(entries)} more (use --limit 0)", markup=False)


@bank_app.command("delete")
def delete(
    name: Annotated[str, typer.Argument(help="Bank name.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Don't ask for confirmation.")] = False,
    db: DbOption = None,
) -> None:
    """Delete a bank, its entries and the matches they produced."""
    if not yes and not typer.confirm(f"delete bank {name} and all its entries?"):
        raise typer.Exit(int(ExitCode.USAGE))
    with exit_on_error():
        n = delete_bank(_engine(db), name)
    console().print(f"deleted bank {name} ({n} entries)", markup=False)


@bank_app.command("import")
def import_(  # noqa: PLR0917  (Typer maps each option to a parameter)
    name: Annotated[str, typer.Argument(help="Bank name.")],
    file: Annotated[
        Path,
        typer.Argument(
            help="CSV/TSV (a header naming any of sha256, autov1, autov2, autov3, blake3, crc32, "
            "fingerprint, name, source_url, reason, subject), JSONL, or Civitai API JSON."
        ),
    ],
    skip_bad: Annotated[
        bool,
        typer.Option("--skip-bad", help="Import the good lines and report the bad ones."),
    ] = False,
    create: Annotated[
        bool, typer.Option("--create", help="Create the bank if it is missing.")
    ] = False,
    added_by: Annotated[
        str | None, typer.Option("--added-by", help="Who vouches for these entries.")
    ] = None,
    no_rematch: NoRematch = False,
    db: DbOption = None,
) -> None:
    """Import entries from a bank file; duplicates merge into existing entries."""
    err = console(stderr=True)
    with exit_on_error():
        engine = _engine(db)
        result = read_bank_file(file, skip_bad=skip_bad, added_by=added_by)
        if create and name not in {b.name for b in list_banks(engine)}:
            create_bank(engine, name)
        added = add_entries(engine, name, result.entries, added_by=added_by)
    for problem in result.errors:
        err.print(f"skipped {file}: {problem}", markup=False)
    console().print(
        f"{name}: {len(added.added)} added, {added.merged} merged into existing entries, "
        f"{len(result.errors)} bad lines skipped",
        markup=False,
    )
    if not no_rematch and added.touched:
        with exit_on_error():
            _rematch_after(engine, name)


@bank_app.command("add")
def add(  # noqa: PLR0917  (Typer maps each option to a parameter)
    name: Annotated[str, typer.Argument(help="Bank name.")],
    files: Annotated[
        list[Path], typer.Argument(help="Model files to ban (all hashes + fingerprint).")
    ],
    reason: Annotated[str | None, typer.Option("--reason", help="Why they are banned.")] = None,
    subject: Annotated[str | None, typer.Option("--subject", help="The person depicted.")] = None,
    source_url: Annotated[
        str | None, typer.Option("--source-url", help="Where they were found.")
    ] = None,
    added_by: Annotated[str | None, typer.Option("--added-by", help="Who banned them.")] = None,
    no_rematch: NoRematch = False,
    db: DbOption = None,
) -> None:
    """Add model files to a bank: every hash and the weight fingerprint of each."""
    err = console(stderr=True)
    entries = []
    for path in files:
        for res in examine_file(str(path)):
            for problem in (*res.errors, *res.warnings):
                err.print(f"{problem}", markup=False)
            entry = entry_for(
                res, reason=reason, subject=subject, source_url=source_url, added_by=added_by
            )
            if entry is None:
                err.print(f"{path}: nothing to add (no hashes and no fingerprint)", markup=False)
                continue
            entries.append(entry)
    if not entries:
        with exit_on_error():
            raise UsageError("none of the files could be hashed or fingerprinted; nothing added")
    with exit_on_error():
        engine = _engine(db)
        added = add_entries(engine, name, entries, added_by=added_by)
    console().print(
        f"{name}: {len(added.added)} added, {added.merged} merged into existing entries",
        markup=False,
    )
    if not no_rematch and added.touched:
        with exit_on_error():
            _rematch_after(engine, name)


@bank_app.command("export")
def export(
    name: Annotated[str, typer.Argument(help="Bank name.")],
    output_format: Annotated[
        ExportFormat, typer.Option("--format", "-f", help="csv or jsonl.")
    ] = ExportFormat.CSV,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
    ] = None,
    db: DbOption = None,
) -> None:
    """Export a bank (fingerprints included) for another team to import."""
    with exit_on_error():
        bank = get_bank(_engine(db), name)
    if output is None:
        write_bank(bank.entries, sys.stdout, output_format.value)
        return
    with output.open("w", encoding="utf-8", newline="") as fh:
        n = write_bank(bank.entries, fh, output_format.value)
    console(stderr=True).print(f"wrote {n} entries to {output}", markup=False)


def _toggle(name: str, refs: list[str], db: str | None, disabled: bool) -> None:
    with exit_on_error():
        engine = _engine(db)
        changed = [i for ref in refs for i in set_disabled(engine, name, ref, disabled)]
    word = "disabled" if disabled else "enabled"
    console().print(f"{name}: {word} {len(changed)} entries", markup=False)
    with exit_on_error():
        _rematch_after(engine, name)


@bank_app.command("disable")
def disable(
    name: Annotated[str, typer.Argument(help="Bank name.")],
    refs: Annotated[list[str], typer.Argument(help="Entry ids or any of their hashes.")],
    db: DbOption = None,
) -> None:
    """Disable entries without deleting them (they stop matching)."""
    _toggle(name, refs, db, True)


@bank_app.command("enable")
def enable(
    name: Annotated[str, typer.Argument(help="Bank name.")],
    refs: Annotated[list[str], typer.Argument(help="Entry ids or any of their hashes.")],
    db: DbOption = None,
) -> None:
    """Enable disabled entries again."""
    _toggle(name, refs, db, False)


def register(app: typer.Typer) -> None:
    app.add_typer(bank_app, name="bank")
