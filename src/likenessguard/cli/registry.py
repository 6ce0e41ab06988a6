"""``likenessguard registry add|import|list|remove|search``: the protected-person registry.

People who asked for protection, and lists a platform imports. A registry hit
makes ``real_person`` fire with the subject's id; ``search`` finds a subject
in everything already scanned, from stored evidence, without re-reading files.
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from likenessguard.cli.common import DbOption, console, exit_on_error
from likenessguard.cli.exit_codes import ExitCode
from likenessguard.config import resolve_db_url
from likenessguard.store import registry as store
from likenessguard.store.db import open_catalog

registry_app = typer.Typer(
    help="Manage protected people (names, aliases, handles).", no_args_is_help=True
)


class ListFormat(StrEnum):
    TABLE = "table"
    JSON = "json"


@registry_app.command("add")
def add(  # noqa: PLR0917 (Typer maps each parameter to an option)
    name: Annotated[str, typer.Argument(help="The person's name as usually written.")],
    alias: Annotated[
        list[str] | None,
        typer.Option("--alias", help="Another name, stage name or transliteration; repeatable."),
    ] = None,
    handle: Annotated[
        list[str] | None, typer.Option("--handle", help="A social handle (@name); repeatable.")
    ] = None,
    note: Annotated[
        str | None, typer.Option("--note", help="A note for reviewers (no contact data).")
    ] = None,
    source: Annotated[
        str, typer.Option("--source", help="Where the subject came from.")
    ] = "manual",
    db: DbOption = None,
) -> None:
    """Add a subject (or merge names into an existing one); prints its id."""
    with exit_on_error():
        engine = open_catalog(resolve_db_url(db))
        sid = store.add_subject(
            engine, name=name, aliases=alias or (), handles=handle or (), source=source, note=note
        )
    typer.echo(sid)


@registry_app.command("import")
def import_(
    file: Annotated[
        Path, typer.Argument(help="CSV (name,aliases,handles,note; lists split on |) or JSONL.")
    ],
    db: DbOption = None,
) -> None:
    """Import subjects; bad lines are reported with their line number and skipped."""
    with exit_on_error():
        engine = open_catalog(resolve_db_url(db))
        ids, errors = store.import_subjects(engine, file)
    err = console(stderr=True)
    for e in errors:
        err.print(f"error: {e}", markup=False)
    typer.echo(
        f"imported {len(ids)} subjects from {file}"
        + (f" ({len(errors)} lines skipped)" if errors else "")
    )
    if not ids and errors:
        raise typer.Exit(int(ExitCode.USAGE))


@registry_app.command("list")
def list_(
    db: DbOption = None,
    fmt: Annotated[ListFormat, typer.Option("--format", "-f")] = ListFormat.TABLE,
) -> None:
    """List subjects."""
    with exit_on_error():
        engine = open_catalog(resolve_db_url(db))
        subjects = store.list_subjects(engine)
    if fmt is ListFormat.JSON:
        typer.echo(json.dumps([s.to_json() for s in subjects], ensure_ascii=False))
        return
    for s in subjects:
        extra = ", ".join([*s.aliases, *s.handles])
        typer.echo(f"{s.id}  {s.name}" + (f"  ({extra})" if extra else "") + f"  [{s.source}]")


@registry_app.command("remove")
def remove(
    subject: Annotated[str, typer.Argument(help="A subject id (subj_...) or exact name.")],
    db: DbOption = None,
) -> None:
    """Remove a subject."""
    with exit_on_error():
        engine = open_catalog(resolve_db_url(db))
        removed = store.remove_subject(engine, subject)
    if not removed:
        console(stderr=True).print(
            f"error: no subject {subject!r} in the registry: see 'likenessguard registry list'",
            markup=False,
        )
        raise typer.Exit(int(ExitCode.USAGE))
    typer.echo(f"removed {subject}")


@registry_app.command("search")
def search(
    subject: Annotated[str, typer.Argument(help="A subject id (subj_...).")],
    db: DbOption = None,
) -> None:
    """Find a subject in every record already in the catalog (from stored evidence)."""
    with exit_on_error():
        engine = open_catalog(resolve_db_url(db))
        hits = store.search_subject(engine, subject)
    for uri, v in hits:
        typer.echo(f"{v.severity.label:<9} {uri}")
    typer.echo(f"{len(hits)} records match {subject}")


def register(app: typer.Typer) -> None:
    app.add_typer(registry_app, name="registry")
