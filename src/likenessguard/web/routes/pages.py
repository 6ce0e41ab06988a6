"""Pages for signed-in people: queue, case, decisions, previews, takedown review, audit, users.

Forms post back here with a CSRF token; htmx enhances them (partial swaps,
keyboard navigation) but every action also works as a plain form post.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, HTTPException, Path, Query, Request
from fastapi.responses import (
    FileResponse,
    HTMLResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)

from likenessguard.pipeline.match import MirrorIndex, copies_of
from likenessguard.store import review
from likenessguard.store.hubs import HubStore
from likenessguard.store.review import POLICY_REASONS, ROLES, CaseDetail, User
from likenessguard.verdicts.base import Severity
from likenessguard.web.previews import IMAGE_TYPES, find_previews
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
from likenessguard.web.security import check_grant, make_grant
from likenessguard.web.templating import render

router = APIRouter(include_in_schema=False)
CaseId = Annotated[int, Path(ge=1, le=MAX_ID)]
Index = Annotated[int, Path(ge=0, le=64)]


def load_case(engine: Db, case_id: int, user: User) -> CaseDetail:
    """The case if it exists and the user may see it (escalations: admins only)."""
    detail = review.get_case(engine, case_id)
    if detail is None or (detail.case.queue == "escalation" and not user.can("admin")):
        raise HTTPException(404, f"case {case_id} does not exist or is not visible to you")
    return detail


def with_copies(request: Request, engine: Db, detail: CaseDetail) -> CaseDetail:
    """The case with its whole mirror cluster, as ``likenessguard mirrors`` finds it.

    Same file (sha256), same tensors (AutoV3 of parsed safetensors) and
    similar weights (fingerprint at the per-kind threshold), through the same
    rules as ``mirrors`` (``pipeline.match.copies_of``) and the app's
    long-lived :class:`~likenessguard.pipeline.match.MirrorIndex`.
    """
    index: MirrorIndex = request.app.state.mirror_index
    copies = copies_of(engine, detail.case.artifact_id, index=index)
    ids = [c.id for c in copies]
    cases = review.case_ids(engine, ids)
    gone = HubStore(engine).removals(ids)
    mirrors = tuple(
        review.Mirror(
            c.id,
            c.uri,
            c.hub,
            c.repo,
            c.url,
            c.method,
            cases.get(c.id),
            c.similarity,
            gone[c.id].reason if c.id in gone else None,
        )
        for c in copies
    )
    return dataclasses.replace(detail, mirrors=mirrors)


@router.get("/", response_class=HTMLResponse)
def home(user: Viewer) -> Response:
    return RedirectResponse("/queue", status_code=303)


def _queue_page(
    *, request: Request, engine: Db, user: User, flt: review.QueueFilter, after: str | None
) -> Response:
    page = review.queue(engine, flt, after=after, limit=50)
    counts = review.severity_counts(
        engine,
        queue=flt.queue,
        status=flt.status or ("escalated" if flt.queue != "main" else "open"),
    )
    escalated = (
        sum(review.severity_counts(engine, queue="escalation", status="escalated").values())
        if user.can("admin") and flt.queue == "main"
        else 0
    )
    params = {
        k: v
        for k, v in request.query_params.items()
        if k in ("status", "severity", "label", "hub", "bank", "base_family", "subject")
    }
    next_url = None
    if page.next_cursor:
        next_url = f"{request.url.path}?{urlencode({**params, 'after': page.next_cursor})}"
    template = (
        "_queue_rows.html"
        if request.headers.get("hx-request") == "true" and after
        else "queue.html"
    )
    return render(
        request,
        template,
        {
            "page": page,
            "counts": counts,
            "flt": flt,
            "params": params,
            "next_url": next_url,
            "options": review.filter_options(engine),
            "escalation": flt.queue == "escalation",
            "escalated": escalated,
            "severities": [s.label for s in sorted(Severity, reverse=True)],
        },
    )


@router.get("/queue", response_class=HTMLResponse)
def queue_page(
    request: Request,
    engine: Db,
    user: Viewer,
    flt: Filter,
    after: Annotated[str | None, Query(pattern=CURSOR_PATTERN)] = None,
) -> Response:
    if flt.queue != "main":
        return RedirectResponse("/escalations", status_code=303)
    return _queue_page(request=request, engine=engine, user=user, flt=flt, after=after)


@router.get("/escalations", response_class=HTMLResponse)
def escalations_page(
    request: Request,
    engine: Db,
    user: Admin,
    after: Annotated[str | None, Query(pattern=CURSOR_PATTERN)] = None,
) -> Response:
    flt = review.QueueFilter(queue="escalation", status="escalated")
    return _queue_page(request=request, engine=engine, user=user, flt=flt, after=after)


@router.get("/cases/{case_id}", response_class=HTMLResponse)
def case_page(
    *,
    request: Request,
    engine: Db,
    user: Viewer,
    case_id: CaseId,
    reveal: Annotated[int | None, Query(ge=0, le=64)] = None,
    grant: Annotated[str | None, Query(max_length=400)] = None,
) -> Response:
    detail = with_copies(request, engine, load_case(engine, case_id, user))
    review.audit(engine, user.name, "case.view", f"case:{case_id}")
    previews = find_previews(str(detail.artifact["path"]), detail.record)
    secret = settings_of(request).secret_key
    revealed: dict[int, str] = {}
    if reveal is not None and grant and check_grant(secret, grant, user.id, case_id, reveal):
        revealed[reveal] = grant
    return render(
        request,
        "case.html",
        {
            "d": detail,
            "c": detail.case,
            "a": detail.artifact,
            "r": detail.record,
            "previews": list(range(len(previews))),
            "revealed": revealed,
            "reasons": POLICY_REASONS,
            "tags": _top_tags(detail.record),
            "needles": _needles(detail),
        },
    )


def _top_tags(record: dict[str, object] | object, limit: int = 25) -> list[tuple[str, int]]:
    """Training tags summed over dataset folders, most frequent first."""
    meta = record.get("metadata") if isinstance(record, dict) else None
    freq = meta.get("ss_tag_frequency") if isinstance(meta, dict) else None
    if isinstance(freq, str):  # kohya writes it as a JSON string
        try:
            freq = json.loads(freq)
        except ValueError:
            freq = None
    totals: dict[str, int] = {}
    if isinstance(freq, dict):
        for folder in freq.values():
            if isinstance(folder, dict):
                for tag, n in folder.items():
                    if isinstance(n, int | float):
                        totals[str(tag)] = totals.get(str(tag), 0) + int(n)
    return sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]


def _needles(detail: CaseDetail) -> list[str]:
    """What to highlight in evidence: the subject's name and its tokens."""
    subject = detail.case.subject or ""
    out = [subject, subject.replace(" ", "_")] if subject else []
    return [n for n in out if n]


