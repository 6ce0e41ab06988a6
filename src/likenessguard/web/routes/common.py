"""Dependencies every router shares: the engine, role checks, CSRF, query filters."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Query, Request

from likenessguard.store.review import CASE_STATUSES, LABELS, Engine, QueueFilter, User
from likenessguard.verdicts.base import Severity
from likenessguard.web.security import check_csrf, require
from likenessguard.web.settings import WebSettings

# Filter values reach SQL as bound parameters; the patterns keep out what no hub
# name contains anyway (and NUL bytes, which PostgreSQL refuses).
NAME_PATTERN = r"^([A-Za-z0-9][A-Za-z0-9_.:/ -]{0,127})?$"
SUBJECT_PATTERN = r"^[^\x00-\x1f\x7f]{0,256}$"
CURSOR_PATTERN = r"^[0-9]{32}$"
MAX_ID = 2**62


def engine_of(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def settings_of(request: Request) -> WebSettings:
    settings: WebSettings = request.app.state.settings
    return settings


def as_viewer(request: Request) -> User:
    return require(request, "viewer")


def as_reviewer(request: Request) -> User:
    return require(request, "reviewer")


def as_admin(request: Request) -> User:
    return require(request, "admin")


Viewer = Annotated[User, Depends(as_viewer)]
Reviewer = Annotated[User, Depends(as_reviewer)]
Admin = Annotated[User, Depends(as_admin)]
Db = Annotated[Engine, Depends(engine_of)]
Csrf = Annotated[None, Depends(check_csrf)]


def _blank(value: str | None) -> str | None:
    # A plain GET form sends every filter, empty ones as "": empty means "any".
    return value or None


def queue_filter(
    *,
    user: Viewer,
    queue: Annotated[str, Query(pattern="^(main|escalation)$")] = "main",
    status: Annotated[
        str | None, Query(pattern="^(open|confirmed|dismissed|escalated|any)?$")
    ] = None,
    severity: Annotated[str | None, Query(pattern="^(critical|high|medium|low|none)?$")] = None,
    label: Annotated[str | None, Query(pattern="^(real_person|sexual|minor_risk)?$")] = None,
    hub: Annotated[str | None, Query(pattern=NAME_PATTERN)] = None,
    bank: Annotated[str | None, Query(pattern=NAME_PATTERN)] = None,
    base_family: Annotated[str | None, Query(pattern=NAME_PATTERN)] = None,
    subject: Annotated[str | None, Query(pattern=SUBJECT_PATTERN)] = None,
) -> QueueFilter:
    """The queue filter from query parameters; the escalation queue is for admins only."""
    if queue == "escalation" and not user.can("admin"):
        raise HTTPException(403, "the escalation queue is for admins")
    default_status = "escalated" if queue == "escalation" else "open"
    status = _blank(status)
    chosen = default_status if status is None else (None if status == "any" else status)
    assert chosen is None or chosen in CASE_STATUSES
    assert not label or label in LABELS
    return QueueFilter(
        queue=queue,
        status=chosen,
        severity=Severity.parse(severity) if severity else None,
        label=_blank(label),
        hub=_blank(hub),
        bank=_blank(bank),
        base_family=_blank(base_family),
        subject=_blank(subject),
    )


Filter = Annotated[QueueFilter, Depends(queue_filter)]
