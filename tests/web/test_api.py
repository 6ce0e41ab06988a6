"""The JSON API: token automation end to end, and schemathesis fuzzing for server errors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from sqlalchemy import Engine

from likenessguard.store import review
from likenessguard.store.db import open_catalog
from likenessguard.store.registry import add_subject
from likenessguard.web.app import create_app
from likenessguard.web.settings import WebSettings

from .conftest import SEALER, case_of, make_client, seed_catalog, seed_users


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_token_automation_end_to_end(engine: Engine, tmp_path: Path) -> None:
    ids = seed_catalog(engine, tmp_path)
    seed_users(engine)
    admin = _bearer(review.create_api_token(engine, "admin"))
    reviewer = _bearer(review.create_api_token(engine, "reviewer"))
    viewer = _bearer(review.create_api_token(engine, "viewer"))
    with make_client(engine) as api:
        assert api.get("/api/v1/me", headers=reviewer).json()["role"] == "reviewer"
        page = api.get("/api/v1/cases?limit=2", headers=viewer).json()
        assert len(page["items"]) == 2 and page["next_cursor"]
        rest = api.get(f"/api/v1/cases?after={page['next_cursor']}", headers=viewer).json()
        assert {c["id"] for c in rest["items"]}.isdisjoint({c["id"] for c in page["items"]})
        counts = api.get("/api/v1/counts", headers=viewer).json()
        assert counts["high"] == 2
        esc = api.get("/api/v1/counts?queue=escalation", headers=admin).json()
        assert esc["critical"] == 1
        assert api.get("/api/v1/counts?queue=escalation", headers=viewer).status_code == 403
        case_id = case_of(engine, ids["high"])
        detail = api.get(f"/api/v1/cases/{case_id}", headers=viewer).json()
        assert detail["case"]["subject"] == "Jane Roe" and detail["previews"] == 1
        assert detail["mirrors"][0]["repo"] == "someone/jane-roe-reup"
        assert (
            api.post(
                f"/api/v1/cases/{case_id}/decision", json={"action": "dismiss"}, headers=viewer
            ).status_code
            == 403
        )
        bad = api.post(
            f"/api/v1/cases/{case_id}/decision",
            json={"action": "confirm", "reason": "because"},
            headers=reviewer,
        )
        assert bad.status_code == 422
        url = api.post(f"/api/v1/cases/{case_id}/previews/0/reveal", headers=reviewer).json()["url"]
        assert api.get(url, headers=reviewer).status_code == 200
        done = api.post(
            f"/api/v1/cases/{case_id}/decision",
            json={"action": "confirm", "reason": "nonconsensual-sexual-likeness", "bank": "ncii"},
            headers=reviewer,
        )
        assert done.status_code == 200 and done.json()["status"] == "confirmed"
        notice = api.get(f"/api/v1/cases/{case_id}/notice", headers=reviewer).json()
        assert notice["policy_clause"] == "nonconsensual-sexual-likeness"
        text_notice = api.get(f"/api/v1/cases/{case_id}/notice?format=text", headers=reviewer)
        assert text_notice.text.startswith("Takedown notice LG-")
        export = api.get("/api/v1/exports/confirmed?format=jsonl", headers=reviewer).text
        assert "a" * 64 in export
        audit = api.get("/api/v1/audit?action=case.confirm", headers=admin).json()["items"]
        assert audit[0]["actor"] == "reviewer"
        assert api.get("/api/v1/audit", headers=reviewer).status_code == 403
        made = api.post(
            "/api/v1/users",
            json={"name": "erin", "role": "viewer", "password": "x" * 16},
            headers=admin,
        )
        assert made.status_code == 201 and made.json()["must_change_password"] is True
        token = api.post("/api/v1/users/erin/tokens", json={"label": "ci"}, headers=admin)
        assert token.json()["token"].startswith("lgt_")
        assert api.post("/api/v1/users/erin/disable", headers=admin).json()["disabled"] is True
        assert api.get("/api/v1/me", headers=_bearer(token.json()["token"])).status_code == 401


def test_public_takedown_api_and_guard(engine: Engine, tmp_path: Path) -> None:
    seed_catalog(engine, tmp_path)
    seed_users(engine)
    add_subject(engine, name="Mary Major", source="manual")
    viewer = _bearer(review.create_api_token(engine, "viewer"))
    with make_client(engine) as api:
        made = api.post(
            "/api/v1/takedowns",
            json={
                "names": ["Jane Roe"],
                "handles": ["@janeroe"],
                "contact": "jane@example.org",
                "relation": "self",
                "statement": True,
            },
        )
        assert made.status_code == 201
        token = made.json()["status_token"]
        # pending: no search, no registry entry, no verdict changed (the guard included)
        assert review.process_takedowns(engine, SEALER) == 0
        status = api.get("/api/v1/takedowns/status", headers={"X-Takedown-Token": token}).json()
        assert status["status"] == "pending" and status["models"] == []
        prompt = {"prompt": "photo of jane roe, nude"}
        assert api.post("/api/v1/guard", json=prompt, headers=viewer).json()["blocked"] is False
        # a reviewer sees the pending subject and what it would match, then accepts
        reviewer = _bearer(review.create_api_token(engine, "reviewer"))
        assert api.get("/api/v1/takedowns", headers=viewer).status_code == 403
        listed = api.get("/api/v1/takedowns", headers=reviewer).json()
        (item,) = listed["requests"]
        assert listed["pending"] == 1 and item["name"] == "Jane Roe"
        detail = api.get(f"/api/v1/takedowns/{item['id']}", headers=reviewer).json()
        assert detail["contact"] == "jane@example.org" and detail["status"] == "pending"
        assert any("jane_roe_v2" in m["uri"] for m in detail["would_match"])
        assert review.audit_log(engine, action="takedown.view")[0].actor == "reviewer"
        accepted = api.post(f"/api/v1/takedowns/{item['id']}/accept", headers=reviewer)
        assert accepted.json() == {"id": item["id"], "status": "accepted", "registry_added": True}
        again = api.post(f"/api/v1/takedowns/{item['id']}/accept", headers=reviewer)
        assert again.status_code == 404
        assert api.post("/api/v1/guard", json=prompt, headers=viewer).json()["blocked"] is True
        review.process_takedowns(engine, SEALER)
        status = api.get("/api/v1/takedowns/status", headers={"X-Takedown-Token": token}).json()
        assert status["number"] == made.json()["number"] and len(status["models"]) >= 2
        assert status["status"] == "active" and "jane@example.org" not in str(status)
        gone = api.post("/api/v1/takedowns/withdraw", headers={"X-Takedown-Token": token})
        assert gone.json() == {"withdrawn": True}
        again = api.get("/api/v1/takedowns/status", headers={"X-Takedown-Token": token})
        assert again.status_code == 404
        no_statement = api.post(
            "/api/v1/takedowns",
            json={"names": ["X Y"], "contact": "x@y.z", "relation": "self", "statement": False},
        )
        assert no_statement.status_code == 422 and "x@y.z" not in no_statement.text
        blocked = api.post(
            "/api/v1/guard", json={"prompt": "photo of mary major, nude"}, headers=viewer
        ).json()
        assert blocked["blocked"] is True and blocked["reasons"]
        fine = api.post("/api/v1/guard", json={"prompt": "a lighthouse at dusk"}, headers=viewer)
        assert fine.json()["blocked"] is False


@pytest.fixture
def api_app(tmp_path: Path) -> Iterator[tuple[Any, str]]:
    engine = open_catalog(f"sqlite:///{tmp_path / 'catalog.db'}")
    seed_catalog(engine, tmp_path)
    seed_users(engine)
    token = review.create_api_token(engine, "admin")
    # the hubs webhook is in the schema too; with a secret it answers 401, not 503
    app = create_app(engine, WebSettings(background=False, webhook_secret="fuzz-secret"))
    yield app, token
    engine.dispose()


@pytest.mark.slow
def test_api_never_answers_with_a_server_error(api_app: tuple[Any, str]) -> None:
    """Schemathesis generates requests for every operation (in-process ASGI, bounded)."""
    app, token = api_app
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=4,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
            phases=[Phase.explicit, Phase.generate],
        )
        def run(case: Any) -> None:
            response = case.call(headers=_bearer(token))
            case.validate_response(response, checks=[not_a_server_error])

        run()


def test_openapi_is_served_and_lists_every_api_route(sqlite_engine: Engine) -> None:
    with TestClient(create_app(sqlite_engine, WebSettings(background=False))) as client:
        spec = client.get("/api/v1/openapi.json").json()
    assert spec["openapi"].startswith("3.")
    assert "/api/v1/cases/{case_id}/decision" in spec["paths"]
    assert "/login" not in spec["paths"]  # pages are not API
