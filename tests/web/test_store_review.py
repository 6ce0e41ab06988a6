"""The review repository on SQLite and PostgreSQL: accounts, cases, decisions, audit, takedowns."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, delete, select, text, update
from sqlalchemy.exc import DBAPIError

from likenessguard.errors import UsageError
from likenessguard.registry.base import subject_id
from likenessguard.store import review
from likenessguard.store.models.review import AuditRow, CaseRow, TakedownRow
from likenessguard.store.registry import get_subject
from likenessguard.testing.catalog import add_artifact, make_catalog
from likenessguard.verdicts.base import Severity

from .conftest import PASSWORD, SEALER, case_of, seed_users


def test_accounts_hash_passwords_and_disable_ends_sessions_and_tokens(engine: Engine) -> None:
    users = seed_users(engine)
    assert review.authenticate(engine, "admin", PASSWORD) == users["admin"]
    assert review.authenticate(engine, "admin", "wrong password here") is None
    assert review.authenticate(engine, "nobody", PASSWORD) is None
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT password_hash FROM users WHERE name='admin'")).scalar()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    token = review.create_api_token(engine, "reviewer", label="ci")
    sid, _csrf = review.create_session(engine, users["reviewer"], lifetime=timedelta(hours=1))
    with engine.connect() as conn:
        hashes = conn.execute(text("SELECT token_hash FROM api_tokens")).scalars().all()
    assert token not in hashes and review.token_digest(token) in hashes
    assert review.user_for_token(engine, token) == users["reviewer"]
    assert review.session_user(engine, sid) is not None
    review.set_disabled(engine, "reviewer", True, actor="admin")
    assert review.user_for_token(engine, token) is None
    assert review.session_user(engine, sid) is None
    assert review.authenticate(engine, "reviewer", PASSWORD) is None
    with pytest.raises(UsageError, match="already exists"):
        review.create_user(engine, "admin", PASSWORD)
    with pytest.raises(UsageError, match="at least 12"):
        review.create_user(engine, "shorty", "short")
    with pytest.raises(UsageError, match="unknown role"):
        review.create_user(engine, "x1", PASSWORD, role="owner")


def test_expired_session_is_refused(engine: Engine) -> None:
    user = seed_users(engine)["viewer"]
    sid, _ = review.create_session(engine, user, lifetime=timedelta(seconds=-1))
    assert review.session_user(engine, sid) is None


def test_case_sync_is_idempotent_escalates_minor_risk_and_opens_bank_matches(
    engine: Engine, seeded: dict[str, int]
) -> None:
    again = review.case_sync(engine)
    assert again.opened == 0 and again.updated == 0
    critical = review.get_case(engine, case_of(engine, seeded["critical"]))
    assert critical is not None
    assert critical.case.queue == "escalation" and critical.case.status == "escalated"
    banked = review.get_case(engine, case_of(engine, seeded["banked"]))
    assert banked is not None and banked.case.banks == ("ncii-shared",)
    with engine.connect() as conn:
        low = conn.execute(select(CaseRow).where(CaseRow.artifact_id == seeded["low"])).first()
    assert low is None  # below the medium threshold and no bank match
    assert review.case_sync(engine, min_severity=Severity.LOW).opened == 1
    known_good = add_artifact(
        engine,
        uri="file:///x/known-good.safetensors",
        severity=Severity.NONE,
        subject=None,
        labels={},
        matches=[{"bank": "allow", "entry": {"id": 2}, "method": "sha256", "negative": True}],
    )
    review.case_sync(engine)
    with engine.connect() as conn:
        none = conn.execute(select(CaseRow).where(CaseRow.artifact_id == known_good)).first()
    assert none is None  # a negative-bank match alone opens nothing


def test_queue_orders_by_severity_score_age_and_pages_without_gaps(engine: Engine) -> None:
    make_catalog(engine, 400, seed=7)
    review.case_sync(engine, min_severity=Severity.LOW)
    seen: list[review.CaseSummary] = []
    cursor = None
    while True:
        page = review.queue(engine, review.QueueFilter(), after=cursor, limit=37)
        seen.extend(page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
    keys = [(-c.severity, -round(c.score, 6), c.first_seen, c.artifact_id) for c in seen]
    assert keys == sorted(keys)
    assert len({c.id for c in seen}) == len(seen)
    counts = review.severity_counts(engine)
    assert sum(counts.values()) == len(seen)
    assert list(counts) == ["critical", "high", "medium", "low", "none"]
    only = review.queue(
        engine, review.QueueFilter(severity=Severity.HIGH, hub="civitai"), limit=500
    )
    assert only.items and all(
        c.severity == Severity.HIGH and c.hub == "civitai" for c in only.items
    )
    labelled = review.queue(engine, review.QueueFilter(label="sexual"), limit=500)
    assert labelled.items and all("sexual" in c.labels for c in labelled.items)
    banked = review.queue(engine, review.QueueFilter(bank="ncii-shared"), limit=500)
    assert banked.items and all("ncii-shared" in c.banks for c in banked.items)
    with pytest.raises(UsageError, match="cursor"):
        review.queue(engine, review.QueueFilter(), after="x' OR 1=1")


def test_decisions_move_cases_and_are_audited_with_before_and_after(
    engine: Engine, seeded: dict[str, int]
) -> None:
    users = seed_users(engine)
    case_id = case_of(engine, seeded["high"])
    with pytest.raises(UsageError, match="policy reason"):
        review.decide(engine, case_id, users["reviewer"], "confirm")
    with pytest.raises(UsageError, match="only reviewers"):
        review.decide(engine, case_id, users["viewer"], "dismiss")
    done = review.decide(
        engine,
        case_id,
        users["reviewer"],
        "confirm",
        reason="nonconsensual-sexual-likeness",
        note="tags and name match",
        bank="ncii",
    )
    assert done.status == "confirmed"
    with pytest.raises(UsageError, match="already confirmed"):
        review.decide(engine, case_id, users["reviewer"], "dismiss")
    line = review.audit_log(engine, action="case.confirm")[0]
    assert line.actor == "reviewer" and line.target == f"case:{case_id}"
    assert line.before == {"status": "open", "queue": "main"}
    assert line.after is not None and line.after["status"] == "confirmed"
    assert line.after["bank"] == "ncii"
    with pytest.raises(UsageError, match="only admins reopen"):
        review.decide(engine, case_id, users["reviewer"], "reopen")
    assert review.decide(engine, case_id, users["admin"], "reopen").status == "open"
    # escalation moves a case out of reviewers' reach
    other = case_of(engine, seeded["medium"])
    review.decide(engine, other, users["reviewer"], "escalate", note="possible minor")
    with pytest.raises(UsageError, match="admins"):
        review.decide(engine, other, users["reviewer"], "dismiss")
    assert review.decide(engine, other, users["admin"], "dismiss", bank="known-good").status == (
        "dismissed"
    )


def test_audit_log_refuses_update_and_delete_in_the_database(
    engine: Engine, seeded: dict[str, int]
) -> None:
    assert review.audit_log(engine)
    for statement in (update(AuditRow).values(actor="mallory"), delete(AuditRow)):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(statement)
    if engine.dialect.name == "postgresql":
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(text("TRUNCATE audit_log"))
    assert all(e.actor != "mallory" for e in review.audit_log(engine, limit=1000))


def test_notice_and_confirmed_hash_export(engine: Engine, seeded: dict[str, int]) -> None:
    users = seed_users(engine)
    case_id = case_of(engine, seeded["high"])
    with pytest.raises(UsageError, match="only confirmed"):
        review.takedown_notice(engine, case_id)
    review.decide(
        engine, case_id, users["reviewer"], "confirm", reason="nonconsensual-sexual-likeness"
    )
    notice = review.takedown_notice(engine, case_id, deadline_days=3)
    assert notice["policy_clause"] == "nonconsensual-sexual-likeness"
    assert notice["hashes"]["sha256"] == "a" * 64
    # the re-upload on Hugging Face has the same bytes: it is in the notice with its URL
    assert "https://huggingface.co/someone/jane-roe-reup" in [x["url"] for x in notice["locations"]]
    assert any(e["label"] == "real_person" for e in notice["evidence"])
    text_form = review.notice_text(notice)
    assert "Policy clause: nonconsensual-sexual-likeness" in text_form and "a" * 64 in text_form
    rows = list(review.confirmed_hashes(engine))
    assert len(rows) == 1 and rows[0]["sha256"] == "a" * 64
    assert (
        rows[0]["added_by"] == "reviewer" and rows[0]["reason"] == "nonconsensual-sexual-likeness"
    )


def test_takedown_search_links_cases_registers_subject_and_withdraw_deletes_data(
    engine: Engine, seeded: dict[str, int], tmp_path: Path
) -> None:
    receipt = review.create_takedown(
        engine,
        sealer=SEALER,
        names=["Jane Roe"],
        aliases=["J. Roe"],
        handles=["@janeroe_official"],
        links=["https://huggingface.co/someone/jane-roe-reup"],
        contact="jane@example.org",
        relation="self",
    )
    status = review.takedown_status(engine, receipt.token)
    assert status is not None and status.status == "pending" and status.number == receipt.number
    # pending: nothing searched, nobody in the registry
    assert review.process_takedowns(engine, SEALER) == 0
    assert get_subject(engine, subject_id("Jane Roe")) is None
    (td,) = review.list_takedowns(engine, SEALER)
    review.accept_takedown(engine, SEALER, td.id, seed_users(engine)["reviewer"])
    added = review.process_takedowns(engine, SEALER)
    assert added >= 2
    status = review.takedown_status(engine, receipt.token)
    assert status is not None and status.status == "active"
    assert {m.case_id for m in status.models} >= {
        case_of(engine, seeded["high"]),
        case_of(engine, seeded["mirror"]),
    }
    assert get_subject(engine, subject_id("Jane Roe")) is not None
    # a later scan adds a new copy: the next pass links it (incremental)
    later = add_artifact(
        engine,
        uri="file:///later/jane_roe_v9.safetensors",
        severity=Severity.LOW,
        subject=None,
        labels={},
    )
    assert review.process_takedowns(engine, SEALER) == 1
    status = review.takedown_status(engine, receipt.token)
    assert status is not None and case_of(engine, later) in {m.case_id for m in status.models}
    assert review.takedown_status(engine, "not-the-token-at-all-xxxxxxxx") is None
    # no personal data in the audit log
    dump = " ".join(str(e.to_json()) for e in review.iter_audit(engine))
    assert "jane@example.org" not in dump and "janeroe_official" not in dump
    assert review.withdraw_takedown(engine, receipt.token) is True
    assert review.withdraw_takedown(engine, receipt.token) is False
    with engine.connect() as conn:
        assert conn.execute(select(TakedownRow)).first() is None
        contacts = conn.execute(text("SELECT count(*) FROM takedown_cases")).scalar()
    assert contacts == 0
    assert get_subject(engine, subject_id("Jane Roe")) is None
    last = review.audit_log(engine, limit=1)[0]
    assert (last.actor, last.action, last.target, last.before, last.after) == (
        "anonymous",
        "takedown.withdraw",
        "takedown",
        None,
        None,
    )


def test_takedown_never_removes_a_subject_it_did_not_create(engine: Engine) -> None:
    from likenessguard.store.registry import add_subject

    add_subject(engine, name="Mary Major", source="manual")
    receipt = review.create_takedown(
        engine, sealer=SEALER, names=["Mary Major"], contact="agent@example.org", relation="agent"
    )
    (td,) = review.list_takedowns(engine, SEALER)
    accepted = review.accept_takedown(engine, SEALER, td.id, seed_users(engine)["reviewer"])
    assert accepted.status == "accepted" and accepted.subject_id is None
    review.process_takedowns(engine, SEALER)
    review.withdraw_takedown(engine, receipt.token)
    assert get_subject(engine, subject_id("Mary Major")) is not None


def test_takedown_validation(engine: Engine) -> None:
    with pytest.raises(UsageError, match="at least one name"):
        review.create_takedown(
            engine, sealer=SEALER, names=["  "], contact="x@y.z", relation="self"
        )
    with pytest.raises(UsageError, match="contact"):
        review.create_takedown(
            engine, sealer=SEALER, names=["Jane Roe"], contact=" ", relation="self"
        )
    with pytest.raises(UsageError, match="self"):
        review.create_takedown(
            engine, sealer=SEALER, names=["Jane Roe"], contact="x@y.z", relation="fan"
        )


def test_confirm_adds_the_hashes_to_the_chosen_bank_and_dismiss_to_a_negative_one(
    engine: Engine, seeded: dict[str, int]
) -> None:
    banks = pytest.importorskip("likenessguard.store.banks")
    users = seed_users(engine)
    case_id = case_of(engine, seeded["high"])
    review.decide(engine, case_id, users["reviewer"], "confirm", reason="banned-copy", bank="ncii")
    bank = banks.get_bank(engine, "ncii")
    assert [e.sha256 for e in bank.entries] == ["a" * 64]
    assert bank.entries[0].added_by == "reviewer" and bank.entries[0].reason == "banned-copy"
    line = review.audit_log(engine, action="bank.add")[0]
    assert line.after is not None and line.after["added"] is True
    other = case_of(engine, seeded["medium"])
    review.decide(engine, other, users["reviewer"], "dismiss", bank="known-good")
    assert banks.get_bank(engine, "known-good").negative is True


def test_a_broken_file_s_autov3_neither_links_copies_nor_goes_into_a_bank(
    engine: Engine,
) -> None:
    """AutoV3 of a file whose header did not parse hashes an arbitrary tail (docs/hashes.md)."""
    banks = pytest.importorskip("likenessguard.store.banks")
    users = seed_users(engine)
    tail = "c" * 64
    broken = add_artifact(
        engine,
        uri="file:///up/bad_header.safetensors",
        sha256="1" * 64,
        autov3=tail,
        error_count=1,
    )
    other_broken = add_artifact(
        engine, uri="file:///up/weird.safetensors", sha256="2" * 64, autov3=tail, error_count=1
    )
    valid = add_artifact(engine, uri="file:///up/valid.safetensors", sha256="3" * 64, autov3=tail)
    pickled = add_artifact(
        engine, uri="file:///up/m.ckpt", sha256="4" * 64, autov3=tail, format="pickle"
    )
    review.case_sync(engine)
    for artifact_id in (broken, other_broken, valid, pickled):
        detail = review.get_case(engine, case_of(engine, artifact_id))
        assert detail is not None and detail.mirrors == ()
    case_id = case_of(engine, broken)
    review.decide(engine, case_id, users["reviewer"], "confirm", reason="banned-copy", bank="b")
    (entry,) = banks.get_bank(engine, "b").entries
    assert entry.sha256 == "1" * 64 and entry.autov3 is None
    (exported,) = review.confirmed_hashes(engine)
    assert exported["sha256"] == "1" * 64 and exported["autov3"] is None
