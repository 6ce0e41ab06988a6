"""The review app: ``create_app(engine_or_url, settings)`` builds one FastAPI instance.

Server-rendered Jinja2 pages with vendored htmx (no build step, no external
assets) for people, and the same actions as a JSON API under ``/api/v1`` for
automation. Everything is decided by ``likenessguard.store.review``; this layer
only authenticates, checks roles and CSRF, and renders.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.requests import ClientDisconnect

from likenessguard.config import data_dir
from likenessguard.errors import StoreError, UsageError
from likenessguard.pipeline.match import MirrorIndex
from likenessguard.registry.sealing import Sealer, requester_sealer
from likenessguard.store.db import open_catalog
from likenessguard.store.review import Engine, process_takedowns, serving_engine
from likenessguard.web.routes import api, hooks, pages, public
from likenessguard.web.security import (
    MustChangePassword,
    NotAuthenticated,
    RateLimiter,
    SecurityHeaders,
    install_log_redaction,
)
from likenessguard.web.settings import WebSettings, persistent_secret
from likenessguard.web.templating import make_env, render

STATIC = Path(__file__).with_name("static")
API_PREFIX = "/api/v1"


class TakedownSearcher:
    """Background thread that runs takedown searches off the request path.

    The public form must answer at once (and hold its load target), while a
    search over the whole catalog can take seconds; a request wakes the thread,
    and a periodic pass matches artifacts added by later scans.
    """

    def __init__(self, engine: Engine, interval: float, sealer: Sealer) -> None:
        self.engine = engine
        self.sealer = sealer
        self.interval = interval
        self.wake = threading.Event()
        self.stop = threading.Event()
        self.thread: threading.Thread | None = None
        self.last_error: str | None = None

    def start(self) -> None:
        self.thread = threading.Thread(target=self._run, name="takedown-search", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.is_set():
            self.wake.wait(self.interval)
            # a short window gathers a burst of requests into one catalog pass
            self.stop.wait(0.5)
            self.wake.clear()
            if self.stop.is_set():
                return
            try:
                with _one_searcher(self.engine) as mine:
                    if mine:
                        process_takedowns(self.engine, self.sealer)
                self.last_error = None
            except Exception as exc:  # keep serving; the next pass retries
                self.last_error = f"takedown search failed: {type(exc).__name__}"

    def close(self) -> None:
        self.stop.set()
        self.wake.set()
        if self.thread is not None:
            self.thread.join(timeout=10)


@contextmanager
def _one_searcher(engine: Engine) -> Iterator[bool]:
    """True for the one process on this host that may search this catalog now.

    ``serve --workers N`` runs N app processes; without this each would search
    the catalog for the same requests. A non-blocking lock on a file in the data
    directory (one per catalog) picks one; the others skip the pass (the next
    one retries).
    """
    url = engine.url.render_as_string(hide_password=True)
    digest = hashlib.sha256(url.encode()).hexdigest()[:16]
    path = data_dir() / f"takedown-search-{digest}.lock"
    with path.open("a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _is_api(request: Request) -> bool:
    return request.url.path.startswith(API_PREFIX)


def _install_handlers(app: FastAPI) -> None:
    @app.exception_handler(NotAuthenticated)
    async def not_authenticated(request: Request, _exc: NotAuthenticated) -> Response:
        if _is_api(request):
            return JSONResponse(
                {"detail": "log in or send 'Authorization: Bearer <token>'"},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        target = request.url.path
        if request.method == "GET" and target not in ("/", "/login"):
            from urllib.parse import quote

            return RedirectResponse(f"/login?next={quote(target)}", status_code=303)
        return RedirectResponse("/login", status_code=303)

    @app.exception_handler(MustChangePassword)
    async def must_change(request: Request, _exc: MustChangePassword) -> Response:
        if _is_api(request):
            return JSONResponse(
                {"detail": "this account still has its one-time password: change it first"},
                status_code=403,
            )
        return RedirectResponse("/account/password", status_code=303)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        if _is_api(request) or exc.status_code in (405,):
            return JSONResponse(
                {"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers
            )
        return render(
            request,
            "error.html",
            {"status": exc.status_code, "message": exc.detail},
            status_code=exc.status_code,
        )

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        # Never echo the submitted values: the takedown form carries personal data.
        problems = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()
        ]
        if _is_api(request):
            return JSONResponse({"detail": problems}, status_code=422)
        message = "; ".join(f"{'.'.join(map(str, p['loc'][1:]))}: {p['msg']}" for p in problems)
        return render(request, "error.html", {"status": 400, "message": message}, status_code=400)

    @app.exception_handler(UsageError)
    async def usage(request: Request, exc: UsageError) -> Response:
        if _is_api(request):
            return JSONResponse({"detail": str(exc)}, status_code=400)
        return render(request, "error.html", {"status": 400, "message": str(exc)}, status_code=400)

    @app.exception_handler(ClientDisconnect)
    async def gone(_request: Request, _exc: ClientDisconnect) -> Response:
        # The client hung up mid-body (a closed tab, a load generator stopping):
        # nothing was stored, nobody is listening; not an application error.
        return Response(status_code=400)

    @app.exception_handler(StoreError)
    async def missing(request: Request, exc: StoreError) -> Response:
        status = 404 if "does not exist" in str(exc) else 503
        if _is_api(request):
            return JSONResponse({"detail": str(exc)}, status_code=status)
        return render(
            request, "error.html", {"status": status, "message": str(exc)}, status_code=status
        )


def _requester_key_setting() -> str:
    from likenessguard.config import load_settings

    return load_settings().get("requester_key", "")


def create_app(engine_or_url: Engine | str, settings: WebSettings | None = None) -> FastAPI:
    """Build the review app on a catalog.

    Args:
        engine_or_url: an open engine, or a catalog URL (opened and migrated here).
        settings: app settings; a random secret key is used when none is set
            (fine for one process; ``serve`` passes a persistent one).

    Returns:
        The FastAPI application (ASGI), ready for uvicorn or a test client.
    """
    catalog = open_catalog(engine_or_url) if isinstance(engine_or_url, str) else engine_or_url
    settings = (settings or WebSettings()).with_secret()
    # Catalog engines open a SQLite connection per use, and when the last one
    # closes SQLite checkpoints and deletes the WAL: every request paid a connect,
    # a checkpoint and two fsyncs (~30 ms). The app serves from a pooled engine.
    engine = serving_engine(catalog)
    # Requester data is sealed with this key ring; resolved now so a bad key fails
    # at start-up with a clear message, not at the first takedown request.
    sealer = requester_sealer(settings.requester_key or _requester_key_setting())
    searcher = TakedownSearcher(engine, settings.takedown_poll_s, sealer)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if settings.background:
            searcher.start()
        try:
            yield
        finally:
            searcher.close()
            if engine is not catalog:
                engine.dispose()

    app = FastAPI(
        title="likenessguard review",
        version="1",
        summary="Review queue, decisions, audit log and takedown requests.",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=None,  # Swagger UI would load assets from a CDN
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.engine = engine
    app.state.settings = settings
    app.state.jinja = make_env()
    app.state.searcher = searcher
    app.state.sealer = sealer
    # Fingerprints indexed once per process for the case page's mirror cluster;
    # refreshed from the fingerprints table on each lookup (pipeline.match).
    app.state.mirror_index = MirrorIndex(engine)
    app.state.login_limiter = RateLimiter(settings.login_limit, settings.rate_window_s)
    app.state.login_ip_limiter = RateLimiter(settings.login_limit * 5, settings.rate_window_s)
    app.state.takedown_limiter = RateLimiter(settings.takedown_limit, settings.rate_window_s)
    app.state.takedown_global_limiter = RateLimiter(
        settings.takedown_global_limit, settings.rate_window_s
    )
    app.add_middleware(SecurityHeaders)
    _install_handlers(app)
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")
    app.include_router(public.router)
    app.include_router(pages.router)
    app.include_router(api.router, prefix=API_PREFIX)
    # Hub webhooks (POST /hooks/huggingface), owned by the hubs area.
    app.include_router(hooks.router)
    install_log_redaction()
    return app


def app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory`` (used by ``likenessguard serve --workers N``).

    Reads ``LIKENESSGUARD_DB`` and ``LIKENESSGUARD_SECRET_KEY`` (``serve`` sets both
    so all workers share one key) plus ``LIKENESSGUARD_WEB_COOKIE_SECURE``,
    ``LIKENESSGUARD_WEB_TRUST_PROXY`` (``1``), ``LIKENESSGUARD_WEB_LOGIN_LIMIT`` and
    ``LIKENESSGUARD_WEB_TAKEDOWN_LIMIT`` (per client per 5 minutes),
    ``LIKENESSGUARD_WEB_TAKEDOWN_GLOBAL_LIMIT`` (all clients per 5 minutes),
    ``LIKENESSGUARD_WEB_TAKEDOWN_PENDING_CAP`` (requests waiting for review), the
    ``requester_key`` setting (``LIKENESSGUARD_REQUESTER_KEY``), and
    ``LIKENESSGUARD_WEB_BACKGROUND=0`` to run no takedown search in this process.
    """
    from likenessguard.config import load_settings

    values = load_settings()
    env = os.environ
    defaults = WebSettings()
    settings = WebSettings(
        secret_key=env.get("LIKENESSGUARD_SECRET_KEY") or persistent_secret(),
        cookie_secure=env.get("LIKENESSGUARD_WEB_COOKIE_SECURE", "auto"),
        trust_proxy=env.get("LIKENESSGUARD_WEB_TRUST_PROXY", "") == "1",
        login_limit=int(env.get("LIKENESSGUARD_WEB_LOGIN_LIMIT") or defaults.login_limit),
        takedown_limit=int(env.get("LIKENESSGUARD_WEB_TAKEDOWN_LIMIT") or defaults.takedown_limit),
        takedown_global_limit=int(
            env.get("LIKENESSGUARD_WEB_TAKEDOWN_GLOBAL_LIMIT") or defaults.takedown_global_limit
        ),
        takedown_pending_cap=int(
            env.get("LIKENESSGUARD_WEB_TAKEDOWN_PENDING_CAP") or defaults.takedown_pending_cap
        ),
        requester_key=values["requester_key"],
        webhook_secret=values.get("webhook_secret", ""),
        background=env.get("LIKENESSGUARD_WEB_BACKGROUND", "1") != "0",
    )
    return create_app(values["db"], settings)


def route_table(app: FastAPI) -> list[tuple[str, str]]:
    """Every (method, path) the app answers, flattened through included routers.

    FastAPI keeps included routers as nested objects; the route-walk test and the
    docs need the flat list a client sees. HEAD/OPTIONS and static mounts are left out.
    """
    out: list[tuple[str, str]] = []

    def walk(routes: list[Any], prefix: str) -> None:
        for route in routes:
            context = getattr(route, "include_context", None)
            original = getattr(route, "original_router", None)
            if context is not None and original is not None:
                walk(list(original.routes), prefix + str(getattr(context, "prefix", "")))
                continue
            if isinstance(route, StaticFiles) or not hasattr(route, "methods"):
                continue
            for method in sorted(route.methods or ()):
                if method not in ("HEAD", "OPTIONS"):
                    out.append((method, prefix + route.path))

    walk(list(app.routes), "")
    return out
