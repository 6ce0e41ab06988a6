"""The webhook work queue: durable events in the catalog, drained by ``likenessguard worker``.

A hub's webhook must be answered fast (Hugging Face retries slow endpoints) and
must not be lost if the scanner is busy or down, so the web endpoint only
records the event (a committed row, see ``store.hubs``) and workers scan the
repo later. The catalog database is the queue: no extra service to run, and
the event and the records it produces live in the same place. Redis, when
configured (the ``redis`` extra), only wakes idle workers immediately instead
of at their next poll; the database stays the source of truth, so losing Redis
loses no event.

Deliveries are idempotent: the same (repo, commit) or delivery id is queued
once, however many times the hub retries.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from likenessguard.errors import HubError, HubNotFound, LikenessGuardError
from likenessguard.pipeline.executors.base import describe_exception
from likenessguard.store.hubs import HubEvent, HubStore

WAKE_KEY = "likenessguard:hub-events"


@dataclass(frozen=True, slots=True)
class Accepted:
    """What the webhook endpoint tells the hub: queued (new or duplicate) or ignored, and why."""

    queued: bool
    duplicate: bool = False
    event_id: int | None = None
    reason: str = ""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"queued": self.queued, "duplicate": self.duplicate}
        if self.event_id is not None:
            out["event_id"] = self.event_id
        if self.reason:
            out["reason"] = self.reason
        return out


def parse_hf_webhook(payload: Mapping[str, Any]) -> tuple[str, str | None, str] | str:
    """(repo id, head commit or None, kind) from a Hugging Face webhook, or why it is ignored.

    Only model repos matter, and only events that can change files
    (``repo``, ``repo.content`` and ``repo.config`` scopes). The commit comes
    from ``repo.headSha``, else from the ``refs/heads/main`` entry of
    ``updatedRefs``.
    """
    event = payload.get("event")
    repo = payload.get("repo")
    if not isinstance(event, Mapping) or not isinstance(repo, Mapping):
        return "not a Hugging Face webhook payload (needs 'event' and 'repo' objects)"
    if repo.get("type") != "model":
        return f"ignored: a {repo.get('type')} repo, not a model"
    scope = str(event.get("scope") or "")
    if scope not in ("repo", "repo.content", "repo.config"):
        return f"ignored: scope {scope!r} does not change files"
    name = repo.get("name")
    if not isinstance(name, str) or not name:
        return "payload has no repo.name"
    action = str(event.get("action") or "update")
    if isinstance(payload.get("movedTo"), Mapping) and payload["movedTo"].get("name"):
        name = str(payload["movedTo"]["name"])
    sha = repo.get("headSha")
    if not sha:
        for ref in payload.get("updatedRefs") or ():
            if isinstance(ref, Mapping) and ref.get("ref") == "refs/heads/main":
                sha = ref.get("newSha")
    return name, (str(sha) if sha else None), f"{scope}.{action}"


class Wakeup:
    """Wakes idle workers when an event is queued. Without Redis it does nothing (workers poll)."""

    def notify(self) -> None:
        """Tell one idle worker there is work."""

    def wait(self, timeout: float) -> None:
        """Sleep up to ``timeout`` seconds, less if notified."""
        time.sleep(timeout)


class RedisWakeup(Wakeup):
    """Wake-ups through a Redis list (``BLPOP``), so workers react at once instead of polling.

    Args:
        url: ``redis://host:6379/0``. Needs the ``redis`` extra.
    """

    def __init__(self, url: str) -> None:
        try:
            import redis
        except ImportError as exc:
            raise LikenessGuardError(
                "Redis wake-ups need the redis extra: pip install 'likenessguard[redis]'"
            ) from exc
        self._redis: Any = redis.Redis.from_url(url)

    def notify(self) -> None:
        try:
            self._redis.lpush(WAKE_KEY, b"1")
            self._redis.ltrim(WAKE_KEY, 0, 999)
        except Exception:  # noqa: S110 - Redis is an accelerator; workers still poll
            pass

    def wait(self, timeout: float) -> None:
        try:
            self._redis.blpop([WAKE_KEY], timeout=max(1, int(timeout)))
        except Exception:
            time.sleep(timeout)


def make_wakeup(url: str | None) -> Wakeup:
    """A Redis wake-up for a ``redis://`` URL, else polling."""
    return RedisWakeup(url) if url else Wakeup()


