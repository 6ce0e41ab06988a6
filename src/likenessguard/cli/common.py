"""Options and helpers every catalog command shares: ``--db``, ``--format``, consoles, errors.

One definition per option keeps flags and their help identical across
commands (a flag name ships: scripts depend on it), and one error helper keeps
the exit-code contract of ``exit_codes`` in a single place.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from rich.console import Console

from likenessguard.config import resolve_db_url
from likenessguard.errors import LikenessGuardError, UsageError
from likenessguard.reports.base import ReportFormat
from likenessguard.store.catalog import Catalog
from likenessguard.verdicts.base import Severity

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="Catalog URL (sqlite:///path or postgresql://...). "
        "Default: $LIKENESSGUARD_DB, else catalog.db in the user data directory.",
        show_default=False,
    ),
]

FormatOption = Annotated[
    ReportFormat,
    typer.Option(
        "--format",
        "-f",
        help="table for people; json, jsonl (one record per line, streamed) or sarif "
        "(2.1.0, for code-scanning dashboards) for machines.",
        case_sensitive=False,
    ),
]


def console(*, stderr: bool = False) -> Console:
    """A Rich console that never reinterprets paths as markup and never folds long lines."""
    return Console(stderr=stderr, highlight=False, soft_wrap=True)


def is_interactive() -> bool:
    """True when stderr is a terminal (progress bars and spinners go there, never to pipes)."""
    return sys.stderr.isatty()


def parse_severity(text: str, *, option: str) -> Severity:
    """A severity name for ``option``, or a usage error that lists the valid ones."""
    try:
        return Severity.parse(text)
    except ValueError as exc:
        raise UsageError(f"{option}: {exc}") from None


def open_catalog(db: str | None) -> Catalog:
    """Open the catalog named by ``--db`` (or the environment, or the default)."""
    return Catalog.open(resolve_db_url(db))


def fail(exc: LikenessGuardError) -> typer.Exit:
    """Print ``error: ...`` on one line to stderr and return the exit to raise."""
    from likenessguard.cli.app import exit_code_for

    # Driver messages (psycopg, sqlite) span lines; the contract is one line per error.
    console(stderr=True).print(f"error: {' '.join(str(exc).split())}", markup=False)
    return typer.Exit(int(exit_code_for(exc)))


@contextmanager
def exit_on_error() -> Iterator[None]:
    """Turn a LikenessGuardError raised inside the block into its documented exit code.

    Example::

        with exit_on_error():
            catalog = open_catalog(db)
    """
    try:
        yield
    except LikenessGuardError as exc:
        raise fail(exc) from None
