"""Security plumbing of the review app: who is asking, CSRF, rate limits, headers, log hygiene.

One place decides these so every route gets the same answer:

- a request is authenticated by an API token (``Authorization: Bearer lgt_...``,
  exempt from CSRF because browsers never attach it on their own) or by the
  ``lg_session`` cookie (server-side session; CSRF token required on writes);
- anonymous forms (login, takedown) use a double-submit token bound to an
  ``lg_csrf`` cookie and signed with the app key;
- rate limits are per process, in memory (a sliding window): enough for a
  login form and a public form; a multi-host deployment adds a proxy limit;
- takedown status tokens and form bodies never reach the logs: a filter on
  uvicorn's access logger redacts status paths.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from fastapi import HTTPException, Request
from itsdangerous import BadSignature, URLSafeTimedSerializer

from likenessguard.store.review import Engine, User, session_user, user_for_token
from likenessguard.web.settings import WebSettings

SESSION_COOKIE = "lg_session"
CSRF_COOKIE = "lg_csrf"
CSRF_HEADER = "x-csrf-token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; object-src 'none'"
)
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    # no-referrer: a takedown status link must never leak to another site via Referer.
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), interest-cohort=()"),
)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is asking: a user (via session or token), or nobody."""

    user: User | None
    via: str  # "session", "token" or "anonymous"
    csrf: str | None = None


class NotAuthenticated(Exception):
    """Raised by role checks; HTML routes turn it into a redirect, the API into 401."""


class MustChangePassword(Exception):
    """The account still has its one-time password."""


def principal(request: Request) -> Principal:
    """Resolve the caller once per request (cached on ``request.state``)."""
    cached = getattr(request.state, "principal", None)
    if isinstance(cached, Principal):
        return cached
    engine: Engine = request.app.state.engine
    result = Principal(None, "anonymous")
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        user = user_for_token(engine, auth[7:].strip())
        if user is None:
            raise HTTPException(401, "the API token is unknown, revoked or its user is disabled")
        result = Principal(user, "token")
    else:
        sid = request.cookies.get(SESSION_COOKIE)
        if sid:
            found = session_user(engine, sid)
            if found is not None:
                result = Principal(found[0], "session", found[1])
    request.state.principal = result
    return result


def require(request: Request, role: str) -> User:
    """The caller if they hold ``role`` (or stronger); raises otherwise."""
    who = principal(request)
    if who.user is None:
        raise NotAuthenticated
    if who.user.must_change_password and not request.url.path.startswith("/account/password"):
        raise MustChangePassword
    if not who.user.can(role):
        raise HTTPException(403, f"this needs the {role} role; you are a {who.user.role}")
    return who.user


def client_ip(request: Request, settings: WebSettings) -> str:
    if settings.trust_proxy:
        forwarded = request.headers.get("x-forwarded-for", "")
        if forwarded:
            return forwarded.split(",")[0].strip()
    return request.client.host if request.client else "unknown"


def is_https(request: Request) -> bool:
    return (
        request.url.scheme == "https"
        or request.headers.get("x-forwarded-proto", "").lower() == "https"
    )


def cookie_secure(request: Request, settings: WebSettings) -> bool:
    if settings.cookie_secure == "always":
        return True
    if settings.cookie_secure == "never":
        return False
    return is_https(request)


# --------------------------------------------------------------------------- CSRF


def anon_csrf_token(cookie: str, secret: str) -> str:
    """The form token bound to an anonymous visitor's ``lg_csrf`` cookie."""
    return hmac.new(secret.encode(), b"csrf:" + cookie.encode(), hashlib.sha256).hexdigest()


def expected_csrf(request: Request) -> str | None:
    """The CSRF token this request must present (None: it has nothing to present)."""
    who = principal(request)
    if who.via == "session":
        return who.csrf
    cookie = request.cookies.get(CSRF_COOKIE)
    if not cookie:
        return None
    return anon_csrf_token(cookie, request.app.state.settings.secret_key)


