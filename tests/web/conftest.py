"""Fixtures for the review app: a catalog on both backends, users of every role, clients."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from likenessguard.registry.sealing import Sealer, generate_key
from likenessguard.store import review
from likenessguard.store.db import open_catalog
from likenessguard.testing.catalog import add_artifact, draw_preview
from likenessguard.verdicts.base import Severity
from likenessguard.web.app import create_app
from likenessguard.web.settings import WebSettings

PASSWORD = "correct horse battery staple"
# One requester key for the session: apps and direct store calls must agree, and no
# test may write a key file into the developer's data directory.
REQUESTER_KEY = generate_key()
SEALER = Sealer([REQUESTER_KEY])
ROLES = ("admin", "reviewer", "viewer")


@pytest.fixture(autouse=True)
def requester_key(monkeypatch: pytest.MonkeyPatch) -> str:
    """Apps built without an explicit key read the setting: never a key file in the
    developer's data directory."""
    monkeypatch.setenv("LIKENESSGUARD_REQUESTER_KEY", REQUESTER_KEY)
    return REQUESTER_KEY


@pytest.fixture(autouse=True)
def cheap_argon2() -> Iterator[None]:
    """Real argon2id with the cheapest parameters: the suite creates many accounts."""
    from argon2 import PasswordHasher, profiles

    previous = review.use_password_hasher(PasswordHasher.from_parameters(profiles.CHEAPEST))
    yield
    review.use_password_hasher(previous)


@pytest.fixture
def engine(catalog_url: str) -> Iterator[Engine]:
    eng = open_catalog(catalog_url)
    yield eng
    eng.dispose()


@pytest.fixture
def sqlite_engine(sqlite_url: str) -> Iterator[Engine]:
    eng = open_catalog(sqlite_url)
    yield eng
    eng.dispose()


def seed_users(engine: Engine) -> dict[str, review.User]:
    return {role: review.create_user(engine, role, PASSWORD, role=role) for role in ROLES}


def make_client(engine: Engine, **settings: object) -> TestClient:
    settings.setdefault("requester_key", REQUESTER_KEY)
    app = create_app(engine, WebSettings(background=False, **settings))  # type: ignore[arg-type]
    return TestClient(app, follow_redirects=False)


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "page has no CSRF field"
    return match.group(1)


def login(client: TestClient, name: str, password: str = PASSWORD) -> str:
    """Sign in through the real form; returns the session's CSRF token."""
    page = client.get("/login")
    resp = client.post(
        "/login", data={"csrf": csrf_of(page.text), "username": name, "password": password}
    )
    assert resp.status_code == 303, resp.text
    return csrf_of(client.get("/account/password").text)


@pytest.fixture
def seeded(tmp_path: Path, engine: Engine) -> dict[str, int]:
    """A small catalog on both backends (see ``seed_catalog``)."""
    return seed_catalog(engine, tmp_path)


def seed_catalog(engine: Engine, tmp_path: Path) -> dict[str, int]:
    """A small catalog: one case of each kind, with a preview image next to one model."""
    models = tmp_path / "models"
    models.mkdir()
    ids = {
        "high": add_artifact(
            engine,
            path=str(models / "jane_roe_v2.safetensors"),
            uri=f"file://{models}/jane_roe_v2.safetensors",
            hub="local",
            repo=None,
            url=None,
            subject="Jane Roe",
            severity=Severity.HIGH,
            sha256="a" * 64,
        ),
        "mirror": add_artifact(
            engine,
            uri="hf://someone/jane-roe-reup@" + "c" * 40 + "/jr.safetensors",
            hub="huggingface",
            repo="someone/jane-roe-reup",
            revision="c" * 40,
            url="https://huggingface.co/someone/jane-roe-reup",
            subject="Jane Roe",
            severity=Severity.HIGH,
            sha256="a" * 64,
        ),
        "critical": add_artifact(
            engine,
            uri="civitai://model/9/version/9/mm.safetensors",
            hub="civitai",
            subject="Mary Major",
            severity=Severity.CRITICAL,
            labels={"real_person": 0.9, "sexual": 0.9, "minor_risk": 0.8},
        ),
        "medium": add_artifact(
            engine,
            uri="hf://hist/ada@" + "d" * 40 + "/ada.safetensors",
            hub="huggingface",
            repo="hist/ada-lovelace-lora",
            subject="Ada Lovelace",
            severity=Severity.MEDIUM,
        ),
        "low": add_artifact(
            engine,
            uri="file:///x/low.safetensors",
            subject=None,
            severity=Severity.LOW,
            labels={"sexual": 0.6},
        ),
        "banked": add_artifact(
            engine,
            uri="file:///x/banked.safetensors",
            subject=None,
            severity=Severity.NONE,
            labels={},
            matches=[
                {
                    "bank": "ncii-shared",
                    "entry": {"id": 1, "name": "x"},
                    "method": "sha256",
                    "similarity": 1.0,
                }
            ],
        ),
    }
    draw_preview(models / "jane_roe_v2.preview.png", seed=3)
    review.case_sync(engine)
    return ids


def case_of(engine: Engine, artifact_id: int) -> int:
    from sqlalchemy import select

    from likenessguard.store.models.review import CaseRow

    with engine.connect() as conn:
        return int(
            conn.execute(select(CaseRow.id).where(CaseRow.artifact_id == artifact_id)).scalar_one()
        )


@pytest.fixture
def app_client(sqlite_engine: Engine) -> Iterator[tuple[FastAPI, TestClient]]:
    client = make_client(sqlite_engine)
    with client:
        yield client.app, client  # type: ignore[misc]
