"""The catalog opens and migrates on both backends, and re-opening is idempotent."""

from __future__ import annotations

from likenessguard.store.db import normalize_url, open_catalog, table_names


def test_open_catalog_creates_core_tables_and_is_idempotent(catalog_url: str) -> None:
    engine = open_catalog(catalog_url)
    assert "artifacts" in table_names(engine)
    engine.dispose()
    engine = open_catalog(catalog_url)
    assert "artifacts" in table_names(engine)
    engine.dispose()


def test_normalize_url_accepts_short_spellings() -> None:
    assert normalize_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_url("/tmp/x.db") == "sqlite:////tmp/x.db"
