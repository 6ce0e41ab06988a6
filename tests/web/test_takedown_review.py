"""The reviewer's takedown pages: the pending subject, what it would match, accept, reject."""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import Engine

from likenessguard.registry.base import subject_id
from likenessguard.store import review
from likenessguard.store.registry import get_subject

from .conftest import csrf_of, login, make_client, seed_catalog, seed_users


def _submit(client: object, names: str, contact: str) -> str:
    page = client.get("/takedown")  # type: ignore[attr-defined]
    done = client.post(  # type: ignore[attr-defined]
        "/takedown",
        data={
            "csrf": csrf_of(page.text),
            "names": names,
            "handles": "@janeroe",
            "contact": contact,
            "relation": "self",
            "statement": "yes",
        },
    )
    assert done.status_code == 200
    link = re.search(r'id="status-link" class="mono break" href="([^"]+)"', done.text)
    assert link
    return link.group(1)


def test_reviewer_sees_the_pending_subject_and_its_matches_then_accepts(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    ids = seed_catalog(sqlite_engine, tmp_path)
    seed_users(sqlite_engine)
    with make_client(sqlite_engine) as client:
        status_link = _submit(client, "Jane Roe", "jane@example.org")
        other_link = _submit(client, "Mary Major", "mm@example.org")
        # the requester's page: their own pending subject, nothing of the catalog
        mine = client.get(status_link).text
        assert "waiting for review" in mine and "Jane Roe" in mine
        assert "jane_roe_v2" not in mine and "Mary Major" not in mine
        # a viewer may not see takedown requests (personal data)
        login(client, "viewer")
        assert client.get("/takedowns").status_code == 403
        client.post("/logout", data={"csrf": csrf_of(client.get("/queue").text)})
        csrf = login(client, "reviewer")
        listing = client.get("/takedowns")
        assert listing.status_code == 200 and "Jane Roe" in listing.text
        assert "2 of at most 500" in listing.text
        jane, mary = review.list_takedowns(sqlite_engine, review_sealer(client))
        detail = client.get(f"/takedowns/{jane.id}")
        assert "jane@example.org" in detail.text and 'id="td-accept"' in detail.text
        preview = detail.text.split('id="td-preview"', 1)[1]
        assert "jane_roe_v2.safetensors" in preview and "jane-roe-reup" in preview
        assert "Mary Major" not in preview
        assert review.audit_log(sqlite_engine, action="takedown.view")[0].actor == "reviewer"
        # CSRF: a forged post changes nothing
        forged = client.post(f"/takedowns/{jane.id}/accept", data={"csrf": "x" * 40})
        assert forged.status_code == 403
        assert get_subject(sqlite_engine, subject_id("Jane Roe")) is None
        accepted = client.post(f"/takedowns/{jane.id}/accept", data={"csrf": csrf})
        assert accepted.status_code == 303
        assert get_subject(sqlite_engine, subject_id("Jane Roe")) is not None
        again = client.post(f"/takedowns/{jane.id}/accept", data={"csrf": csrf})
        assert again.status_code == 404
        rejected = client.post(f"/takedowns/{mary.id}/reject", data={"csrf": csrf})
        assert rejected.status_code == 303
        assert get_subject(sqlite_engine, subject_id("Mary Major")) is None
        assert "not accepted" in client.get(other_link).text
        review.process_takedowns(sqlite_engine, review_sealer(client))
        active = client.get(status_link).text
        assert "active" in active and "jane_roe_v2" in active
        assert review.takedown_status(sqlite_engine, status_link.rsplit("/", 1)[1]) is not None
        page = client.get(f"/takedowns/{jane.id}").text
        assert "added by this request" in page and 'id="td-accept"' not in page
    lines = {(e.actor, e.action) for e in review.audit_log(sqlite_engine)}
    assert {("reviewer", "takedown.accept"), ("reviewer", "takedown.reject")} <= lines
    assert ids["high"]


def review_sealer(client: object) -> review.Sealer:
    return client.app.state.sealer  # type: ignore[attr-defined, no-any-return]
