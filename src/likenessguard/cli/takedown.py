"""``likenessguard takedown``: the requester key that encrypts takedown requests.

Requester data (names, handles, links, contact) is sealed with the
``requester_key`` setting, or with a key file in the data directory when the
setting is empty (``registry.sealing``). These commands make a key and rotate
to a new one without losing any stored request.
"""

from __future__ import annotations

from typing import Annotated

import typer

from likenessguard.cli.common import DbOption
from likenessguard.config import load_settings, resolve_db_url


def register(app: typer.Typer) -> None:
    takedown = typer.Typer(
        help="Takedown requests: the key that encrypts requester data.", no_args_is_help=True
    )
    app.add_typer(takedown, name="takedown")

    @takedown.command("new-key")
    def new_key() -> None:
        """Print a fresh requester key (for the requester_key setting)."""
        from likenessguard.registry.sealing import generate_key

        typer.echo(generate_key())

    @takedown.command("rotate-key")
    def rotate_key(
        *,
        db: DbOption = None,
        keep_old: Annotated[
            bool,
            typer.Option("--keep-old", help="Key file only: keep the old keys after the new one."),
        ] = False,
    ) -> None:
        """Re-encrypt every stored request with the newest key.

        With the requester_key setting: put the new key first (NEW,OLD), run this,
        then remove OLD. With the key file: a new key is generated and put first,
        every request is re-encrypted, and the old keys are dropped from the file.
        """
        from likenessguard.registry.sealing import (
            Sealer,
            generate_key,
            key_file,
            parse_keys,
            requester_sealer,
        )
        from likenessguard.store.db import open_catalog
        from likenessguard.store.review import rotate_requester_key

        setting = load_settings().get("requester_key", "")
        engine = open_catalog(resolve_db_url(db))
        try:
            if parse_keys(setting):
                sealer = requester_sealer(setting)
                count = rotate_requester_key(engine, sealer)
                typer.echo(
                    f"re-encrypted {count} takedown request(s) with the first key of "
                    "requester_key; the other keys in it can now be removed"
                )
                return
            old = requester_sealer("")  # the key file (generated if missing)
            path = key_file()
            new = generate_key()
            # the new key goes first before anything is re-sealed: a crash between
            # the steps leaves a file that still opens every row
            path.write_text("\n".join([new, *old.keys]) + "\n", encoding="utf-8")
            count = rotate_requester_key(engine, Sealer([new, *old.keys], origin=str(path)))
            if not keep_old:
                path.write_text(new + "\n", encoding="utf-8")
            typer.echo(f"re-encrypted {count} takedown request(s) with a new key in {path}")
        finally:
            engine.dispose()
