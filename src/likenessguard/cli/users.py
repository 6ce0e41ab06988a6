"""``likenessguard users``: accounts of the review app, from the shell.

The first admin can only come from here (the web app has no sign-up), and
API tokens for automation are printed once and kept only as a hash.
"""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from likenessguard.cli.common import DbOption
from likenessguard.config import resolve_db_url
from likenessguard.errors import UsageError


def _engine(db: str | None) -> Any:
    from likenessguard.store.db import open_catalog

    return open_catalog(resolve_db_url(db))


def register(app: typer.Typer) -> None:
    users = typer.Typer(
        help="Review app accounts: create, list, disable, API tokens.", no_args_is_help=True
    )
    app.add_typer(users, name="users")

    @users.command("create")
    def create(
        name: Annotated[str, typer.Argument(help="User name (letters, digits, . _ -).")],
        *,
        db: DbOption = None,
        admin: Annotated[bool, typer.Option("--admin", help="Shorthand for --role admin.")] = False,
        role: Annotated[
            str, typer.Option("--role", help="admin, reviewer or viewer.")
        ] = "reviewer",
        password_stdin: Annotated[
            bool,
            typer.Option(
                "--password-stdin", help="Read the password from the first line of stdin."
            ),
        ] = False,
        one_time: Annotated[
            bool,
            typer.Option("--one-time", help="The user must change the password at first sign-in."),
        ] = False,
    ) -> None:
        """Create an account (the first admin: ``users create NAME --admin``)."""
        from likenessguard.store.review import create_user

        if admin:
            role = "admin"
        if password_stdin:
            password = sys.stdin.readline().rstrip("\r\n")
        else:
            password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
        if not password:
            raise UsageError("no password given: type one, or pipe it with --password-stdin")
        user = create_user(
            _engine(db), name, password, role=role, must_change_password=one_time, actor="cli"
        )
        typer.echo(f"created {user.role} {user.name}")

    @users.command("list")
    def list_(db: DbOption = None) -> None:
        """List accounts with their role and state."""
        from likenessguard.store.review import list_users

        for u in list_users(_engine(db)):
            state = (
                "disabled"
                if u.disabled
                else ("one-time password" if u.must_change_password else "active")
            )
            typer.echo(f"{u.name}\t{u.role}\t{state}")

    @users.command("disable")
    def disable(name: str, db: DbOption = None) -> None:
        """Disable an account; its sessions and API tokens stop working at once."""
        from likenessguard.store.review import set_disabled

        set_disabled(_engine(db), name, True, actor="cli")
        typer.echo(f"disabled {name}")

    @users.command("enable")
    def enable(name: str, db: DbOption = None) -> None:
        """Re-enable a disabled account (its old tokens stay revoked)."""
        from likenessguard.store.review import set_disabled

        set_disabled(_engine(db), name, False, actor="cli")
        typer.echo(f"enabled {name}")

    @users.command("token")
    def token(
        name: str,
        db: DbOption = None,
        label: Annotated[str, typer.Option(help="What the token is for.")] = "",
    ) -> None:
        """Issue an API token for NAME and print it (shown once; only its hash is kept)."""
        from likenessguard.store.review import create_api_token

        typer.echo(create_api_token(_engine(db), name, label=label, actor="cli"))
