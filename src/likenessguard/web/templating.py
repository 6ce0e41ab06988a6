"""Jinja2 rendering with the helpers every page needs (CSRF token, user, severity colours).

Autoescaping is on for every template: evidence text is whatever an uploader
wrote, and it is shown verbatim, so it must never be able to become markup.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape

from likenessguard.web.security import CSRF_COOKIE, cookie_secure, page_csrf, principal

TEMPLATES = Path(__file__).with_name("templates")


def _highlight(text: str, needles: list[str]) -> Markup:
    """Escape ``text`` and wrap each occurrence of a needle in <mark>."""
    out = str(escape(text))
    for needle in sorted({n for n in needles if n and len(n) > 1}, key=len, reverse=True):
        safe = str(escape(needle))
        if safe and safe.lower() in out.lower():
            idx = out.lower().index(safe.lower())
            out = (
                out[:idx]
                + "<mark>"
                + out[idx : idx + len(safe)]
                + "</mark>"
                + out[idx + len(safe) :]
            )
    return Markup(out)  # noqa: S704  (built from escaped parts only)


def _ago(value: datetime | None) -> str:
    if value is None:
        return ""
    from likenessguard.store.review import _utc, utcnow

    delta = utcnow() - _utc(value)
    days = delta.days
    if days >= 365:
        return f"{days // 365}y ago"
    if days >= 1:
        return f"{days}d ago"
    hours = delta.seconds // 3600
    return f"{hours}h ago" if hours else f"{max(1, delta.seconds // 60)}m ago"


def _size(n: int | None) -> str:
    if n is None:
        return ""
    value = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return str(n)


def make_env() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(("html", "xml")),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["highlight"] = _highlight
    env.filters["ago"] = _ago
    env.filters["size"] = _size
    env.filters["tojson_pretty"] = lambda v: json.dumps(v, indent=2, sort_keys=True, default=str)
    return env


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    status_code: int = 200,
) -> HTMLResponse:
    """Render a page with ``user``, ``csrf`` and ``request`` in scope."""
    env: Environment = request.app.state.jinja
    csrf = page_csrf(request)
    who = principal(request)
    html = env.get_template(template).render(
        request=request, user=who.user, csrf=csrf, **(context or {})
    )
    response = HTMLResponse(html, status_code=status_code)
    new_cookie = getattr(request.state, "new_csrf_cookie", None)
    if new_cookie:
        response.set_cookie(
            CSRF_COOKIE,
            new_cookie,
            httponly=True,
            samesite="strict",
            secure=cookie_secure(request, request.app.state.settings),
            path="/",
        )
    return response
