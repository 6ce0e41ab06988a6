"""Polite HTTP for hubs: rate limits, backoff, bounded concurrency, clear errors.

A crawler that hammers a hub gets its token banned and its users' trust lost.
Every request a connector makes goes through :class:`PoliteClient`, which

* spaces requests to at most ``rate`` per second (a token bucket shared by all threads),
* keeps at most ``concurrency`` requests in flight,
* retries 429, 408 and 5xx answers and dropped or truncated bodies with
  exponential backoff, waiting exactly as long as the hub asks through
  ``Retry-After`` or its IETF ``RateLimit`` header (``"api";r=0;t=55``),
* gives up with :class:`~likenessguard.errors.HubRateLimited` when the hub asks
  for more patience than ``max_wait`` seconds,
* turns 401/403 into :class:`~likenessguard.errors.HubAuthError` and 404 into
  :class:`~likenessguard.errors.HubNotFound`, each with a message that says what to do.

The same policy wraps calls into the ``huggingface_hub`` client through
:meth:`PoliteClient.call`.
"""

from __future__ import annotations

import email.utils
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

import httpx

from likenessguard.errors import HubAuthError, HubError, HubNotFound, HubRateLimited

T = TypeVar("T")

RETRY_STATUS: frozenset[int] = frozenset({408, 429, 500, 502, 503, 504})

_RATELIMIT = re.compile(r'"?(?P<kind>[\w-]+)"?\s*;\s*r\s*=\s*(?P<r>\d+)\s*;\s*t\s*=\s*(?P<t>\d+)')


@dataclass(frozen=True, slots=True)
class Politeness:
    """How hard a connector may push a hub (documented in docs/hubs.md).

    Args:
        rate: requests per second across all threads (0 = unlimited).
        concurrency: requests in flight at once.
        timeout: seconds to wait for a connection or for the next bytes.
        retries: how many times one request is retried after a retryable failure.
        backoff: first backoff in seconds; doubles per retry up to ``max_backoff``.
        max_wait: the longest single wait a hub may ask for before we give up.
    """

    rate: float = 10.0
    concurrency: int = 8
    timeout: float = 30.0
    retries: int = 5
    backoff: float = 0.5
    max_backoff: float = 30.0
    max_wait: float = 300.0


class RateLimiter:
    """A token bucket: at most ``rate`` acquisitions per second, bursts up to ``burst``."""

    def __init__(self, rate: float, burst: int = 1, clock: Callable[[], float] = time.monotonic):
        self._rate = rate
        self._burst = max(1, burst)
        self._tokens = float(self._burst)
        self._clock = clock
        self._last = clock()
        self._lock = threading.Lock()
        self._paused_until = 0.0

    def pause_until(self, deadline: float) -> None:
        """Hold every caller until ``deadline`` (a hub said ``Retry-After``)."""
        with self._lock:
            self._paused_until = max(self._paused_until, deadline)

    def acquire(self) -> None:
        while True:
            with self._lock:
                now = self._clock()
                if now < self._paused_until:
                    wait = self._paused_until - now
                elif self._rate <= 0:
                    return
                else:
                    self._tokens = min(self._burst, self._tokens + (now - self._last) * self._rate)
                    self._last = now
                    if self._tokens >= 1:
                        self._tokens -= 1
                        return
                    wait = (1 - self._tokens) / self._rate
            time.sleep(wait)


