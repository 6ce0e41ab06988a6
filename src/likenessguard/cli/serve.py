"""``likenessguard serve``: run the review web app with uvicorn.

One worker serves from this process; ``--workers N`` starts N processes that
build the app from the environment (same catalog, same secret key), so cookies
and forms stay valid whichever worker answers.
"""

from __future__ import annotations

import os
from typing import Annotated

import typer

from likenessguard.cli.common import DbOption
from likenessguard.config import load_settings, resolve_db_url
from likenessguard.errors import UsageError


def register(app: typer.Typer) -> None:
    @app.command()
    def serve(
        *,
        db: DbOption = None,
        host: Annotated[
            str, typer.Option(help="Address to listen on; keep 127.0.0.1 behind a TLS proxy.")
        ] = "127.0.0.1",
        port: Annotated[int, typer.Option(help="TCP port.", min=1, max=65535)] = 8000,
        workers: Annotated[int, typer.Option(help="Worker processes.", min=1, max=64)] = 1,
        cookie_secure: Annotated[
            str,
            typer.Option(
                help="auto: Secure cookies when the request came over TLS "
                "(X-Forwarded-Proto: https); always; never."
            ),
        ] = "auto",
        trust_proxy: Annotated[
            bool,
            typer.Option(help="Take client addresses from X-Forwarded-For (rate limits)."),
        ] = False,
    ) -> None:
        """Serve the review queue, case pages, takedown form and JSON API."""
        import uvicorn

        from likenessguard.store.db import open_catalog, safe_url
        from likenessguard.web.app import app_from_env
        from likenessguard.web.settings import persistent_secret

        if cookie_secure not in ("auto", "always", "never"):
            raise UsageError("--cookie-secure must be auto, always or never")
        url = resolve_db_url(db)
        engine = open_catalog(url)  # migrate once, and fail fast on a bad URL
        secret = load_settings()["secret_key"] or persistent_secret()
        typer.echo(
            f"likenessguard review on http://{host}:{port}/ (catalog {safe_url(engine)})", err=True
        )
        engine.dispose()
        # Every worker (one or many) builds the app the same way, from these.
        os.environ["LIKENESSGUARD_DB"] = url
        os.environ["LIKENESSGUARD_SECRET_KEY"] = secret
        os.environ["LIKENESSGUARD_WEB_COOKIE_SECURE"] = cookie_secure
        os.environ["LIKENESSGUARD_WEB_TRUST_PROXY"] = "1" if trust_proxy else ""
        if workers == 1:
            uvicorn.run(app_from_env(), host=host, port=port, server_header=False)
            return
        uvicorn.run(
            "likenessguard.web.app:app_from_env",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            server_header=False,
        )