@router.post("/cases/{case_id}/decision")
def decide_form(
    *,
    request: Request,
    engine: Db,
    user: Reviewer,
    _csrf: Csrf,
    case_id: CaseId,
    action: Annotated[str, Form(pattern="^(confirm|dismiss|escalate|reopen)$")],
    reason: Annotated[str, Form(max_length=64)] = "",
    note: Annotated[str, Form(max_length=4000)] = "",
    bank: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    load_case(engine, case_id, user)
    review.decide(
        engine, case_id, user, action, reason=reason or None, note=note, bank=bank or None
    )
    target = f"/cases/{case_id}"
    if action == "escalate" and not user.can("admin"):
        target = "/queue"
    return RedirectResponse(target, status_code=303)


@router.post("/cases/{case_id}/previews/{index}/reveal")
def reveal_preview(
    *, request: Request, engine: Db, user: Reviewer, _csrf: Csrf, case_id: CaseId, index: Index
) -> Response:
    detail = load_case(engine, case_id, user)
    previews = find_previews(str(detail.artifact["path"]), detail.record)
    if index >= len(previews):
        raise HTTPException(404, f"case {case_id} has no preview {index}")
    review.audit(engine, user.name, "preview.reveal", f"case:{case_id}", None, {"preview": index})
    grant = make_grant(settings_of(request).secret_key, user.id, case_id, index)
    if request.headers.get("hx-request") == "true":
        return render(
            request, "_preview.html", {"c": detail.case, "i": index, "grant": grant, "shown": True}
        )
    return RedirectResponse(
        f"/cases/{case_id}?{urlencode({'reveal': index, 'grant': grant})}#preview-{index}",
        status_code=303,
    )


@router.get("/cases/{case_id}/previews/{index}")
def preview_image(
    *,
    request: Request,
    engine: Db,
    user: Reviewer,
    case_id: CaseId,
    index: Index,
    grant: Annotated[str, Query(max_length=400)] = "",
) -> Response:
    if not check_grant(settings_of(request).secret_key, grant, user.id, case_id, index):
        raise HTTPException(403, "reveal the preview first (each reveal is logged)")
    detail = load_case(engine, case_id, user)
    previews = find_previews(str(detail.artifact["path"]), detail.record)
    if index >= len(previews):
        raise HTTPException(404, f"case {case_id} has no preview {index}")
    path = previews[index]
    return FileResponse(
        path,
        media_type=IMAGE_TYPES[path.suffix.lower()],
        headers={"Cache-Control": "no-store", "Content-Disposition": "inline"},
    )


@router.get("/cases/{case_id}/notice.txt")
def notice_txt(request: Request, engine: Db, user: Reviewer, case_id: CaseId) -> Response:
    load_case(engine, case_id, user)
    s = settings_of(request)
    notice = review.takedown_notice(
        engine, case_id, deadline_days=s.notice_deadline_days, contact=s.notice_contact
    )
    review.audit(engine, user.name, "notice.export", f"case:{case_id}")
    return PlainTextResponse(review.notice_text(notice))


@router.get("/cases/{case_id}/notice.json")
def notice_json(request: Request, engine: Db, user: Reviewer, case_id: CaseId) -> Response:
    load_case(engine, case_id, user)
    s = settings_of(request)
    notice = review.takedown_notice(
        engine, case_id, deadline_days=s.notice_deadline_days, contact=s.notice_contact
    )
    review.audit(engine, user.name, "notice.export", f"case:{case_id}")
    return Response(
        json.dumps(notice, indent=2, sort_keys=True),
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="notice-LG-{case_id}.json"'},
    )


def bank_csv_lines(rows: Iterator[dict[str, object]]) -> Iterator[str]:
    import csv
    import io

    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(review.BANK_COLUMNS), extrasaction="ignore")
    writer.writeheader()
    yield buf.getvalue()
    for row in rows:
        buf.seek(0)
        buf.truncate()
        writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
        yield buf.getvalue()


