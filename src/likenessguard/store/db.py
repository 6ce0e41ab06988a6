"""Opening the catalog: engine creation, SQLite tuning and Alembic migrations.

Migrations are split into branches, one per concern (``core``, ``banks``,
``review``, ``hubs``), each depending on ``core``; opening a catalog upgrades
to every head, so each concern evolves its tables without touching the others.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import msgspec
from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.pool import NullPool

from likenessguard.errors import StoreError

MIGRATIONS = Path(__file__).with_name("migrations")


class Base(DeclarativeBase):
    """Declarative base shared by every catalog table."""


def normalize_url(url: str) -> str:
    """Accept the short spellings users type and return a SQLAlchemy URL.

    ``postgresql://`` and ``postgres://`` mean psycopg 3; a bare path means SQLite.
    """
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url[len("postgresql://") :]
    if "://" not in url:
        return f"sqlite:///{Path(url).expanduser().resolve()}"
    return url


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    # WAL lets the web app read while a scan writes; NORMAL sync is durable at
    # transaction granularity in WAL mode, which is what crash-safety needs.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    # Deleted rows are zeroed, not left in free space: withdrawing a takedown
    # request must leave no copy of the requester's data (store.review.scrub_deleted).
    cur.execute("PRAGMA secure_delete=ON")
    cur.close()


_encode_json = msgspec.json.encode


def json_dumps(value: Any) -> str:
    """JSON column text: msgspec rather than the stdlib ``json`` SQLAlchemy uses by default.

    Every scanned artifact stores its whole record (~20 KB for a kohya LoRA) and
    encoding it with ``json.dumps`` was a tenth of a header-only scan. msgspec
    writes the same JSON about five times faster, and writes NaN as ``null``
    where ``json.dumps`` writes ``NaN``, which is not JSON and which PostgreSQL
    refuses.
    """
    return _encode_json(value).decode("utf-8")


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine for ``url`` (SQLite file, in-memory, or PostgreSQL)."""
    url = normalize_url(url)
    kwargs.setdefault("json_serializer", json_dumps)
    kwargs.setdefault("json_deserializer", msgspec.json.decode)
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1] if "///" in url else ""
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        kwargs.setdefault("poolclass", NullPool)
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection_engine"] = engine
    return cfg


#: Alembic loads ``env.py`` and the version scripts through a shared module
#: table, so two threads upgrading at once see each other's half-loaded modules
#: (``KeyError: 'config'``). Threaded crawls open the catalog from several
#: stages at once, so upgrades in one process take turns.
_MIGRATE_LOCK = threading.Lock()


def migrate(engine: Engine) -> None:
    """Upgrade the catalog to every branch head (idempotent, safe to call on each open).

    The whole upgrade is one transaction. On SQLite that needs an explicit
    ``BEGIN IMMEDIATE``: the sqlite3 driver would otherwise commit each
    ``CREATE TABLE`` on its own, and a kill during the first open of a new
    catalog left tables without an Alembic version row, so every later open
    failed with "table artifacts already exists". ``IMMEDIATE`` also makes two
    processes that open a new catalog at once take turns instead of both
    creating it.
    """
    try:
        with _MIGRATE_LOCK, engine.connect() as conn:
            sqlite = conn.dialect.name == "sqlite"
            if sqlite:
                raw = conn.connection.dbapi_connection
                raw.isolation_level = None  # type: ignore[union-attr]
                raw.execute("BEGIN IMMEDIATE")  # type: ignore[union-attr]
            try:
                with conn.begin():
                    cfg = alembic_config(engine)
                    cfg.attributes["connection"] = conn
                    command.upgrade(cfg, "heads")
            finally:
                if sqlite:
                    # Back to the driver's own transaction handling for whoever
                    # gets this connection next (NullPool closes it, a custom
                    # pool might not).
                    raw.isolation_level = ""  # type: ignore[union-attr]
    except OperationalError as exc:
        raise StoreError(
            f"couldn't open the catalog at {safe_url(engine)}: {exc.orig}; "
            "check --db / LIKENESSGUARD_DB and that the database server is running"
        ) from exc
    except SQLAlchemyError as exc:
        raise StoreError(f"couldn't migrate the catalog at {safe_url(engine)}: {exc}") from exc


def open_catalog(url: str) -> Engine:
    """Open (creating and migrating as needed) the catalog at ``url``."""
    engine = make_engine(url)
    migrate(engine)
    return engine


def safe_url(engine: Engine) -> str:
    """The engine URL with any password hidden, for messages."""
    return engine.url.render_as_string(hide_password=True)


def table_names(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names())
