"""Requester data on disk: sealed while stored, and no copy left after withdrawal.

The bytes of the SQLite database and its ``-wal`` and ``-shm`` files are read
directly while the app (and its pooled engine) is still running, as a disk
image or a backup would see them.
"""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import Engine

from likenessguard.registry.base import subject_id
from likenessguard.store import review
from likenessguard.store.registry import get_subject

from .conftest import SEALER, csrf_of, login, make_client, seed_catalog, seed_users

NAME = "Zebulon Quxworthy-Fenn"
ALIAS = "Zeb Qux Fenn"
HANDLE = "zq_fenn_official_77"
CONTACT = "zq-7781.takedown@example.invalid"


def _disk(db: Path) -> bytes:
    parts = [db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")]
    return b"".join(p.read_bytes() for p in parts if p.exists())


def _found(blob: bytes, *needles: str) -> list[str]:
    found = []
    for needle in needles:
        for encoded in (needle.encode("utf-8"), needle.encode("utf-16-le")):
            if encoded in blob:
                found.append(needle)
    return found


def test_withdrawal_leaves_no_copy_in_the_database_files(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    db = Path(str(sqlite_engine.url.database))
    seed_catalog(sqlite_engine, tmp_path)
    seed_users(sqlite_engine)
    with make_client(sqlite_engine) as client:
        form = client.get("/takedown")
        done = client.post(
            "/takedown",
            data={
                "csrf": csrf_of(form.text),
                "names": NAME,
                "aliases": ALIAS,
                "handles": "@" + HANDLE,
                "links": "https://huggingface.co/someone/jane-roe-reup",
                "contact": CONTACT,
                "relation": "self",
                "statement": "yes",
            },
        )
        assert done.status_code == 200
        link = re.search(r'id="status-link" class="mono break" href="([^"]+)"', done.text)
        assert link
        # stored sealed: no plaintext of any of it on disk while pending
        assert _found(_disk(db), NAME, ALIAS, HANDLE, CONTACT) == []
        # a reviewer accepts: the names enter the registry (in the clear: they are matched)
        csrf = login(client, "reviewer")
        (td,) = review.list_takedowns(sqlite_engine, SEALER)
        page = client.get(f"/takedowns/{td.id}")
        assert CONTACT in page.text and NAME in page.text
        accepted = client.post(f"/takedowns/{td.id}/accept", data={"csrf": csrf})
        assert accepted.status_code == 303
        review.process_takedowns(sqlite_engine, SEALER)
        assert get_subject(sqlite_engine, subject_id(NAME)) is not None
        before = _disk(db)
        assert NAME in _found(before, NAME), "the test must see the name before withdrawal"
        assert _found(before, CONTACT) == []  # the contact is never in the clear
        # the requester withdraws; the app and its engine stay open
        status = client.get(link.group(1))
        withdrawn = client.post(link.group(1) + "/withdraw", data={"csrf": csrf_of(status.text)})
        assert withdrawn.status_code == 200
        wal = db.with_name(db.name + "-wal")
        assert not wal.exists() or wal.stat().st_size == 0
        assert _found(_disk(db), NAME, ALIAS, HANDLE, CONTACT) == []
        assert get_subject(sqlite_engine, subject_id(NAME)) is None
    dump = " ".join(str(e.to_json()) for e in review.iter_audit(sqlite_engine))
    assert _found(dump.encode(), NAME, HANDLE, CONTACT) == []


def test_rejection_erases_the_sealed_data(sqlite_engine: Engine) -> None:
    users = seed_users(sqlite_engine)
    receipt = review.create_takedown(
        sqlite_engine, sealer=SEALER, names=[NAME], contact=CONTACT, relation="agent"
    )
    (td,) = review.list_takedowns(sqlite_engine, SEALER)
    review.reject_takedown(sqlite_engine, td.id, users["reviewer"])
    (rejected,) = review.list_takedowns(sqlite_engine, SEALER, status="rejected")
    assert rejected.names == () and rejected.contact == "" and rejected.reviewed_by == "reviewer"
    status = review.takedown_status(sqlite_engine, receipt.token, SEALER)
    assert status is not None and status.status == "rejected" and status.names == ()
    assert get_subject(sqlite_engine, subject_id(NAME)) is None
