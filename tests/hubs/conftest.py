"""Fixtures for hub tests: a local Hub/Civitai server the real clients talk to."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from likenessguard.testing.hubserver import HubServer


@pytest.fixture(autouse=True)
def online(monkeypatch: pytest.MonkeyPatch) -> None:
    """The real client refuses even localhost under HF_HUB_OFFLINE; no token may leak in."""
    for name in ("HF_HUB_OFFLINE", "HF_TOKEN", "HF_ENDPOINT", "CIVITAI_TOKEN"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def hub() -> Iterator[HubServer]:
    with HubServer(page_size=7) as server:
        yield server
