"""The pages people use: queue, case page, blurred previews, decisions, exports, takedowns."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest
from sqlalchemy import Engine

from likenessguard.store import review
from likenessguard.testing.catalog import make_catalog

from .conftest import (
    PASSWORD,
    SEALER,
    case_of,
    csrf_of,
    login,
    make_client,
    seed_catalog,
    seed_users,
)


def test_queue_is_ordered_counted_filtered_and_paged(sqlite_engine: Engine) -> None:
    make_catalog(sqlite_engine, 300, seed=3)
    review.case_sync(sqlite_engine)
    seed_users(sqlite_engine)
    with make_client(sqlite_engine) as client:
        login(client, "viewer")
        html = client.get("/queue").text
        sevs = re.findall(r'<span class="sev sev-(\w+)">', html)
        assert len(sevs) == 50
        order = ["critical", "high", "medium", "low", "none"]
        assert [order.index(s) for s in sevs] == sorted(order.index(s) for s in sevs)
        assert "critical" not in sevs  # minor-risk cases live in the escalation queue
        counts = review.severity_counts(sqlite_engine)
        assert f'<span class="n">{counts["high"]}</span> high' in html
        more = re.search(r'hx-get="([^"]+)"', html)
        assert more is not None
        rows = client.get(more.group(1).replace("&amp;", "&"), headers={"HX-Request": "true"})
        assert rows.status_code == 200 and "<html" not in rows.text
        assert rows.text.count('class="row ') == 50
        first_page_ids = set(re.findall(r'data-href="/cases/(\d+)"', html))
        assert not first_page_ids & set(re.findall(r'data-href="/cases/(\d+)"', rows.text))
        civitai = client.get("/queue?hub=civitai&severity=high").text
        assert re.findall(r"<td>(huggingface|civitai|local)</td>", civitai) == ["civitai"] * len(
            re.findall(r"<td>(huggingface|civitai|local)</td>", civitai)
        )
        assert client.get("/queue?severity=extreme").status_code == 400
        assert client.get("/escalations").status_code == 403


def test_case_page_shows_evidence_hashes_tags_mirrors_and_hides_previews(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    ids = seed_catalog(sqlite_engine, tmp_path)
    seed_users(sqlite_engine)
    case_id = case_of(sqlite_engine, ids["high"])
    with make_client(sqlite_engine) as client:
        login(client, "reviewer")
        html = client.get(f"/cases/{case_id}").text
        assert "<mark>jane_roe</mark>" in html  # evidence quoted and highlighted
        assert 'id="hash-sha256">' + "a" * 64 in html and 'data-copy="hash-sha256"' in html
        assert "Training tags" in html and '<td class="num">40</td>' in html
        assert "someone/jane-roe-reup" in html  # the mirror with the same sha256
        assert f"/cases/{case_id}/previews/0?grant" not in html  # nothing until revealed
        assert 'class="preview blurred"' in html
        assert client.get(f"/cases/{case_id}/previews/0").status_code == 403
        assert client.get(f"/cases/{case_id}/previews/0?grant=forged").status_code == 403
        csrf = csrf_of(html)
        fragment = client.post(
            f"/cases/{case_id}/previews/0/reveal",
            data={"csrf": csrf},
            headers={"HX-Request": "true"},
        )
        assert fragment.status_code == 200 and 'class="preview revealed"' in fragment.text
        src = re.search(r'<img src="([^"]+)"', fragment.text)
        assert src is not None
        image = client.get(src.group(1).replace("&amp;", "&"))
        assert image.status_code == 200 and image.content.startswith(b"\x89PNG")
        assert image.headers["cache-control"] == "no-store"
        # the grant is bound to the user who revealed it
        client.cookies.clear()
        login(client, "admin")
        assert client.get(src.group(1).replace("&amp;", "&")).status_code == 403
    reveal = review.audit_log(sqlite_engine, action="preview.reveal")
    assert [(e.actor, e.target, e.after) for e in reveal] == [
        ("reviewer", f"case:{case_id}", {"preview": 0})
    ]
    assert review.audit_log(sqlite_engine, action="case.view")


def test_case_page_and_api_list_similar_weights_with_their_similarity(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    import numpy as np

    from likenessguard.hashing.fingerprint import DIM, Fingerprint
    from likenessguard.store.banks import save_fingerprints
    from likenessguard.testing.catalog import add_artifact

    ids = seed_catalog(sqlite_engine, tmp_path)
    seed_users(sqlite_engine)
    token = review.create_api_token(sqlite_engine, "viewer")
    case_id = case_of(sqlite_engine, ids["high"])
    with make_client(sqlite_engine) as client:
        login(client, "viewer")
        html = client.get(f"/cases/{case_id}").text  # the app's index is built here
        assert "someone/jane-roe-reup" in html and "other/lora-renamed" not in html
        # A renamed, re-cast copy is catalogued later: other bytes, similar weights.
        copy = add_artifact(
            sqlite_engine,
            uri="hf://other/lora-renamed@" + "e" * 40 + "/LORA.safetensors",
            hub="huggingface",
            repo="other/lora-renamed",
            url="https://huggingface.co/other/lora-renamed",
            sha256="9" * 64,
        )
        rng = np.random.default_rng(5)
        v = rng.standard_normal(DIM).astype(np.float32)
        w = v + 0.3 * rng.standard_normal(DIM).astype(np.float32)
        fps = [
            Fingerprint("adapter", 12, (x / np.linalg.norm(x)).astype(np.float32)) for x in (v, w)
        ]
        save_fingerprints(sqlite_engine, [(ids["high"], fps[0]), (copy, fps[1])])
        similarity = round(fps[0].similarity(fps[1]), 4)
        assert 0.5 < similarity < 0.99
        html = client.get(f"/cases/{case_id}").text
        rows = re.findall(r'<tr data-method="(\w+)">(.*?)</tr>', html, re.S)
        assert [m for m, _ in rows] == ["sha256", "fingerprint"]
        assert "other/lora-renamed" in rows[1][1] and f"{similarity:.4f}" in rows[1][1]
        assert "similar weights" in rows[1][1]
        detail = client.get(
            f"/api/v1/cases/{case_id}", headers={"Authorization": f"Bearer {token}"}
        ).json()
        similar = [m for m in detail["mirrors"] if m["method"] == "fingerprint"]
        assert [(m["artifact_id"], m["similarity"]) for m in similar] == [(copy, similarity)]
        assert similar[0]["case_id"] is None  # no case synced for it yet
        review.case_sync(sqlite_engine)
        detail = client.get(
            f"/api/v1/cases/{case_id}", headers={"Authorization": f"Bearer {token}"}
        ).json()
        similar = [m for m in detail["mirrors"] if m["method"] == "fingerprint"]
        assert similar[0]["case_id"] == case_of(sqlite_engine, copy)


def test_case_page_and_api_say_when_the_host_removed_the_file(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    from datetime import UTC, datetime

    from likenessguard.store.hubs import HubStore

    ids = seed_catalog(sqlite_engine, tmp_path)
    seed_users(sqlite_engine)
    token = review.create_api_token(sqlite_engine, "viewer")
    gone, live = case_of(sqlite_engine, ids["mirror"]), case_of(sqlite_engine, ids["medium"])
    at = datetime(2026, 3, 4, 5, 6, tzinfo=UTC)
    assert HubStore(sqlite_engine).mark_repo_removed("huggingface", "someone/jane-roe-reup", at=at)
    with make_client(sqlite_engine) as client:
        login(client, "viewer")
        html = client.get(f"/cases/{gone}").text
        assert 'id="removed-from-hub"' in html
        assert "Removed by host: the repo was deleted" in html and "2026-03-04 05:06 UTC" in html
        assert "from repo.delete" in html and "Bank matches" in html  # the record stays
        assert 'id="removed-from-hub"' not in client.get(f"/cases/{live}").text
        bearer = {"Authorization": f"Bearer {token}"}
        detail = client.get(f"/api/v1/cases/{gone}", headers=bearer).json()
        assert detail["removed_from_hub"] == {
            "reason": "repo-deleted",
            "commit": None,
            "removed_at": at.isoformat(),
            "source": "repo.delete",
            "hub": "huggingface",
            "repo": "someone/jane-roe-reup",
        }
        assert (
            client.get(f"/api/v1/cases/{live}", headers=bearer).json()["removed_from_hub"] is None
        )


def test_viewers_cannot_reveal_and_escalations_are_hidden_from_reviewers(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    ids = seed_catalog(sqlite_engine, tmp_path)
    seed_users(sqlite_engine)
    with make_client(sqlite_engine) as client:
        login(client, "viewer")
        html = client.get(f"/cases/{case_of(sqlite_engine, ids['high'])}").text
        assert "Reveal preview" not in html and "read-only" in html
        client.cookies.clear()
        login(client, "reviewer")
        critical = case_of(sqlite_engine, ids["critical"])
        assert client.get(f"/cases/{critical}").status_code == 404
        assert client.get(f"/api/v1/cases/{critical}").status_code == 404
        client.cookies.clear()
        login(client, "admin")
        assert "Mary Major" in client.get("/escalations").text
        assert client.get(f"/cases/{critical}").status_code == 200


def test_confirm_by_form_then_notice_exports_and_audit(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    ids = seed_catalog(sqlite_engine, tmp_path)
    seed_users(sqlite_engine)
    case_id = case_of(sqlite_engine, ids["high"])
    with make_client(sqlite_engine) as client:
        csrf = login(client, "reviewer")
        missing = client.post(
            f"/cases/{case_id}/decision", data={"csrf": csrf, "action": "confirm"}
        )
        assert missing.status_code == 400 and "policy reason" in missing.text
        done = client.post(
            f"/cases/{case_id}/decision",
            data={
                "csrf": csrf,
                "action": "confirm",
                "reason": "nonconsensual-sexual-likeness",
                "bank": "ncii",
                "note": "name in file and tags",
            },
        )
        assert done.status_code == 303
        page = client.get(f"/cases/{case_id}").text
        assert "confirmed" in page and "name in file and tags" in page
        text_notice = client.get(f"/cases/{case_id}/notice.txt").text
        assert "Policy clause: nonconsensual-sexual-likeness" in text_notice
        notice = client.get(f"/cases/{case_id}/notice.json").json()
        assert notice["hashes"]["sha256"] == "a" * 64 and notice["deadline"]
        rows = list(csv.DictReader(io.StringIO(client.get("/exports/confirmed.csv").text)))
        assert [r["sha256"] for r in rows] == ["a" * 64]
        assert list(rows[0]) == list(review.BANK_COLUMNS)
        lines = client.get("/exports/confirmed.jsonl").text.splitlines()
        assert json.loads(lines[0])["reason"] == "nonconsensual-sexual-likeness"
        client.cookies.clear()
        login(client, "admin")
        audit = client.get(f"/audit?target=case:{case_id}").text
        assert "case.confirm" in audit and "reviewer" in audit
        exported = client.get("/audit/export.csv").text
        assert "case.confirm" in exported.splitlines()[-1] or "case.confirm" in exported
        jsonl = [json.loads(x) for x in client.get("/audit/export.jsonl").text.splitlines()]
        confirm = next(x for x in jsonl if x["action"] == "case.confirm")
        assert confirm["before"]["status"] == "open" and confirm["after"]["bank"] == "ncii"


def test_admin_manages_users_and_tokens_in_the_browser_forms(sqlite_engine: Engine) -> None:
    seed_users(sqlite_engine)
    with make_client(sqlite_engine) as client:
        csrf = login(client, "admin")
        made = client.post(
            "/admin/users",
            data={"csrf": csrf, "name": "dana", "role": "reviewer", "password": "x" * 14},
        )
        assert made.status_code == 303
        user = review.get_user(sqlite_engine, "dana")
        assert user is not None and user.must_change_password
        token_page = client.post("/admin/users/dana/token", data={"csrf": csrf}).text
        token = re.search(r'id="new-token">(lgt_[^<]+)<', token_page)
        assert token is not None and review.user_for_token(sqlite_engine, token.group(1))
        promoted = client.post("/admin/users/dana/role", data={"csrf": csrf, "role": "admin"})
        assert promoted.status_code == 303
        assert review.get_user(sqlite_engine, "dana").role == "admin"  # type: ignore[union-attr]
        line = review.audit_log(sqlite_engine, action="user.role")[0]
        assert (line.before, line.after) == ({"role": "reviewer"}, {"role": "admin"})
        assert client.post("/admin/users/dana/disable", data={"csrf": csrf}).status_code == 303
        assert review.user_for_token(sqlite_engine, token.group(1)) is None
        assert client.post("/admin/users/admin/disable", data={"csrf": csrf}).status_code == 400


def test_takedown_form_status_link_and_withdraw(sqlite_engine: Engine, tmp_path: Path) -> None:
    ids = seed_catalog(sqlite_engine, tmp_path)
    with make_client(sqlite_engine) as client:
        csrf = csrf_of(client.get("/takedown").text)
        done = client.post(
            "/takedown",
            data={
                "csrf": csrf,
                "names": "Jane Roe",
                "aliases": "J Roe",
                "handles": "@janeroe",
                "links": "https://huggingface.co/someone/jane-roe-reup",
                "contact": "jane@example.org",
                "relation": "self",
                "statement": "yes",
            },
        )
        assert done.status_code == 200
        number = re.search(r'id="td-number">(TD-[0-9A-F]+)<', done.text)
        link = re.search(r'id="status-link" class="mono break" href="([^"]+)"', done.text)
        assert number and link
        pending = client.get(link.group(1)).text
        assert "waiting for review" in pending and "Jane Roe, J Roe" in pending
        assert review.process_takedowns(sqlite_engine, SEALER) == 0
        (td,) = review.list_takedowns(sqlite_engine, SEALER)
        reviewer = review.create_user(sqlite_engine, "rita", PASSWORD, role="reviewer")
        review.accept_takedown(sqlite_engine, SEALER, td.id, reviewer)
        review.process_takedowns(sqlite_engine, SEALER)
        status = client.get(link.group(1)).text
        assert number.group(1) in status and "someone/jane-roe-reup" in status
        assert "under review" in status
        assert case_of(sqlite_engine, ids["mirror"])
        withdrawn = client.post(link.group(1) + "/withdraw", data={"csrf": csrf_of(status)})
        assert withdrawn.status_code == 200 and "deleted" in withdrawn.text
        assert client.get(link.group(1)).status_code == 404
    assert review.takedown_count(sqlite_engine) == 0
    dump = json.dumps([e.to_json() for e in review.iter_audit(sqlite_engine)])
    assert "jane@example.org" not in dump and "janeroe" not in dump


def test_takedown_form_needs_the_statement(sqlite_engine: Engine) -> None:
    with make_client(sqlite_engine) as client:
        csrf = csrf_of(client.get("/takedown").text)
        resp = client.post(
            "/takedown",
            data={"csrf": csrf, "names": "Jane Roe", "contact": "x@y.z", "relation": "self"},
        )
        assert resp.status_code == 400 and "x@y.z" not in resp.text
    assert review.takedown_count(sqlite_engine) == 0


def test_confirmed_hash_export_imports_with_the_banks_reader(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    bank_io = pytest.importorskip("likenessguard.banks.io")
    ids = seed_catalog(sqlite_engine, tmp_path)
    users = seed_users(sqlite_engine)
    for key in ("high", "medium"):
        review.decide(
            sqlite_engine,
            case_of(sqlite_engine, ids[key]),
            users["reviewer"],
            "confirm",
            reason="real-person-likeness",
        )
    with make_client(sqlite_engine) as client:
        login(client, "reviewer")
        for fmt in ("csv", "jsonl"):
            text = client.get(f"/exports/confirmed.{fmt}").text
            parsed = bank_io.parse_bank_text(text, f"confirmed.{fmt}")
            assert not parsed.errors and len(parsed.entries) == 2, fmt
            assert {e.reason for e in parsed.entries} == {"real-person-likeness"}
            assert "a" * 64 in {e.sha256 for e in parsed.entries}
