"""docs/records.md (Review app section) and docs/web.md check themselves against the code.

Each ``<!-- review-keys: NAME -->`` table must list, in order, the keys the
review app writes for ``NAME``; docs/web.md must list every route the app has.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from likenessguard.store import review
from likenessguard.store.hubs import Removal
from likenessguard.verdicts.base import Severity
from likenessguard.web.app import create_app, route_table
from likenessguard.web.settings import WebSettings
from tests.docs_tables import key_tables

DOCS = Path(__file__).resolve().parents[2] / "docs"
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def tables() -> dict[str, list[str]]:
    return key_tables(
        (DOCS / "records.md").read_text(encoding="utf-8"), "review-keys", "docs/records.md"
    )


def _case() -> review.CaseSummary:
    return review.CaseSummary(
        1,
        2,
        "main",
        "open",
        Severity.HIGH,
        0.9,
        ("sexual",),
        (),
        "local",
        "sdxl",
        None,
        NOW,
        "/m/a.safetensors",
        None,
        "0" * 32,
    )


def produced() -> dict[str, list[str]]:
    detail = review.CaseDetail(_case(), {"uri": "u"}, {}, (), (), 0)
    notice_keys = [
        "notice",
        "issued_at",
        "deadline",
        "policy_clause",
        "policy_text",
        "decided_at",
        "locations",
        "hashes",
        "fingerprint",
        "severity",
        "labels",
        "evidence",
        "contact",
    ]
    return {
        "case": list(_case().to_json()),
        # the API adds the preview count to the detail
        "case-detail": [*detail.to_json(), "previews"],
        "decision": list(review.Decision("confirm", None, None, "", None, NOW).to_json()),
        "removal": list(Removal("hf", "a/b", "repo-deleted", None, NOW, "repo.delete").to_json()),
        "mirror": list(review.Mirror(1, "u", "local", None, None, "sha256", None).to_json()),
        "audit": list(review.AuditEntry(1, NOW, "a", "b", "c", None, None).to_json()),
        "takedown-status": list(review.TakedownStatus("TD-1", "active", NOW).to_json()),
        "notice": notice_keys,
        "bank-export": list(review.BANK_COLUMNS),
        "user": list(review.User(1, "a", "admin").to_json()),
    }


def test_review_key_tables_match_the_code() -> None:
    documented = tables()
    expected = produced()
    assert set(documented) == set(expected)
    for name, keys in expected.items():
        assert documented[name] == keys, f"docs/records.md review table {name!r} drifted"


def test_notice_keys_are_what_takedown_notice_writes(sqlite_url: str, tmp_path: Path) -> None:
    from likenessguard.store.db import open_catalog

    from .conftest import case_of, seed_catalog, seed_users

    engine = open_catalog(sqlite_url)
    ids = seed_catalog(engine, tmp_path)
    users = seed_users(engine)
    case_id = case_of(engine, ids["high"])
    review.decide(engine, case_id, users["admin"], "confirm", reason="banned-copy")
    assert list(review.takedown_notice(engine, case_id)) == produced()["notice"]
    row = next(review.confirmed_hashes(engine))
    assert list(row) == [c for c in review.BANK_COLUMNS if c != "disabled"]
    engine.dispose()


def test_web_docs_list_every_route(sqlite_url: str) -> None:
    text = (DOCS / "web.md").read_text(encoding="utf-8")
    app = create_app(sqlite_url, WebSettings(background=False))
    missing = [
        f"{m} {p}"
        for m, p in route_table(app)
        if not p.startswith("/hooks/") and f"`{m} {p}`" not in text
    ]
    assert not missing, "docs/web.md does not document: " + ", ".join(missing)
