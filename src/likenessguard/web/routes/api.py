"""The JSON API under ``/api/v1``: every action of the app, for automation.

Authenticate with ``Authorization: Bearer <token>`` (``likenessguard users token``);
cookie-authenticated calls from the app's own pages must send ``X-CSRF-Token``.
The schema is served at ``/api/v1/openapi.json``.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, HTTPException, Path, Query, Request
from fastapi.responses import PlainTextResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from likenessguard.errors import UsageError
from likenessguard.store import review
from likenessguard.store.registry import load_registry, records_by_hash
from likenessguard.store.review import POLICY_REASONS
from likenessguard.verdicts.base import Severity
from likenessguard.verdicts.guard import check_prompt
from likenessguard.web.previews import find_previews
from likenessguard.web.routes.common import (
    CURSOR_PATTERN,
    MAX_ID,
    Admin,
    Csrf,
    Db,
    Filter,
    Reviewer,
    Viewer,
    settings_of,
)
from likenessguard.web.routes.pages import (
    PREVIEW_LIMIT,
    bank_csv_lines,
    jsonl_lines,
    load_case,
    takedown_preview,
    with_copies,
)
from likenessguard.web.security import make_grant, takedown_throttle

router = APIRouter(tags=["review"])
CaseId = Annotated[int, Path(ge=1, le=MAX_ID)]
TOKEN_HEADER = Annotated[str, Header(alias="X-Takedown-Token", pattern=r"^[A-Za-z0-9_-]{20,100}$")]
Text = Annotated[str, Field(max_length=4000, pattern=r"^[^\x00]*$")]
Short = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]*$")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DecisionIn(Strict):
    action: Literal["confirm", "dismiss", "escalate", "reopen"]
    reason: Literal[tuple(POLICY_REASONS)] | None = None  # type: ignore[valid-type]
    note: Text = ""
    bank: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")] | None = None


class UserIn(Strict):
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{1,63}$")]
    role: Literal["admin", "reviewer", "viewer"] = "viewer"
    password: Annotated[str, Field(min_length=review.MIN_PASSWORD, max_length=1024)]


class TokenIn(Strict):
    label: Annotated[str, Field(max_length=128, pattern=r"^[^\x00-\x1f\x7f]*$")] = ""


class SyncIn(Strict):
    min_severity: Literal["critical", "high", "medium", "low"] = "medium"


class TakedownIn(Strict):
    names: Annotated[list[Short], Field(min_length=1, max_length=20)]
    aliases: Annotated[list[Short], Field(max_length=20)] = []
    handles: Annotated[list[Short], Field(max_length=20)] = []
    links: Annotated[
        list[Annotated[str, Field(max_length=500, pattern=r"^https?://\S+$")]], Field(max_length=20)
    ] = []
    contact: Annotated[
        str, Field(min_length=3, max_length=320, pattern=r"^[^\x00-\x1f\x7f]*\S[^\x00-\x1f\x7f]*$")
    ]
    relation: Literal["self", "agent"]
    statement: Literal[True] = Field(
        description="True: I am the person depicted, or I am authorised to act for them."
    )


class GuardIn(Strict):
    prompt: Annotated[str, Field(max_length=20000, pattern=r"^[^\x00]*$")]
    lora_hashes: Annotated[
        list[Annotated[str, Field(pattern=r"^[0-9A-Fa-f]{8,64}$")]], Field(max_length=16)
    ] = []


def _visible(detail: review.CaseDetail, user: review.User) -> None:
    if detail.case.queue == "escalation" and not user.can("admin"):
        raise HTTPException(404, f"case {detail.case.id} does not exist or is not visible to you")


@router.get("/me", summary="Who the API token or session belongs to")
def me(user: Viewer) -> dict[str, Any]:
    return user.to_json()


@router.get("/policy/reasons", summary="Policy clauses a confirmation may cite")
def policy_reasons(user: Viewer) -> dict[str, str]:
    return dict(POLICY_REASONS)


@router.get("/cases", summary="The review queue (severity, score, age), keyset-paged")
def list_cases(
    *,
    engine: Db,
    user: Viewer,
    flt: Filter,
    after: Annotated[str | None, Query(pattern=CURSOR_PATTERN)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> dict[str, Any]:
    page = review.queue(engine, flt, after=after, limit=limit)
    return {"items": [c.to_json() for c in page.items], "next_cursor": page.next_cursor}


@router.get("/counts", summary="Open cases per severity")
def counts(
    engine: Db,
    user: Viewer,
    queue: Annotated[Literal["main", "escalation"], Query()] = "main",
) -> dict[str, int]:
    if queue == "escalation" and not user.can("admin"):
        raise HTTPException(403, "the escalation queue is for admins")
    status = "escalated" if queue == "escalation" else "open"
    return review.severity_counts(engine, queue=queue, status=status)


@router.get("/cases/{case_id}", summary="One case with its artifact, record, decisions, mirrors")
def get_case(request: Request, engine: Db, user: Viewer, case_id: CaseId) -> dict[str, Any]:
    detail = with_copies(request, engine, load_case(engine, case_id, user))
    review.audit(engine, user.name, "case.view", f"case:{case_id}")
    out = detail.to_json()
    out["previews"] = len(find_previews(str(detail.artifact["path"]), detail.record))
    return out


@router.post("/cases/{case_id}/decision", summary="Confirm, dismiss, escalate or reopen")
def decide(
    *, engine: Db, user: Reviewer, _csrf: Csrf, case_id: CaseId, body: DecisionIn
) -> dict[str, Any]:
    load_case(engine, case_id, user)
    case = review.decide(
        engine,
        case_id,
        user,
        body.action,
        reason=body.reason,
        note=body.note,
        bank=body.bank,
    )
    return case.to_json()


@router.post(
    "/cases/{case_id}/previews/{index}/reveal",
    summary="Reveal a blurred preview (audit-logged); returns a short-lived image URL",
)
def reveal(
    *,
    request: Request,
    engine: Db,
    user: Reviewer,
    _csrf: Csrf,
    case_id: CaseId,
    index: Annotated[int, Path(ge=0, le=64)],
) -> dict[str, str]:
    detail = load_case(engine, case_id, user)
    if index >= len(find_previews(str(detail.artifact["path"]), detail.record)):
        raise HTTPException(404, f"case {case_id} has no preview {index}")
    review.audit(engine, user.name, "preview.reveal", f"case:{case_id}", None, {"preview": index})
    grant = make_grant(settings_of(request).secret_key, user.id, case_id, index)
    return {"url": f"/cases/{case_id}/previews/{index}?grant={grant}"}


@router.get("/cases/{case_id}/notice", summary="Takedown notice of a confirmed case")
def notice(
    *,
    request: Request,
    engine: Db,
    user: Reviewer,
    case_id: CaseId,
    format: Annotated[Literal["json", "text"], Query()] = "json",
) -> Response:
    load_case(engine, case_id, user)
    s = settings_of(request)
    data = review.takedown_notice(
        engine, case_id, deadline_days=s.notice_deadline_days, contact=s.notice_contact
    )
    review.audit(engine, user.name, "notice.export", f"case:{case_id}")
    if format == "text":
        return PlainTextResponse(review.notice_text(data))
    return Response(json.dumps(data, sort_keys=True), media_type="application/json")


@router.get("/exports/confirmed", summary="Confirmed hashes as a shareable bank file")
def export_confirmed(
    engine: Db, user: Reviewer, format: Annotated[Literal["csv", "jsonl"], Query()] = "jsonl"
) -> Response:
    review.audit(engine, user.name, "bank.export", "confirmed", None, {"format": format})
    rows = review.confirmed_hashes(engine)
    return StreamingResponse(
        bank_csv_lines(rows) if format == "csv" else jsonl_lines(rows),
        media_type="text/csv" if format == "csv" else "application/x-ndjson",
    )


@router.get("/audit", summary="Audit log, newest first (admins)")
def audit(
    *,
    engine: Db,
    user: Admin,
    before_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    action: Annotated[str | None, Query(pattern=r"^[a-z.]{1,64}$")] = None,
) -> dict[str, Any]:
    entries = review.audit_log(engine, before_id=before_id, limit=limit, action=action)
    return {"items": [e.to_json() for e in entries]}


@router.get("/audit/export", summary="The whole audit log as CSV or JSONL (admins)")
def audit_export(
    engine: Db, user: Admin, format: Annotated[Literal["csv", "jsonl"], Query()] = "jsonl"
) -> Response:
    review.audit(engine, user.name, "audit.export", "audit", None, {"format": format})
    entries = review.iter_audit(engine)
    body = (
        review.audit_csv_lines(entries)
        if format == "csv"
        else (json.dumps(e.to_json(), sort_keys=True) + "\n" for e in entries)
    )
    return StreamingResponse(
        body, media_type="text/csv" if format == "csv" else "application/x-ndjson"
    )


@router.post("/sync", summary="Open cases for catalog artifacts (admins)")
def sync(
    request: Request, engine: Db, user: Admin, _csrf: Csrf, body: SyncIn | None = None
) -> dict[str, int]:
    severity = Severity.parse(body.min_severity if body else "medium")
    report = review.case_sync(engine, min_severity=severity, sealer=request.app.state.sealer)
    review.audit(engine, user.name, "cases.sync.request", "cases", None, report.to_json())
    return report.to_json()


@router.get("/users", summary="Accounts (admins)")
def users(engine: Db, user: Admin) -> list[dict[str, Any]]:
    return [u.to_json() for u in review.list_users(engine)]


@router.post("/users", status_code=201, summary="Create an account (admins)")
def create_user(engine: Db, user: Admin, _csrf: Csrf, body: UserIn) -> dict[str, Any]:
    created = review.create_user(
        engine, body.name, body.password, role=body.role, must_change_password=True, actor=user.name
    )
    return created.to_json()


UserName = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{1,63}$")]


@router.post("/users/{name}/disable", summary="Disable an account (admins)")
def disable_user(engine: Db, user: Admin, _csrf: Csrf, name: UserName) -> dict[str, Any]:
    if name == user.name:
        raise HTTPException(400, "you cannot disable your own account")
    return review.set_disabled(engine, name, True, actor=user.name).to_json()


@router.post("/users/{name}/enable", summary="Re-enable an account (admins)")
def enable_user(engine: Db, user: Admin, _csrf: Csrf, name: UserName) -> dict[str, Any]:
    return review.set_disabled(engine, name, False, actor=user.name).to_json()


class RoleIn(Strict):
    role: Literal["admin", "reviewer", "viewer"]


@router.post("/users/{name}/role", summary="Change an account's role (admins)")
def change_role(
    engine: Db, user: Admin, _csrf: Csrf, name: UserName, body: RoleIn
) -> dict[str, Any]:
    if name == user.name:
        raise HTTPException(400, "you cannot change your own role: ask another admin")
    return review.set_role(engine, name, body.role, actor=user.name).to_json()


@router.post("/users/{name}/tokens", status_code=201, summary="Issue an API token (admins)")
def issue_token(
    engine: Db, user: Admin, _csrf: Csrf, name: UserName, body: TokenIn | None = None
) -> dict[str, str]:
    token = review.create_api_token(engine, name, label=body.label if body else "", actor=user.name)
    return {"user": name, "token": token}


@router.post("/takedowns", status_code=201, summary="Submit a takedown request (public)")
def create_takedown(request: Request, engine: Db, body: TakedownIn) -> dict[str, str]:
    # JSON bodies cannot be sent cross-site without a CORS preflight, which this
    # API never grants, so the public JSON endpoint needs no CSRF token.
    settings = settings_of(request)
    throttled = takedown_throttle(request, settings)
    if throttled:
        raise HTTPException(
            429,
            f"too many requests from {throttled[1]}",
            {"Retry-After": str(int(throttled[0]) + 1)},
        )
    try:
        receipt = review.create_takedown(
            engine,
            sealer=request.app.state.sealer,
            names=body.names,
            aliases=body.aliases,
            handles=body.handles,
            links=body.links,
            contact=body.contact,
            relation=body.relation,
            pending_cap=settings.takedown_pending_cap,
        )
    except review.TakedownsFull as exc:
        raise HTTPException(503, str(exc), {"Retry-After": "3600"}) from None
    except UsageError as exc:
        raise HTTPException(400, str(exc)) from None
    return {
        "number": receipt.number,
        "status_token": receipt.token,
        "status_url": f"/takedown/status/{receipt.token}",
    }


@router.get("/takedowns/status", summary="Status of a takedown request (public, by its token)")
def takedown_status(engine: Db, token: TOKEN_HEADER) -> dict[str, Any]:
    status = review.takedown_status(engine, token)
    if status is None:
        raise HTTPException(404, "no request matches this token (it may have been withdrawn)")
    return status.to_json()


@router.post("/takedowns/withdraw", summary="Withdraw a takedown request and delete its data")
def takedown_withdraw(engine: Db, token: TOKEN_HEADER) -> dict[str, bool]:
    if not review.withdraw_takedown(engine, token):
        raise HTTPException(404, "no request matches this token (it was already withdrawn)")
    return {"withdrawn": True}


TakedownId = Annotated[int, Path(ge=1, le=MAX_ID)]


@router.get("/takedowns", summary="Takedown requests in one state (reviewers)")
def list_takedowns(
    request: Request,
    engine: Db,
    user: Reviewer,
    status: Annotated[str, Query(pattern="^(pending|accepted|rejected)$")] = "pending",
) -> dict[str, Any]:
    items = review.list_takedowns(engine, request.app.state.sealer, status=status)
    return {
        "status": status,
        "pending": review.pending_takedowns(engine),
        "requests": [
            {"id": t.id, "number": t.number, "status": t.status, "name": t.name} for t in items
        ],
    }


@router.get(
    "/takedowns/{takedown_id}",
    summary="One takedown request with what accepting it would match (reviewers; audit-logged)",
)
def get_takedown(
    request: Request, engine: Db, user: Reviewer, takedown_id: TakedownId
) -> dict[str, Any]:
    td = review.get_takedown(engine, request.app.state.sealer, takedown_id, viewer=user)
    preview = takedown_preview(engine, td) if td.status == "pending" else []
    return {
        **td.to_json(),
        "would_match": [{"uri": uri, "verdict": v} for uri, v in preview],
        "would_match_limit": PREVIEW_LIMIT,
    }


@router.post("/takedowns/{takedown_id}/accept", summary="Accept a pending takedown (reviewers)")
def accept_takedown(
    request: Request, engine: Db, user: Reviewer, _csrf: Csrf, takedown_id: TakedownId
) -> dict[str, Any]:
    td = review.accept_takedown(engine, request.app.state.sealer, takedown_id, user)
    request.app.state.searcher.wake.set()
    return {"id": td.id, "status": td.status, "registry_added": td.subject_id is not None}


@router.post("/takedowns/{takedown_id}/reject", summary="Reject a pending takedown (reviewers)")
def reject_takedown(
    engine: Db, user: Reviewer, _csrf: Csrf, takedown_id: TakedownId
) -> dict[str, Any]:
    review.reject_takedown(engine, takedown_id, user)
    return {"id": takedown_id, "status": "rejected"}


@router.post("/guard", summary="Check a generation prompt (and its LoRAs) against the policy")
def guard(engine: Db, user: Viewer, _csrf: Csrf, body: GuardIn) -> dict[str, Any]:
    """The generation-time guard: ``blocked`` with one reason per rule that fired.

    LoRAs are looked up in this catalog by hash; people in the registry are protected.
    """
    registry = load_registry(engine)

    def lookup(h: str) -> list[dict[str, Any]]:
        return records_by_hash(engine, h)

    result = check_prompt(body.prompt, body.lora_hashes, lookup=lookup, registry=registry)
    return result.to_json()
