"""Pages reachable without an account: login, and the takedown request flow.

The takedown form is the way in for the people depicted: it asks for the
minimum (names, handles, links, a contact, a statement), answers with a case
number and a secret status link, and lets them withdraw, which deletes what
they gave us. A request is stored encrypted and *pending*: it protects no one
and changes no verdict until a reviewer accepts it (``pages.takedown_accept``);
limits per address, for everyone, and on the number of pending requests keep a
flood from filling the review list. Nothing here logs a form body, and the status token only ever
appears in the requester's own browser (the access log redacts it).
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlparse

from fastapi import APIRouter, Form, HTTPException, Path, Query, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response

from likenessguard.errors import UsageError
from likenessguard.store import review
from likenessguard.web.routes.common import Csrf, Db, Viewer, settings_of
from likenessguard.web.security import (
    SESSION_COOKIE,
    client_ip,
    cookie_secure,
    principal,
    takedown_throttle,
)
from likenessguard.web.templating import render

router = APIRouter(include_in_schema=False)
Token = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{20,100}$")]


def _safe_next(target: str | None) -> str:
    """Only same-site paths: an open redirect after login is a phishing aid."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return "/queue"
    parsed = urlparse(target)
    return "/queue" if parsed.netloc or parsed.scheme else target


@router.get("/healthz")
def healthz() -> PlainTextResponse:
    return PlainTextResponse("ok")


@router.get("/login", response_class=HTMLResponse)
def login_page(
    request: Request, next: Annotated[str | None, Query(max_length=512)] = None
) -> Response:
    return render(request, "login.html", {"next": _safe_next(next), "error": None})


def _too_many(request: Request, retry: float, what: str, whose: str = "your address") -> Response:
    response = render(
        request,
        "error.html",
        {
            "status": 429,
            "message": f"Too many {what} from {whose}: try again in {int(retry) + 1} seconds.",
        },
        status_code=429,
    )
    response.headers["Retry-After"] = str(int(retry) + 1)
    return response


@router.post("/login")
def login(
    *,
    request: Request,
    engine: Db,
    _csrf: Csrf,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=1024)],
    next: Annotated[str, Form(max_length=512)] = "/queue",
) -> Response:
    settings = settings_of(request)
    ip = client_ip(request, settings)
    for limiter, key in (
        (request.app.state.login_limiter, f"{ip}|{username.lower()}"),
        (request.app.state.login_ip_limiter, ip),
    ):
        retry = limiter.hit(key)
        if retry:
            review.audit(engine, "anonymous", "login.throttled", f"user:{username[:64]}")
            return _too_many(request, retry, "login attempts")
    user = review.authenticate(engine, username, password)
    if user is None:
        review.audit(engine, "anonymous", "login.failed", f"user:{username[:64]}")
        return render(
            request,
            "login.html",
            {
                "next": _safe_next(next),
                "error": "Wrong user name or password, or the account is disabled.",
            },
            status_code=401,
        )
    sid, _csrf_token = review.create_session(engine, user, lifetime=settings.session_lifetime)
    review.audit(engine, user.name, "login", f"user:{user.name}")
    target = "/account/password" if user.must_change_password else _safe_next(next)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        sid,
        httponly=True,
        samesite="lax",
        secure=cookie_secure(request, settings),
        max_age=int(settings.session_lifetime.total_seconds()),
        path="/",
    )
    return response


@router.post("/logout")
def logout(request: Request, engine: Db, _csrf: Csrf) -> Response:
    sid = request.cookies.get(SESSION_COOKIE)
    who = principal(request)
    if sid:
        review.end_session(engine, sid)
    if who.user:
        review.audit(engine, who.user.name, "logout", f"user:{who.user.name}")
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/account/password", response_class=HTMLResponse)
def password_page(request: Request, user: Viewer) -> Response:
    return render(request, "password.html", {"error": None, "forced": user.must_change_password})


@router.post("/account/password")
def password_change(
    *,
    request: Request,
    engine: Db,
    user: Viewer,
    _csrf: Csrf,
    current: Annotated[str, Form(max_length=1024)],
    new: Annotated[str, Form(max_length=1024)],
    confirm: Annotated[str, Form(max_length=1024)],
) -> Response:
    error = None
    if review.authenticate(engine, user.name, current) is None:
        error = "The current password is wrong."
    elif new != confirm:
        error = "The new passwords differ."
    elif new == current:
        error = "Choose a password different from the current one."
    if error is None:
        try:
            review.set_password(engine, user.name, new, actor=user.name)
        except UsageError as exc:
            error = str(exc)
    if error is not None:
        return render(
            request,
            "password.html",
            {"error": error, "forced": user.must_change_password},
            status_code=400,
        )
    # Changing the password ended every session, this one included: sign in afresh.
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


# --------------------------------------------------------------------------- takedown


@router.get("/takedown", response_class=HTMLResponse)
def takedown_form(request: Request) -> Response:
    return render(request, "takedown_form.html", {"error": None})


def _lines(text: str) -> list[str]:
    return [x.strip() for x in text.replace(",", "\n").splitlines() if x.strip()]


@router.post("/takedown", response_class=HTMLResponse)
def takedown_submit(
    *,
    request: Request,
    engine: Db,
    _csrf: Csrf,
    names: Annotated[str, Form(max_length=2000)],
    contact: Annotated[str, Form(max_length=320)],
    relation: Annotated[str, Form(pattern="^(self|agent)$")],
    statement: Annotated[str, Form(pattern="^yes$")],
    aliases: Annotated[str, Form(max_length=2000)] = "",
    handles: Annotated[str, Form(max_length=2000)] = "",
    links: Annotated[str, Form(max_length=8000)] = "",
) -> Response:
    settings = settings_of(request)
    throttled = takedown_throttle(request, settings)
    if throttled:
        return _too_many(request, throttled[0], "requests", throttled[1])
    try:
        receipt = review.create_takedown(
            engine,
            sealer=request.app.state.sealer,
            names=_lines(names),
            aliases=_lines(aliases),
            handles=_lines(handles),
            links=[x for x in links.split() if x],
            contact=contact,
            relation=relation,
            pending_cap=settings.takedown_pending_cap,
        )
    except review.TakedownsFull as exc:
        response = render(
            request, "error.html", {"status": 503, "message": str(exc)}, status_code=503
        )
        response.headers["Retry-After"] = "3600"
        return response
    except UsageError as exc:
        return render(request, "takedown_form.html", {"error": str(exc)}, status_code=400)
    return render(
        request,
        "takedown_done.html",
        {"number": receipt.number, "status_path": f"/takedown/status/{receipt.token}"},
    )


@router.get("/takedown/status/{token}", response_class=HTMLResponse)
def takedown_status_page(request: Request, engine: Db, token: Token) -> Response:
    status = review.takedown_status(engine, token, request.app.state.sealer)
    if status is None:
        raise HTTPException(
            404,
            "No request matches this link: it may have been withdrawn. Nothing about it is kept.",
        )
    return render(request, "takedown_status.html", {"s": status, "token": token})


@router.post("/takedown/status/{token}/withdraw", response_class=HTMLResponse)
def takedown_withdraw(request: Request, engine: Db, _csrf: Csrf, token: Token) -> Response:
    if not review.withdraw_takedown(engine, token):
        raise HTTPException(404, "No request matches this link: it was already withdrawn.")
    return render(request, "takedown_withdrawn.html")