def record_hf_webhook(
    store: HubStore,
    payload: Mapping[str, Any],
    *,
    delivery_id: str | None = None,
    wakeup: Wakeup | None = None,
) -> Accepted:
    """Queue the repo a Hugging Face webhook announces (idempotently); never scans inline."""
    parsed = parse_hf_webhook(payload)
    if isinstance(parsed, str):
        return Accepted(queued=False, reason=parsed)
    repo, sha, kind = parsed
    event_id, created = store.enqueue(
        "huggingface", repo, sha, kind, dict(payload), delivery_id=delivery_id
    )
    if created and wakeup is not None:
        wakeup.notify()
    return Accepted(queued=True, duplicate=not created, event_id=event_id)


ScanRepo = Callable[[HubEvent], int]


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


class Worker:
    """Drains the event queue: claims events, scans each repo, marks them done or retries.

    Args:
        store: the queue.
        scan: scans the repo of one event and returns the number of records written
            (``Crawler.scan_repo`` wrapped; raising means "try again later").
        worker_id: unique per worker (host:pid:thread by default).
        lease: seconds an event stays claimed; a worker dead longer than this
            loses its events to the others.
        max_attempts: failed attempts before an event is marked failed for good.
        retry_in: seconds before a failed event is retried.
        wakeup: how idle workers learn about new events.
    """

    def __init__(
        self,
        store: HubStore,
        scan: ScanRepo,
        *,
        worker_id: str | None = None,
        lease: float = 600.0,
        max_attempts: int = 5,
        retry_in: float = 60.0,
        wakeup: Wakeup | None = None,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.store = store
        self.scan = scan
        self.worker_id = worker_id or default_worker_id()
        self.lease = lease
        self.max_attempts = max_attempts
        self.retry_in = retry_in
        self.wakeup = wakeup or Wakeup()
        self.log = log or (lambda _line: None)
        self.done = 0
        self.failed = 0

    def run_once(self, limit: int = 10) -> int:
        """Claim and process up to ``limit`` events; returns how many were claimed."""
        events = self.store.claim(self.worker_id, limit=limit, lease=self.lease)
        for event in events:
            if event.kind.endswith(".delete"):
                # The repo is gone: nothing to read. Its records stay (evidence and
                # review history hang on them), marked as taken down by the host.
                try:
                    marked = self.store.mark_repo_removed(
                        event.hub, event.repo, at=event.received_at, source=event.kind
                    )
                except LikenessGuardError as exc:
                    self._failed(event, exc)
                    continue
                self.store.complete(event.id, self.worker_id)
                self.log(f"{event.repo}: deleted on the hub; {marked} catalogued files marked")
                self.done += 1
                continue
            try:
                written = self.scan(event)
            except HubNotFound as exc:
                self.store.complete(event.id, self.worker_id)
                self.log(f"{event.repo}: {exc}; event dropped")
                self.done += 1
            except (HubError, LikenessGuardError, OSError) as exc:
                self._failed(event, exc)
            except Exception as exc:
                status = self.store.fail(
                    event.id,
                    self.worker_id,
                    f"bug: {describe_exception(exc)}",
                    retry_in=self.retry_in,
                    max_attempts=self.max_attempts,
                )
                self.failed += 1
                self.log(f"{event.repo}: unexpected {describe_exception(exc)} (now {status})")
            else:
                self.store.complete(event.id, self.worker_id)
                self.done += 1
                self.log(f"{event.repo}@{(event.revision or 'head')[:12]}: {written} records")
        return len(events)

    def _failed(self, event: HubEvent, exc: Exception) -> None:
        status = self.store.fail(
            event.id,
            self.worker_id,
            describe_exception(exc),
            retry_in=self.retry_in,
            max_attempts=self.max_attempts,
        )
        self.failed += 1
        self.log(f"{event.repo}: {exc} (attempt {event.attempts}, now {status})")

    def run(
        self,
        *,
        stop: threading.Event | None = None,
        poll: float = 5.0,
        exit_when_idle: bool = False,
        batch: int = 10,
    ) -> None:
        """Process events until ``stop`` is set (or the queue is empty, with exit_when_idle)."""
        stop = stop or threading.Event()
        while not stop.is_set():
            if self.run_once(batch):
                continue
            if exit_when_idle:
                return
            self.wakeup.wait(poll)