def page_csrf(request: Request) -> str:
    """The token a page embeds in its forms; issues an ``lg_csrf`` cookie when needed."""
    token = expected_csrf(request)
    if token is not None:
        return token
    cookie = getattr(request.state, "new_csrf_cookie", None) or secrets.token_urlsafe(24)
    request.state.new_csrf_cookie = cookie
    return anon_csrf_token(cookie, request.app.state.settings.secret_key)


async def check_csrf(request: Request) -> None:
    """Refuse an unsafe request that lacks the right CSRF token (token auth is exempt)."""
    if request.method not in UNSAFE_METHODS:
        return
    who = principal(request)
    if who.via == "token":
        return
    origin = request.headers.get("origin")
    if origin and origin != "null":
        host = request.headers.get("host", "")
        if re.sub(r"^https?://", "", origin) != host:
            raise HTTPException(403, "cross-site request refused: the Origin does not match")
    expected = expected_csrf(request)
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        value = form.get("csrf")
        sent = value if isinstance(value, str) else None
    if not expected or not sent or not hmac.compare_digest(expected, sent):
        raise HTTPException(
            403,
            "the form's security token is missing or stale: reload the page and submit again",
        )


# --------------------------------------------------------------------------- rate limits


class RateLimiter:
    """A sliding-window limit of ``limit`` events per ``window`` seconds per key."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self._events: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str) -> float:
        """Count one event; returns 0 when allowed, else the seconds until it would be."""
        now = time.monotonic()
        with self._lock:
            if len(self._events) > 100_000:  # bound memory under a flood of distinct keys
                self._events.clear()
            q = self._events.setdefault(key, deque())
            while q and q[0] <= now - self.window:
                q.popleft()
            if len(q) >= self.limit:
                return max(0.1, q[0] + self.window - now)
            q.append(now)
            return 0.0


def takedown_throttle(request: Request, settings: WebSettings) -> tuple[float, str] | None:
    """The public takedown form's limits, per client address and for everyone together.

    Returns None when this submission may go on, else (seconds to wait, whose limit):
    ``"your address"`` or ``"everyone"``. The per-address limit is counted first, so
    one flooding client does not use up the global budget beyond its own share.
    """
    ip = client_ip(request, settings)
    retry = request.app.state.takedown_limiter.hit(ip)
    if retry:
        return retry, "your address"
    retry = request.app.state.takedown_global_limiter.hit("*")
    if retry:
        return retry, "everyone"
    return None


def grant_serializer(secret: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt="preview-grant")


def make_grant(secret: str, user_id: int, case_id: int, index: int) -> str:
    """A short-lived grant to fetch one revealed preview, bound to the user who revealed it."""
    return str(grant_serializer(secret).dumps([user_id, case_id, index]))


def check_grant(
    secret: str, grant: str, user_id: int, case_id: int, index: int, *, max_age: int = 900
) -> bool:
    try:
        data = grant_serializer(secret).loads(grant, max_age=max_age)
    except BadSignature:
        return False
    return bool(data == [user_id, case_id, index])


# --------------------------------------------------------------------------- headers, logs

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class SecurityHeaders:
    """Pure ASGI middleware adding the security headers (and no-store on dynamic pages)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = str(scope.get("path", "")).startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                headers.extend(h for h in SECURITY_HEADERS if h[0] not in names)
                if not static and b"cache-control" not in names:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


_SECRET_PATH = re.compile(r"(/takedown/status/)[^/?\s\"]+")


def redact(text: str) -> str:
    """Hide takedown status tokens in a path or log line."""
    return _SECRET_PATH.sub(r"\1[redacted]", text)


class RedactSecrets(logging.Filter):
    """Redacts takedown status tokens from uvicorn access (and error) log records."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        return True


def install_log_redaction() -> None:
    """Attach the redacting filter to uvicorn's loggers once."""
    for name in ("uvicorn.access", "uvicorn.error", "uvicorn"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSecrets) for f in logger.filters):
            logger.addFilter(RedactSecrets())