def retry_after_seconds(headers: Mapping[str, str], now: datetime | None = None) -> float | None:
    """How long the hub asked us to wait, from ``RateLimit`` or ``Retry-After``.

    ``RateLimit: "api";r=0;t=55`` (Hugging Face, IETF draft) means the window
    resets in 55 s; it only counts when nothing remains (r=0). ``Retry-After``
    is either seconds or an HTTP date.
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    ratelimit = lowered.get("ratelimit")
    if ratelimit and (m := _RATELIMIT.search(ratelimit)) and int(m.group("r")) == 0:
        return float(m.group("t"))
    value = lowered.get("retry-after")
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def describe_status(hub: str, status: int, url: str, token_hint: str) -> HubError:
    """The one-line error for a final non-retryable status."""
    if status in (401, 403):
        return HubAuthError(f"Couldn't authenticate to {hub}: {token_hint} ({status} for {url})")
    if status == 404:
        return HubNotFound(f"{hub}: {url} does not exist or is private (404)")
    return HubError(f"{hub} answered {status} for {url}; try again later or check the endpoint")


class TruncatedBody(httpx.TransportError):
    """The server sent fewer bytes than it declared (a dropped connection)."""


class PoliteClient:
    """An ``httpx.Client`` wrapped in the politeness policy; safe to share between threads.

    Args:
        hub: the hub's display name for messages ("Hugging Face").
        token_hint: what to tell a user whose credentials were refused.
        headers: sent with every request (authorization, user agent).
        policy: limits and backoff.
        transport: an ``httpx`` transport (tests may pass ``httpx.MockTransport``).
    """

    def __init__(
        self,
        hub: str,
        *,
        token_hint: str,
        headers: Mapping[str, str] | None = None,
        policy: Politeness | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.hub = hub
        self.token_hint = token_hint
        self.policy = policy or Politeness()
        self._limiter = RateLimiter(self.policy.rate, burst=max(1, self.policy.concurrency))
        self._slots = threading.BoundedSemaphore(self.policy.concurrency)
        limits = httpx.Limits(
            max_connections=self.policy.concurrency,
            max_keepalive_connections=self.policy.concurrency,
        )
        self._client = httpx.Client(
            headers=dict(headers or {}),
            timeout=httpx.Timeout(self.policy.timeout),
            limits=limits,
            follow_redirects=True,
            transport=transport,
        )
        self._lock = threading.Lock()
        self.requests = 0
        self.retries = 0
        self.bytes_received = 0

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> PoliteClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _count(self, nbytes: int, retried: bool = False) -> None:
        with self._lock:
            self.requests += 1
            self.bytes_received += nbytes
            if retried:
                self.retries += 1

    def _wait_before_retry(self, attempt: int, asked: float | None, what: str) -> None:
        if attempt >= self.policy.retries:
            raise HubRateLimited(
                f"{self.hub} kept failing or throttling {what} after {attempt + 1} attempts; "
                "lower --concurrency or try again later"
            )
        if asked is not None:
            if asked > self.policy.max_wait:
                raise HubRateLimited(
                    f"{self.hub} asked us to wait {asked:.0f}s before {what} "
                    f"(patience {self.policy.max_wait:.0f}s); try again later or use a token"
                )
            # Everyone waits, not just this thread: the limit is per client.
            self._limiter.pause_until(time.monotonic() + asked)
            return
        delay = min(self.policy.max_backoff, self.policy.backoff * (2**attempt))
        time.sleep(delay)

    def get(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str | int] | None = None,
        method: str = "GET",
        expect_length: int | None = None,
    ) -> httpx.Response:
        """Send one request with the full policy and return a successful, fully read response.

        ``expect_length`` (for ranged reads) makes a short body a retryable
        failure, which is how a truncated response is caught even when the
        server's ``Content-Length`` was itself cut.
        """
        attempt = 0
        while True:
            self._limiter.acquire()
            with self._slots:
                try:
                    response = self._client.request(method, url, headers=headers, params=params)
                    body_len = len(response.content)
                    declared = response.headers.get("content-length")
                    if method != "HEAD" and declared is not None and int(declared) != body_len:
                        raise TruncatedBody(f"{body_len} of {declared} bytes")
                    if (
                        expect_length is not None
                        and response.status_code in (200, 206)
                        and body_len < expect_length
                    ):
                        raise TruncatedBody(f"{body_len} of {expect_length} bytes")
                except httpx.TransportError as exc:
                    self._count(0, retried=attempt > 0)
                    self._wait_before_retry(attempt, None, f"{method} {url} ({exc})")
                    attempt += 1
                    continue
            self._count(body_len, retried=attempt > 0)
            if response.status_code in RETRY_STATUS:
                self._wait_before_retry(
                    attempt, retry_after_seconds(response.headers), f"{method} {url}"
                )
                attempt += 1
                continue
            if response.status_code >= 400:
                raise describe_status(self.hub, response.status_code, url, self.token_hint)
            return response

    @contextmanager
    def stream(
        self, url: str, *, headers: Mapping[str, str] | None = None
    ) -> Iterator[httpx.Response]:
        """A streamed GET (for whole-file downloads) under the same limits and status rules.

        Retries happen before the body starts; a body that breaks midway raises
        ``httpx.TransportError`` to the caller, who restarts or gives up.
        """
        attempt = 0
        while True:
            self._limiter.acquire()
            self._slots.acquire()
            try:
                request = self._client.build_request("GET", url, headers=headers)
                response = self._client.send(request, stream=True)
            except httpx.TransportError as exc:
                self._slots.release()
                self._count(0, retried=attempt > 0)
                self._wait_before_retry(attempt, None, f"GET {url} ({exc})")
                attempt += 1
                continue
            self._count(0, retried=attempt > 0)
            if response.status_code < 400:
                try:
                    yield response
                finally:
                    response.close()
                    self._slots.release()
                return
            response.close()
            self._slots.release()
            if response.status_code not in RETRY_STATUS:
                raise describe_status(self.hub, response.status_code, url, self.token_hint)
            self._wait_before_retry(attempt, retry_after_seconds(response.headers), f"GET {url}")
            attempt += 1

    def call(
        self,
        what: str,
        fn: Callable[[], T],
        classify: Callable[[BaseException], tuple[int | None, Mapping[str, str]]],
    ) -> T:
        """Run ``fn`` (a call into another hub client) under the same limits and retries.

        ``classify`` maps an exception raised by ``fn`` to (HTTP status or None
        for a transport failure, response headers); exceptions it maps to
        ``(-1, {})`` are re-raised untouched.
        """
        attempt = 0
        while True:
            self._limiter.acquire()
            with self._slots:
                try:
                    result = fn()
                except HubError:
                    raise
                except Exception as exc:
                    status, headers = classify(exc)
                    if status == -1:
                        raise
                    self._count(0, retried=attempt > 0)
                    if status is None or status in RETRY_STATUS:
                        asked = retry_after_seconds(headers) if status is not None else None
                        retry_exc: BaseException | None = exc
                    else:
                        raise describe_status(self.hub, status, what, self.token_hint) from exc
                else:
                    self._count(0, retried=attempt > 0)
                    return result
            try:
                self._wait_before_retry(attempt, asked, what)
            except HubRateLimited as final:
                raise final from retry_exc
            attempt += 1