def jsonl_lines(rows: Iterator[dict[str, object]]) -> Iterator[str]:
    for row in rows:
        yield json.dumps(row, sort_keys=True, default=str) + "\n"


@router.get("/exports/confirmed.{fmt}")
def export_confirmed(
    engine: Db, user: Reviewer, fmt: Annotated[str, Path(pattern="^(csv|jsonl)$")]
) -> Response:
    review.audit(engine, user.name, "bank.export", "confirmed", None, {"format": fmt})
    rows = review.confirmed_hashes(engine)
    body = bank_csv_lines(rows) if fmt == "csv" else jsonl_lines(rows)
    return StreamingResponse(
        body,
        media_type="text/csv" if fmt == "csv" else "application/x-ndjson",
        headers={"Content-Disposition": f'attachment; filename="confirmed-bank.{fmt}"'},
    )


@router.get("/audit", response_class=HTMLResponse)
def audit_page(
    *,
    request: Request,
    engine: Db,
    user: Admin,
    before: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    action: Annotated[str | None, Query(pattern=r"^[a-z.]{1,64}$")] = None,
    target: Annotated[str | None, Query(pattern=r"^[a-z]+(:[0-9A-Za-z_.-]+)?$")] = None,
) -> Response:
    entries = review.audit_log(engine, before_id=before, limit=100, action=action, target=target)
    older = None
    if len(entries) == 100:
        older = "/audit?" + urlencode(
            {
                k: v
                for k, v in {"before": entries[-1].id, "action": action, "target": target}.items()
                if v
            }
        )
    return render(
        request,
        "audit.html",
        {"entries": entries, "older": older, "action": action, "target": target},
    )


@router.get("/audit/export.{fmt}")
def audit_export(
    engine: Db, user: Admin, fmt: Annotated[str, Path(pattern="^(csv|jsonl)$")]
) -> Response:
    review.audit(engine, user.name, "audit.export", "audit", None, {"format": fmt})
    entries = review.iter_audit(engine)
    body = (
        review.audit_csv_lines(entries)
        if fmt == "csv"
        else (json.dumps(e.to_json(), sort_keys=True) + "\n" for e in entries)
    )
    return StreamingResponse(
        body,
        media_type="text/csv" if fmt == "csv" else "application/x-ndjson",
        headers={"Content-Disposition": f'attachment; filename="audit.{fmt}"'},
    )


@router.get("/admin/users", response_class=HTMLResponse)
def users_page(request: Request, engine: Db, user: Admin) -> Response:
    return render(
        request,
        "users.html",
        {"users": review.list_users(engine), "roles": ROLES, "new_token": None},
    )


@router.post("/admin/users")
def users_create(
    *,
    request: Request,
    engine: Db,
    user: Admin,
    _csrf: Csrf,
    name: Annotated[str, Form(max_length=64)],
    role: Annotated[str, Form(pattern="^(admin|reviewer|viewer)$")],
    password: Annotated[str, Form(max_length=1024)],
) -> Response:
    review.create_user(
        engine, name, password, role=role, must_change_password=True, actor=user.name
    )
    return RedirectResponse("/admin/users", status_code=303)


