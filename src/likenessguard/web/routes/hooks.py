"""``POST /hooks/huggingface``: receive Hugging Face webhooks, queue the repo, answer fast.

The endpoint does no scanning: it checks the shared secret (constant-time),
records the event as a committed row (idempotent on (repo, commit) and the
delivery id) and answers 202, so the Hub never times out on us and a
crash after the answer loses nothing. ``likenessguard worker`` scans the repo.

Configuration: the secret comes from ``app.state.webhook_secret`` if the app
set one, else the ``webhook_secret`` setting (``LIKENESSGUARD_WEBHOOK_SECRET``).
Without a secret the endpoint refuses every delivery (503): an open endpoint
would let anyone make us crawl arbitrary repos.
"""

from __future__ import annotations

import hmac
import json
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from likenessguard.errors import StoreError
from likenessguard.pipeline.queue import Wakeup, make_wakeup, record_hf_webhook
from likenessguard.store.hubs import HubStore

router = APIRouter(tags=["hooks"])

# Hugging Face payloads are a few KB; anything far bigger is not a webhook.
MAX_BODY = 1024 * 1024


def get_engine(request: Request) -> Any:
    """The catalog engine ``create_app`` put on ``app.state.engine``.

    Typed ``Any``: only ``store`` may import SQLAlchemy, and this module only
    passes the engine on to ``store.hubs``.
    """
    return request.app.state.engine


def _setting(request: Request, name: str) -> str:
    state = request.app.state
    value = getattr(state, name, None)
    if value:
        return str(value)
    settings = getattr(state, "settings", None)
    value = getattr(settings, name, None)
    if value:
        return str(value)
    cache: dict[str, str] | None = getattr(state, "_hub_settings", None)
    if cache is None:
        from likenessguard.config import load_settings

        values = load_settings()
        cache = {
            "webhook_secret": values.get("webhook_secret", ""),
            "redis_url": values.get("redis_url", ""),
        }
        state._hub_settings = cache
    return cache.get(name, "")


def _wakeup(request: Request) -> Wakeup:
    state = request.app.state
    wake: Wakeup | None = getattr(state, "hub_wakeup", None)
    if wake is None:
        wake = make_wakeup(_setting(request, "redis_url") or None)
        state.hub_wakeup = wake
    return wake


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


@router.post("/hooks/huggingface", status_code=202)
async def huggingface_hook(
    request: Request,
    engine: Any = Depends(get_engine),  # noqa: B008
) -> Any:
    """Queue the model repo a Hugging Face webhook announces; 202 when queued or a duplicate."""
    expected = _setting(request, "webhook_secret")
    if not expected:
        return _error(
            503,
            "webhook secret not configured: set LIKENESSGUARD_WEBHOOK_SECRET and the same "
            "secret in the Hugging Face webhook settings",
        )
    given = request.headers.get("x-webhook-secret", "")
    if not hmac.compare_digest(given.encode(), expected.encode()):
        return _error(401, "bad or missing X-Webhook-Secret")
    body = await request.body()
    if len(body) > MAX_BODY:
        return _error(413, f"payload of {len(body)} bytes is over {MAX_BODY}: not a webhook")
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return _error(400, "body is not JSON")
    if not isinstance(payload, dict):
        return _error(400, "body is not a JSON object")
    delivery = request.headers.get("x-webhook-delivery") or request.headers.get("x-request-id")
    try:
        # A committed row before the answer; off the event loop (it is blocking I/O).
        accepted = await run_in_threadpool(
            record_hf_webhook,
            HubStore(engine),
            payload,
            delivery_id=delivery,
            wakeup=_wakeup(request),
        )
    except StoreError:
        # Not recorded: a 5xx makes the Hub retry the delivery later.
        return _error(503, "couldn't record the event; retry later")
    if not accepted.queued:
        return JSONResponse(accepted.to_json(), status_code=200)
    return JSONResponse(accepted.to_json(), status_code=202)
