"""The Typer application: one module per command group, each exposing ``register(app)``.

Errors that reach here become one line on stderr and a documented exit code
(see ``exit_codes``); tracebacks are for bugs only.
"""

from __future__ import annotations

import importlib
import sys

import typer

from likenessguard.cli.exit_codes import ExitCode
from likenessguard.errors import (
    BankError,
    ConfigError,
    HubError,
    LikenessGuardError,
    StoreError,
    UsageError,
)

# Each name is a module in this package with a ``register(app)`` function.
COMMAND_MODULES: tuple[str, ...] = (
    "demo",
    "crawl",
    "hash",
    "inspect",
    "scan",
    "serve",
    "users",
    "verdicts",
    "registry",
    "demo_hub",
    "bank",
    "match",
    "takedown",
)

app = typer.Typer(
    name="likenessguard",
    help="Scan AI model hubs for real-person likeness models, sexual and minor-risk "
    "adapters, and copies of banned models.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def root() -> None:
    """Scan AI model hubs for real-person likeness, sexual and minor-risk models."""


@app.command()
def version() -> None:
    """Print the likenessguard version."""
    from likenessguard import __version__

    typer.echo(__version__)


def build_app() -> typer.Typer:
    for name in COMMAND_MODULES:
        module = importlib.import_module(f"likenessguard.cli.{name}")
        module.register(app)
    return app


def exit_code_for(exc: LikenessGuardError) -> ExitCode:
    if isinstance(exc, UsageError | ConfigError | BankError):
        return ExitCode.USAGE
    if isinstance(exc, StoreError | HubError):
        return ExitCode.ENVIRONMENT
    return ExitCode.USAGE


def main() -> None:
    """Console entry point."""
    cli = build_app()
    try:
        # Standalone mode handles usage errors (exit 2) and Ctrl-C itself.
        cli(prog_name="likenessguard")
    except LikenessGuardError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(exit_code_for(exc))