@router.post("/admin/users/{name}/role")
def users_role(
    *,
    engine: Db,
    user: Admin,
    _csrf: Csrf,
    name: Annotated[str, Path(max_length=64)],
    role: Annotated[str, Form(pattern="^(admin|reviewer|viewer)$")],
) -> Response:
    if name == user.name:
        raise HTTPException(400, "you cannot change your own role: ask another admin")
    review.set_role(engine, name, role, actor=user.name)
    return RedirectResponse("/admin/users", status_code=303)


@router.post("/admin/users/{name}/{change}")
def users_change(
    *,
    request: Request,
    engine: Db,
    user: Admin,
    _csrf: Csrf,
    name: Annotated[str, Path(max_length=64)],
    change: Annotated[str, Path(pattern="^(disable|enable|token)$")],
) -> Response:
    if change == "token":
        token = review.create_api_token(engine, name, label="web", actor=user.name)
        return render(
            request,
            "users.html",
            {"users": review.list_users(engine), "roles": ROLES, "new_token": (name, token)},
        )
    if change == "disable" and name == user.name:
        raise HTTPException(400, "you cannot disable your own account")
    review.set_disabled(engine, name, change == "disable", actor=user.name)
    return RedirectResponse("/admin/users", status_code=303)


@router.post("/admin/sync")
def sync_cases(request: Request, engine: Db, user: Admin, _csrf: Csrf) -> Response:
    report = review.case_sync(engine, sealer=request.app.state.sealer)
    review.audit(engine, user.name, "cases.sync.request", "cases", None, report.to_json())
    return RedirectResponse("/queue", status_code=303)


# --------------------------------------------------------------------------- takedown review

TakedownId = Annotated[int, Path(ge=1, le=MAX_ID)]
PREVIEW_LIMIT = 50


def takedown_preview(engine: Db, td: review.TakedownRequest) -> list[tuple[str, str]]:
    """What the pending subject would match if accepted, as (uri, what) pairs: the
    models its search would link, and the stored records whose verdict would name
    the person once in the registry (re-judged from stored evidence,
    ``store.registry.preview_subject``). Reviewer-only: it shows other people's models."""
    from likenessguard.store.registry import preview_subject

    if not td.names:
        return []
    found: dict[str, str] = {}
    for uri in review.would_link(
        engine, [*td.names, *td.aliases, *td.handles], td.links, limit=PREVIEW_LIMIT
    ):
        found[uri] = "search would link it"
    for uri, v in preview_subject(engine, td.subject(), limit=PREVIEW_LIMIT):
        fired = sorted(str(k) for k, r in v.labels.items() if r.fired)
        verdict = f"verdict would name the person ({v.severity.label}: {', '.join(fired) or '-'})"
        found[uri] = f"{found[uri]}; {verdict}" if uri in found else verdict
    return list(found.items())[:PREVIEW_LIMIT]


@router.get("/takedowns", response_class=HTMLResponse)
def takedowns_page(
    request: Request,
    engine: Db,
    user: Reviewer,
    status: Annotated[str, Query(pattern="^(pending|accepted|rejected)$")] = "pending",
) -> Response:
    sealer = request.app.state.sealer
    return render(
        request,
        "takedowns.html",
        {
            "requests": review.list_takedowns(engine, sealer, status=status),
            "status": status,
            "pending": review.pending_takedowns(engine),
            "cap": settings_of(request).takedown_pending_cap,
        },
    )


@router.get("/takedowns/{takedown_id}", response_class=HTMLResponse)
def takedown_page(
    request: Request, engine: Db, user: Reviewer, takedown_id: TakedownId
) -> Response:
    td = review.get_takedown(engine, request.app.state.sealer, takedown_id, viewer=user)
    preview = takedown_preview(engine, td) if td.status == "pending" else []
    return render(
        request,
        "takedown_review.html",
        {"td": td, "preview": preview, "limit": PREVIEW_LIMIT},
    )


@router.post("/takedowns/{takedown_id}/accept")
def takedown_accept(
    request: Request, engine: Db, user: Reviewer, _csrf: Csrf, takedown_id: TakedownId
) -> Response:
    review.accept_takedown(engine, request.app.state.sealer, takedown_id, user)
    request.app.state.searcher.wake.set()
    return RedirectResponse(f"/takedowns/{takedown_id}", status_code=303)


@router.post("/takedowns/{takedown_id}/reject")
def takedown_reject(engine: Db, user: Reviewer, _csrf: Csrf, takedown_id: TakedownId) -> Response:
    review.reject_takedown(engine, takedown_id, user)
    return RedirectResponse("/takedowns", status_code=303)
