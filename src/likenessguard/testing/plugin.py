"""pytest plugin (entry point ``likenessguard``): catalog fixtures on SQLite and PostgreSQL.

``catalog_url`` runs a test once per backend: a fresh SQLite file, and a fresh
PostgreSQL database on the local server (``LIKENESSGUARD_TEST_PG``, default
``postgresql://postgres@127.0.0.1:5432/postgres``) that is dropped afterwards.
``demo_hub`` and ``hostile_corpus`` build the fixture hub and the hostile inputs
once per session, for end-to-end tests.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from likenessguard.testing.demo import DemoHub

PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def _pg_admin_url() -> str:
    return os.environ.get("LIKENESSGUARD_TEST_PG", PG_ADMIN_URL)


def _pg_conninfo(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A fresh SQLite catalog file URL."""
    return f"sqlite:///{tmp_path / 'catalog.db'}"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database URL, dropped after the test."""
    import psycopg

    admin = _pg_admin_url()
    name = f"lg_test_{uuid.uuid4().hex[:12]}"
    try:
        conn = psycopg.connect(_pg_conninfo(admin), autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.fail(
            f"PostgreSQL is not reachable at {admin} ({exc}); start it with "
            "'pg_ctlcluster --skip-systemctl-redirect 15 main start' or set LIKENESSGUARD_TEST_PG"
        )
    with conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = _pg_conninfo(admin).rpartition("/")
    try:
        yield f"postgresql+psycopg://{base.split('://', 1)[1]}/{name}"
    finally:
        with psycopg.connect(_pg_conninfo(admin), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def catalog_url(request: pytest.FixtureRequest) -> str:
    """A fresh catalog URL, once on SQLite and once on PostgreSQL."""
    name = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    return str(request.getfixturevalue(name))


@pytest.fixture(scope="session")
def demo_hub(tmp_path_factory: pytest.TempPathFactory) -> DemoHub:
    """The 200-repo demo hub (``likenessguard.testing.demo.DemoHub``), built once per session.

    Read-only: tests that modify files should build their own with ``build_demo_hub``.
    """
    from likenessguard.testing.demo import build_demo_hub

    return build_demo_hub(tmp_path_factory.mktemp("demo_hub"), repos=200, seed=0)


@pytest.fixture(scope="session")
def hostile_corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every hostile input of ``likenessguard.testing.hostile`` (case name -> path), built once."""
    from likenessguard.testing.hostile import build_hostile_corpus

    return build_hostile_corpus(tmp_path_factory.mktemp("hostile"))
