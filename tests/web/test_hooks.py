"""POST /hooks/huggingface: a constant-time secret check, durable idempotent events, a fast 202."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from likenessguard.store.db import open_catalog
from likenessguard.store.hubs import HubStore
from likenessguard.web.app import create_app
from likenessguard.web.settings import WebSettings

SECRET = "hook-s3cret"


def payload(repo: str = "acme/lora", sha: str = "a" * 40, **event: str) -> dict[str, Any]:
    return {
        "event": {
            "action": event.get("action", "update"),
            "scope": event.get("scope", "repo.content"),
        },
        "repo": {
            "type": event.get("type", "model"),
            "name": repo,
            "id": "6500000000000000000000aa",
            "private": False,
            "url": {"web": f"https://huggingface.co/{repo}", "api": f"/api/models/{repo}"},
            "headSha": sha,
            "owner": {"id": "650000000000000000000001"},
        },
        "webhook": {"id": "650000000000000000000002", "version": 3},
    }


@pytest.fixture
def client(catalog_url: str) -> Iterator[tuple[TestClient, Engine]]:
    engine = open_catalog(catalog_url)
    app = create_app(engine, WebSettings(background=False))
    app.state.webhook_secret = SECRET
    with TestClient(app) as c:
        yield c, engine
    engine.dispose()


def test_secret_is_required(client: tuple[TestClient, Engine]) -> None:
    c, engine = client
    assert c.post("/hooks/huggingface", json=payload()).status_code == 401
    bad = c.post("/hooks/huggingface", json=payload(), headers={"X-Webhook-Secret": "nope"})
    assert bad.status_code == 401
    assert HubStore(engine).events() == []


def test_deliveries_are_recorded_once_and_answered_202(
    client: tuple[TestClient, Engine], catalog_url: str
) -> None:
    c, _ = client
    headers = {"X-Webhook-Secret": SECRET}
    first = c.post("/hooks/huggingface", json=payload(), headers=headers)
    assert first.status_code == 202
    assert first.json() == {
        "queued": True,
        "duplicate": False,
        "event_id": first.json()["event_id"],
    }
    again = c.post("/hooks/huggingface", json=payload(), headers=headers)
    assert again.status_code == 202 and again.json()["duplicate"] is True
    assert again.json()["event_id"] == first.json()["event_id"]
    newer = c.post("/hooks/huggingface", json=payload(sha="b" * 40), headers=headers)
    assert newer.json()["duplicate"] is False
    # Durable: another connection to the database sees both events, pending.
    other = open_catalog(catalog_url)
    try:
        events = HubStore(other).events("pending")
    finally:
        other.dispose()
    assert [(e.repo, e.revision) for e in events] == [
        ("acme/lora", "a" * 40),
        ("acme/lora", "b" * 40),
    ]
    assert events[0].kind == "repo.content.update"


def test_irrelevant_and_malformed_deliveries(client: tuple[TestClient, Engine]) -> None:
    c, engine = client
    headers = {"X-Webhook-Secret": SECRET}
    ignored = c.post("/hooks/huggingface", json=payload(type="dataset"), headers=headers)
    assert ignored.status_code == 200 and ignored.json()["queued"] is False
    discussion = c.post("/hooks/huggingface", json=payload(scope="discussion"), headers=headers)
    assert "does not change files" in discussion.json()["reason"]
    assert c.post("/hooks/huggingface", content=b"{not json", headers=headers).status_code == 400
    assert c.post("/hooks/huggingface", json=[1, 2], headers=headers).status_code == 400
    assert HubStore(engine).events() == []


def test_unconfigured_secret_refuses_everything(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LIKENESSGUARD_WEBHOOK_SECRET", raising=False)
    monkeypatch.chdir("/")
    engine = open_catalog(sqlite_url)
    try:
        app = create_app(engine, WebSettings(background=False))
        app.state.webhook_secret = ""
        with TestClient(app) as c:
            r = c.post("/hooks/huggingface", json=payload(), headers={"X-Webhook-Secret": ""})
        assert r.status_code == 503 and "LIKENESSGUARD_WEBHOOK_SECRET" in r.json()["error"]
    finally:
        engine.dispose()
