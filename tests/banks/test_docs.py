"""docs/records.md's bank tables equal the keys the bank commands write."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from likenessguard.banks.base import BankEntry
from likenessguard.banks.io import EXPORT_FIELDS
from likenessguard.pipeline.match import FileResult, MirrorCluster, MirrorMember, RematchReport
from likenessguard.store.banks import BankSummary
from tests.docs_tables import key_tables

DOCS = Path(__file__).resolve().parents[2] / "docs" / "records.md"

_member = MirrorMember(1, "file:///a", "/a", "local", None, None, "2026-01-01", None, 1.0)
PRODUCERS: dict[str, Callable[[], list[str]]] = {
    "bank-entry": lambda: list(EXPORT_FIELDS),
    "bank-summary": lambda: list(BankSummary("b", False, "", 0, 0, datetime.now(UTC)).to_json()),
    "match-result": lambda: list(FileResult("/a", None, None, None).to_json()),
    "rematch-report": lambda: list(RematchReport(0, 0, 0, 0, 0).to_json()),
    "mirror-cluster": lambda: list(MirrorCluster((_member,), ("sha256",)).to_json()),
    "mirror-member": lambda: list(_member.to_json()),
}


def tables() -> dict[str, list[str]]:
    return key_tables(DOCS.read_text(encoding="utf-8"), "bank-keys", str(DOCS))


def test_every_bank_table_has_a_producer() -> None:
    assert set(tables()) == set(PRODUCERS)


@pytest.mark.parametrize("name", sorted(PRODUCERS))
def test_bank_tables_equal_the_written_keys(name: str) -> None:
    assert tables()[name] == PRODUCERS[name]()


def test_export_fields_cover_every_entry_field() -> None:
    full = BankEntry(
        name="n",
        sha256="a" * 64,
        autov1="a" * 8,
        autov2="a" * 10,
        autov3="a" * 12,
        blake3="b" * 64,
        crc32="c" * 8,
        fingerprint="f",
        source_url="u",
        reason="r",
        subject="s",
        added_by="x",
        added_at=datetime.now(UTC),
        disabled=True,
    )
    assert list(full.to_json()) == list(EXPORT_FIELDS)
