"""The politeness layer: waits as the hub asks, retries what is retryable, says what failed."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from likenessguard.errors import HubAuthError, HubNotFound, HubRateLimited
from likenessguard.hubs.http import PoliteClient, Politeness, RateLimiter, retry_after_seconds
from likenessguard.testing.hubserver import HubServer

FAST = Politeness(rate=0, concurrency=4, backoff=0.01, max_backoff=0.05, retries=3, max_wait=5)


def client(policy: Politeness = FAST) -> PoliteClient:
    return PoliteClient("Hugging Face", token_hint="set HF_TOKEN or pass --token", policy=policy)


def test_retry_after_seconds_reads_seconds_dates_and_ratelimit_headers() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert retry_after_seconds({"Retry-After": "7"}) == 7.0
    later = format_datetime(now + timedelta(seconds=30), usegmt=True)
    assert retry_after_seconds({"retry-after": later}, now=now) == pytest.approx(30.0)
    # Hugging Face's IETF header wins when nothing remains in the window ...
    assert retry_after_seconds({"RateLimit": '"api";r=0;t=55', "Retry-After": "3"}) == 55.0
    # ... and does not count while requests remain.
    assert retry_after_seconds({"RateLimit": '"api";r=10;t=55', "Retry-After": "3"}) == 3.0
    assert retry_after_seconds({"Retry-After": "soon"}) is None
    assert retry_after_seconds({}) is None


def test_rate_limiter_spaces_requests() -> None:
    limiter = RateLimiter(rate=50.0, burst=1)
    start = time.monotonic()
    for _ in range(6):
        limiter.acquire()
    # The first token is free; five more at 50/s take at least 0.1 s.
    assert time.monotonic() - start >= 0.09


def test_429_waits_exactly_as_asked_then_succeeds() -> None:
    with HubServer() as hub:
        hub.add_repo("acme/a", {"README.md": b"# a"})
        hub.inject("model", status=429, retry_after=1)
        with client() as http:
            start = time.monotonic()
            response = http.get(f"{hub.url}/api/models/acme/a")
            elapsed = time.monotonic() - start
        assert response.json()["id"] == "acme/a"
        assert elapsed >= 0.95
        assert hub.stats.requests["model"] == 2
        assert http.retries == 1


def test_ratelimit_header_beyond_patience_gives_up_with_a_clear_message() -> None:
    with HubServer() as hub:
        hub.add_repo("acme/a", {"README.md": b"# a"})
        hub.inject("model", status=429, ratelimit_reset=3600)
        with client() as http, pytest.raises(HubRateLimited, match="asked us to wait 3600s"):
            http.get(f"{hub.url}/api/models/acme/a")
        assert hub.stats.requests["model"] == 1


def test_5xx_and_truncated_bodies_are_retried() -> None:
    with HubServer() as hub:
        hub.add_repo("acme/a", {"README.md": b"# a card" * 100})
        hub.inject("model", status=503, times=2)
        hub.inject("resolve", truncate=True)
        with client() as http:
            assert http.get(f"{hub.url}/api/models/acme/a").status_code == 200
            body = http.get(f"{hub.url}/acme/a/resolve/main/README.md").content
        assert body == b"# a card" * 100
        assert hub.stats.faults == {"model": 2, "resolve": 1}


def test_persistent_5xx_gives_up_after_the_retry_budget() -> None:
    with HubServer() as hub:
        hub.add_repo("acme/a", {"README.md": b"# a"})
        hub.inject("model", status=500, times=10)
        with client() as http, pytest.raises(HubRateLimited, match="after 4 attempts"):
            http.get(f"{hub.url}/api/models/acme/a")
        assert hub.stats.requests["model"] == 4


def test_auth_and_missing_errors_say_what_to_do() -> None:
    with HubServer(token="right") as hub:
        hub.add_repo("acme/a", {"README.md": b"# a"})
        with client() as http, pytest.raises(HubAuthError) as info:
            http.get(f"{hub.url}/api/models/acme/a")
        assert str(info.value).startswith(
            "Couldn't authenticate to Hugging Face: set HF_TOKEN or pass --token (401 for "
        )
    with HubServer() as hub, client() as http, pytest.raises(HubNotFound, match="does not exist"):
        http.get(f"{hub.url}/api/models/acme/missing")
