"""Settings of the review app, resolved once when the app is built.

Kept apart from the global settings table because most of these only matter to
a deployment of the web app (cookie policy, rate limits, retention) and tests
need to build apps with different values side by side.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from likenessguard.config import data_dir


@dataclass(frozen=True, slots=True)
class WebSettings:
    """How one review app instance behaves.

    Attributes:
        secret_key: signs preview grants and anonymous CSRF tokens; every worker of
            one deployment must share it (``serve`` keeps one in the data directory).
        cookie_secure: ``auto`` marks cookies Secure when the request came over TLS
            (directly or per ``X-Forwarded-Proto: https``); ``always`` / ``never`` force it.
        session_hours: lifetime of a login session.
        login_limit: failed-or-not login attempts per client and name per ``rate_window``.
        takedown_limit: public form submissions per client address per ``rate_window``.
        takedown_global_limit: public form submissions from all clients together per
            ``rate_window`` (a flood from many addresses stops here).
        takedown_pending_cap: requests waiting for review at most; past it the form
            answers 503 and stores nothing.
        requester_key: Fernet key(s), comma-separated, newest first, that encrypt
            takedown requester data; empty means the ``requester_key`` setting, else
            the key file in the data directory (``registry.sealing``).
        rate_window_s: the sliding window of both limits, in seconds.
        trust_proxy: take the client address from ``X-Forwarded-For`` (only behind a proxy
            you run; otherwise clients could choose their own rate-limit bucket).
        notice_deadline_days: the removal deadline written into takedown notices.
        notice_contact: who hubs should answer, printed on notices.
        takedown_poll_s: how often the background search looks for new requests and scans.
        background: run the takedown search thread (tests switch it off and call it).
        webhook_secret: the secret hub webhooks must present (``routes/hooks.py``);
            empty means the ``webhook_secret`` setting.
    """

    secret_key: str = ""
    cookie_secure: str = "auto"
    session_hours: float = 12.0
    login_limit: int = 10
    takedown_limit: int = 5
    takedown_global_limit: int = 300
    takedown_pending_cap: int = 500
    rate_window_s: float = 300.0
    trust_proxy: bool = False
    notice_deadline_days: int = 2
    notice_contact: str = ""
    takedown_poll_s: float = 5.0
    background: bool = True
    webhook_secret: str = ""
    requester_key: str = ""

    @property
    def session_lifetime(self) -> timedelta:
        return timedelta(hours=self.session_hours)

    def with_secret(self) -> WebSettings:
        """These settings with a secret key (a random one when none was set)."""
        if self.secret_key:
            return self
        from dataclasses import replace

        return replace(self, secret_key=secrets.token_urlsafe(32))


def persistent_secret(path: Path | None = None) -> str:
    """The deployment's secret key, generated once and kept (mode 0600) in the data directory."""
    path = path or data_dir() / "web_secret_key"
    if path.is_file():
        key = path.read_text(encoding="utf-8").strip()
        if key:
            return key
    key = secrets.token_urlsafe(48)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(key, encoding="utf-8")
    return key
