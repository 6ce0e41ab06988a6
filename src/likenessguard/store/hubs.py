"""Repository functions for hub crawl state and the durable webhook event queue.

Crawls and workers never write SQL themselves; everything they need to be
incremental, resumable and idempotent is here, on SQLite and PostgreSQL alike:

- ``hub_repos``: the commit each repo was last crawled at. A re-crawl compares
  the listing's commit with it and reads only repos that moved; a repo is
  marked only after its records were committed, so a killed crawl re-reads
  exactly the repos it had not finished.
- ``crawl_cursors``: a named crawl's page cursor (Civitai) and watermark (the
  newest modification time a finished crawl saw, so the next one stops listing
  there).
- ``hub_events``: the webhook queue. ``enqueue`` is idempotent on a dedupe key
  (the delivery's (repo, commit), else its delivery id); ``claim`` hands events
  to one worker at a time with a lease (``FOR UPDATE SKIP LOCKED`` on
  PostgreSQL; SQLite serialises writers), and an expired lease makes the event
  claimable again, so a worker killed mid-scan loses nothing.
- ``hub_listings``: a hub's own listing records (Civitai), in the shared
  listing shape that ``classify-listings`` reads.
- ``hub_removals``: catalogued files their host took down (a deleted repo, a
  file a newer commit dropped). The artifact rows stay, because evidence,
  bank matches and review decisions hang on them; the mark says since when the
  hub stopped serving the file, which is what a reviewer (and a takedown
  notice) needs to know.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, Table, and_, delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from likenessguard.errors import StoreError
from likenessguard.store.db import safe_url
from likenessguard.store.models.core import ArtifactRow
from likenessguard.store.models.hubs import (
    CrawlCursorRow,
    HubEventRow,
    HubListingRow,
    HubRemovalRow,
    HubRepoRow,
)
from likenessguard.store.models.review import CaseRow

EVENT_STATUSES: tuple[str, ...] = ("pending", "running", "done", "failed")

#: Why a catalogued file is no longer served at its repo's head (``hub_removals.reason``).
REMOVAL_REASONS: tuple[str, ...] = ("repo-deleted", "file-removed", "superseded")


def _now() -> datetime:
    return datetime.now(UTC)


def _utc(value: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes; every value we store is UTC.
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _table(model: type[Any]) -> Table:
    table: Table = model.__table__
    return table


@dataclass(frozen=True, slots=True)
class RepoState:
    """What the catalog remembers of one repo: the commit its last crawl finished."""

    hub: str
    repo: str
    last_commit: str | None
    last_modified: datetime | None
    files: int
    last_crawled: datetime
    error: str | None


@dataclass(frozen=True, slots=True)
class CursorState:
    """Where a named crawl stands."""

    name: str
    hub: str
    cursor: str | None
    watermark: datetime | None
    state: Mapping[str, Any]
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class HubEvent:
    """One queued event: a repo to (re)scan, with the payload that announced it."""

    id: int
    hub: str
    repo: str
    revision: str | None
    kind: str
    payload: Mapping[str, Any]
    status: str
    attempts: int
    delivery_id: str | None
    received_at: datetime
    error: str | None


@dataclass(frozen=True, slots=True)
class Removal:
    """A catalogued file its hub no longer serves: why, at which commit, since when.

    ``reason``: ``repo-deleted`` (the repo is gone), ``file-removed`` (commit
    ``commit`` no longer has the path) or ``superseded`` (commit ``commit`` has
    a newer version of the path; this row is kept because a case hangs on it).
    ``source`` is what told us: a webhook event kind (``repo.delete``) or ``crawl``.
    """

    hub: str
    repo: str
    reason: str
    commit: str | None
    removed_at: datetime
    source: str

    def to_json(self) -> dict[str, Any]:
        return {
            "reason": self.reason,
            "commit": self.commit,
            "removed_at": self.removed_at.isoformat(),
            "source": self.source,
            "hub": self.hub,
            "repo": self.repo,
        }


def dedupe_key(
    hub: str, repo: str, revision: str | None, delivery_id: str | None, payload: Mapping[str, Any]
) -> str:
    """The idempotency key of an event: (repo, commit) when known, else the delivery id.

    Two deliveries announcing the same commit are one piece of work; a delivery
    without a commit is deduplicated on its id, and failing that on its payload.
    """
    if revision:
        return f"{hub}:{repo}@{revision}"
    if delivery_id:
        return f"{hub}:delivery:{delivery_id}"
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
    return f"{hub}:payload:{digest}"


class HubStore:
    """Crawl state and the event queue over one catalog engine.

    Example::

        store = HubStore(open_catalog(url))
        event_id, new = store.enqueue("huggingface", "acme/lora", sha, "repo.content", payload)
        for event in store.claim("worker-1", limit=10):
            ...
            store.complete(event.id, "worker-1")
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def _fail(self, doing: str, exc: SQLAlchemyError) -> StoreError:
        orig = getattr(exc, "orig", None) or exc
        return StoreError(f"couldn't {doing} in the catalog at {safe_url(self.engine)}: {orig}")

    def _insert(self, model: type[Any]) -> Any:
        table = _table(model)
        if self.engine.dialect.name == "postgresql":
            return postgresql.insert(table)
        return sqlite.insert(table)

    # -- repos -------------------------------------------------------------------

    def repo_states(self, hub: str, repos: Iterable[str]) -> dict[str, RepoState]:
        """Stored state of these repos (missing ones are absent), in chunked queries."""
        names = list(dict.fromkeys(repos))
        table = _table(HubRepoRow)
        out: dict[str, RepoState] = {}
        try:
            with self.engine.connect() as conn:
                for i in range(0, len(names), 500):
                    chunk = names[i : i + 500]
                    rows = conn.execute(
                        select(table).where(table.c.hub == hub, table.c.repo.in_(chunk))
                    )
                    for r in rows:
                        out[r.repo] = RepoState(
                            r.hub,
                            r.repo,
                            r.last_commit,
                            _utc(r.last_modified),
                            r.files,
                            _utc(r.last_crawled) or _now(),
                            r.error,
                        )
        except SQLAlchemyError as exc:
            raise self._fail("read crawl state", exc) from exc
        return out

    def mark_repo(
        self,
        hub: str,
        repo: str,
        commit: str | None,
        *,
        last_modified: datetime | None = None,
        files: int = 0,
        error: str | None = None,
    ) -> None:
        """Record that ``repo`` was crawled at ``commit`` (call after its records are committed)."""
        values = {
            "hub": hub,
            "repo": repo,
            "last_commit": commit,
            "last_modified": last_modified,
            "files": files,
            "last_crawled": _now(),
            "error": error,
        }
        stmt = self._insert(HubRepoRow).values(**values)
        stmt = stmt.on_conflict_do_update(
            index_elements=["hub", "repo"],
            set_={k: stmt.excluded[k] for k in values if k not in ("hub", "repo")},
        )
        try:
            with self.engine.begin() as conn:
                conn.execute(stmt)
        except SQLAlchemyError as exc:
            raise self._fail(f"mark {hub} repo {repo}", exc) from exc

    def mark_repos(
        self,
        hub: str,
        marks: Iterable[tuple[str, str | None, datetime | None, int]],
    ) -> int:
        """Mark many repos crawled in one transaction: (repo, commit, last_modified, files)."""
        now = _now()
        values = [
            {
                "hub": hub,
                "repo": repo,
                "last_commit": commit,
                "last_modified": modified,
                "files": files,
                "last_crawled": now,
                "error": None,
            }
            for repo, commit, modified, files in marks
        ]
        if not values:
            return 0
        stmt = self._insert(HubRepoRow)
        stmt = stmt.on_conflict_do_update(
            index_elements=["hub", "repo"],
            set_={
                k: stmt.excluded[k]
                for k in ("last_commit", "last_modified", "files", "last_crawled", "error")
            },
        )
        try:
            with self.engine.begin() as conn:
                conn.execute(stmt, values)
        except SQLAlchemyError as exc:
            raise self._fail(f"mark {len(values)} {hub} repos", exc) from exc
        return len(values)

    def count_repos(self, hub: str) -> int:
        table = _table(HubRepoRow)
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).where(table.c.hub == hub)).scalar_one())

    # -- cursors -----------------------------------------------------------------

    def cursor(self, name: str) -> CursorState | None:
        table = _table(CrawlCursorRow)
        try:
            with self.engine.connect() as conn:
                r = conn.execute(select(table).where(table.c.name == name)).first()
        except SQLAlchemyError as exc:
            raise self._fail("read a crawl cursor", exc) from exc
        if r is None:
            return None
        return CursorState(
            r.name,
            r.hub,
            r.cursor,
            _utc(r.watermark),
            dict(r.state or {}),
            _utc(r.updated_at) or _now(),
        )

    def save_cursor(
        self,
        name: str,
        hub: str,
        *,
        cursor: str | None,
        watermark: datetime | None,
        state: Mapping[str, Any] | None = None,
    ) -> None:
        values = {
            "name": name,
            "hub": hub,
            "cursor": cursor,
            "watermark": watermark,
            "state": dict(state or {}),
            "updated_at": _now(),
        }
        stmt = self._insert(CrawlCursorRow).values(**values)
        stmt = stmt.on_conflict_do_update(
            index_elements=["name"], set_={k: stmt.excluded[k] for k in values if k != "name"}
        )
        try:
            with self.engine.begin() as conn:
                conn.execute(stmt)
        except SQLAlchemyError as exc:
            raise self._fail("save a crawl cursor", exc) from exc

    # -- listings ----------------------------------------------------------------

    def upsert_listings(
        self, hub: str, listings: Iterable[tuple[str, str | None, Mapping[str, Any]]]
    ) -> int:
        """Store (listing id, revision, record) triples, replacing older copies; returns count."""
        rows = {lid: (rev, dict(rec)) for lid, rev, rec in listings}
        if not rows:
            return 0
        now = _now()
        values = [
            {"hub": hub, "listing_id": lid, "revision": rev, "record": rec, "fetched_at": now}
            for lid, (rev, rec) in rows.items()
        ]
        stmt = self._insert(HubListingRow)
        stmt = stmt.on_conflict_do_update(
            index_elements=["hub", "listing_id"],
            set_={k: stmt.excluded[k] for k in ("revision", "record", "fetched_at")},
        )
        try:
            with self.engine.begin() as conn:
                conn.execute(stmt, values)
        except SQLAlchemyError as exc:
            raise self._fail("store hub listings", exc) from exc
        return len(values)

    def listings(self, hub: str) -> Iterator[dict[str, Any]]:
        """Every stored listing record of ``hub``, by listing id."""
        table = _table(HubListingRow)
        with self.engine.connect() as conn:
            for r in conn.execute(
                select(table.c.record).where(table.c.hub == hub).order_by(table.c.id)
            ):
                yield dict(r.record)

    # -- removals ----------------------------------------------------------------

    def _mark(self, conn: Any, ids: list[int], values: Mapping[str, Any]) -> int:
        """Insert removal marks for ``ids``; an existing mark (the earlier news) is kept."""
        if not ids:
            return 0
        table = _table(HubRemovalRow)
        marked = 0
        for i in range(0, len(ids), 500):
            stmt = (
                self._insert(HubRemovalRow)
                .values([{"artifact_id": aid, **values} for aid in ids[i : i + 500]])
                .on_conflict_do_nothing(index_elements=["artifact_id"])
                .returning(table.c.artifact_id)
            )
            marked += len(conn.execute(stmt).all())
        return marked

    def mark_repo_removed(
        self,
        hub: str,
        repo: str,
        *,
        at: datetime | None = None,
        source: str = "repo.delete",
    ) -> int:
        """Mark every catalogued file of ``repo`` as taken down with the repo; rows stay.

        Returns how many files were newly marked (a redelivered delete marks none).
        """
        artifacts = _table(ArtifactRow)
        values = {
            "hub": hub,
            "repo": repo,
            "reason": "repo-deleted",
            "commit": None,
            "removed_at": at or _now(),
            "source": source,
        }
        try:
            with self.engine.begin() as conn:
                ids = list(
                    conn.execute(
                        select(artifacts.c.id).where(
                            artifacts.c.hub == hub, artifacts.c.repo == repo
                        )
                    ).scalars()
                )
                return self._mark(conn, ids, values)
        except SQLAlchemyError as exc:
            raise self._fail(f"mark {hub} repo {repo} removed", exc) from exc

    def retire_commit(
        self,
        hub: str,
        repo: str,
        prefix: str,
        *,
        commit: str | None,
        paths: Iterable[str],
        at: datetime | None = None,
        source: str = "crawl",
    ) -> tuple[int, int]:
        """Settle the records of a repo's previous commit once the new commit's are in.

        ``prefix`` is the old commit's URI prefix (``hf://org/name@<old>/``),
        ``paths`` every path the new ``commit`` has. A record whose path the new
        commit dropped is marked ``file-removed`` and kept. A record whose path
        is still there is replaced by the new commit's record and deleted,
        unless a review case hangs on it: then it is kept, marked
        ``superseded``, so no decision or audit trail is lost. One transaction.

        Returns:
            (records deleted, records newly marked).
        """
        present = set(paths)
        artifacts = _table(ArtifactRow)
        cases = _table(CaseRow)
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        removed: list[int] = []
        superseded: list[int] = []
        gone: list[int] = []
        try:
            with self.engine.begin() as conn:
                rows = conn.execute(
                    select(artifacts.c.id, artifacts.c.uri, cases.c.id.label("case_id"))
                    .outerjoin(cases, cases.c.artifact_id == artifacts.c.id)
                    .where(artifacts.c.uri.like(escaped + "%", escape="\\"))
                ).all()
                for row in rows:
                    path = str(row.uri)[len(prefix) :].split("#", 1)[0]
                    if path not in present:
                        removed.append(int(row.id))
                    elif row.case_id is not None:
                        superseded.append(int(row.id))
                    else:
                        gone.append(int(row.id))
                for i in range(0, len(gone), 500):
                    conn.execute(delete(artifacts).where(artifacts.c.id.in_(gone[i : i + 500])))
                base = {
                    "hub": hub,
                    "repo": repo,
                    "commit": commit,
                    "removed_at": at or _now(),
                    "source": source,
                }
                marked = self._mark(conn, removed, {**base, "reason": "file-removed"})
                marked += self._mark(conn, superseded, {**base, "reason": "superseded"})
        except SQLAlchemyError as exc:
            raise self._fail(f"settle the previous commit of {hub} repo {repo}", exc) from exc
        return len(gone), marked

    def removals(self, artifact_ids: Iterable[int]) -> dict[int, Removal]:
        """The removal marks of these artifacts (unmarked ones are absent)."""
        ids = list(dict.fromkeys(artifact_ids))
        table = _table(HubRemovalRow)
        out: dict[int, Removal] = {}
        try:
            with self.engine.connect() as conn:
                for i in range(0, len(ids), 500):
                    for r in conn.execute(
                        select(table).where(table.c.artifact_id.in_(ids[i : i + 500]))
                    ):
                        out[int(r.artifact_id)] = Removal(
                            r.hub,
                            r.repo,
                            r.reason,
                            r.commit,
                            _utc(r.removed_at) or _now(),
                            r.source,
                        )
        except SQLAlchemyError as exc:
            raise self._fail("read hub removals", exc) from exc
        return out

    # -- events ------------------------------------------------------------------

    def enqueue(
        self,
        hub: str,
        repo: str,
        revision: str | None,
        kind: str,
        payload: Mapping[str, Any],
        *,
        delivery_id: str | None = None,
    ) -> tuple[int, bool]:
        """Record an event durably; returns (event id, True if new, False if a duplicate).

        The row is committed before this returns, so answering the hub after
        it means the event survives a crash.
        """
        key = dedupe_key(hub, repo, revision, delivery_id, payload)
        now = _now()
        stmt = (
            self._insert(HubEventRow)
            .values(
                hub=hub,
                repo=repo,
                revision=revision,
                dedupe_key=key,
                delivery_id=delivery_id,
                kind=kind,
                payload=dict(payload),
                status="pending",
                attempts=0,
                received_at=now,
                available_at=now,
            )
            .on_conflict_do_nothing(index_elements=["dedupe_key"])
        )
        table = _table(HubEventRow)
        try:
            with self.engine.begin() as conn:
                # RETURNING yields a row only when the insert happened (rowcount
                # is unreliable for ON CONFLICT DO NOTHING across drivers).
                inserted = conn.execute(stmt.returning(table.c.id)).first()
                created = inserted is not None
                event_id = (
                    inserted.id
                    if inserted is not None
                    else conn.execute(
                        select(table.c.id).where(table.c.dedupe_key == key)
                    ).scalar_one()
                )
        except SQLAlchemyError as exc:
            raise self._fail("record a hub event", exc) from exc
        return int(event_id), created

    def claim(self, worker: str, *, limit: int = 1, lease: float = 600.0) -> list[HubEvent]:
        """Hand up to ``limit`` ready events to ``worker`` for ``lease`` seconds.

        Ready means pending and due, or running with an expired lease (its
        worker died). No two workers ever hold the same event at once.
        """
        table = _table(HubEventRow)
        now = _now()
        ready = or_(
            and_(table.c.status == "pending", table.c.available_at <= now),
            and_(table.c.status == "running", table.c.lease_until < now),
        )
        pick = select(table.c.id).where(ready).order_by(table.c.id).limit(limit)
        if self.engine.dialect.name == "postgresql":
            pick = pick.with_for_update(skip_locked=True)
        stmt = (
            update(table)
            .where(table.c.id.in_(pick.scalar_subquery()))
            .values(
                status="running",
                claimed_by=worker,
                lease_until=now + timedelta(seconds=lease),
                attempts=table.c.attempts + 1,
            )
            .returning(*table.c)
        )
        try:
            with self.engine.begin() as conn:
                rows = list(conn.execute(stmt))
        except SQLAlchemyError as exc:
            raise self._fail("claim hub events", exc) from exc
        return sorted((self._event(r) for r in rows), key=lambda e: e.id)

    def _event(self, r: Any) -> HubEvent:
        return HubEvent(
            id=int(r.id),
            hub=r.hub,
            repo=r.repo,
            revision=r.revision,
            kind=r.kind,
            payload=dict(r.payload or {}),
            status=r.status,
            attempts=int(r.attempts),
            delivery_id=r.delivery_id,
            received_at=_utc(r.received_at) or _now(),
            error=r.error,
        )

    def complete(self, event_id: int, worker: str) -> bool:
        """Mark an event done; False if ``worker`` no longer holds it (its lease expired)."""
        table = _table(HubEventRow)
        stmt = (
            update(table)
            .where(
                table.c.id == event_id, table.c.claimed_by == worker, table.c.status == "running"
            )
            .values(status="done", finished_at=_now(), lease_until=None, error=None)
        )
        try:
            with self.engine.begin() as conn:
                return bool(conn.execute(stmt).rowcount)
        except SQLAlchemyError as exc:
            raise self._fail("complete a hub event", exc) from exc

    def fail(
        self,
        event_id: int,
        worker: str,
        error: str,
        *,
        retry_in: float = 60.0,
        max_attempts: int = 5,
    ) -> str:
        """Record a failed attempt: back to pending after ``retry_in`` s, or failed for good.

        Returns the event's new status.
        """
        table = _table(HubEventRow)
        try:
            with self.engine.begin() as conn:
                attempts = conn.execute(
                    select(table.c.attempts).where(table.c.id == event_id)
                ).scalar_one_or_none()
                if attempts is None:
                    return "missing"
                status = "failed" if attempts >= max_attempts else "pending"
                conn.execute(
                    update(table)
                    .where(table.c.id == event_id, table.c.claimed_by == worker)
                    .values(
                        status=status,
                        error=error[:2000],
                        lease_until=None,
                        available_at=_now() + timedelta(seconds=retry_in),
                        finished_at=_now() if status == "failed" else None,
                    )
                )
        except SQLAlchemyError as exc:
            raise self._fail("record a failed hub event", exc) from exc
        return status

    def event(self, event_id: int) -> HubEvent | None:
        table = _table(HubEventRow)
        with self.engine.connect() as conn:
            r = conn.execute(select(table).where(table.c.id == event_id)).first()
        return self._event(r) if r is not None else None

    def events(self, status: str | None = None) -> list[HubEvent]:
        table = _table(HubEventRow)
        query = select(table).order_by(table.c.id)
        if status is not None:
            query = query.where(table.c.status == status)
        with self.engine.connect() as conn:
            return [self._event(r) for r in conn.execute(query)]

    def event_counts(self) -> dict[str, int]:
        """Events per status (every status present, zero when none)."""
        table = _table(HubEventRow)
        counts = dict.fromkeys(EVENT_STATUSES, 0)
        with self.engine.connect() as conn:
            for status, n in conn.execute(
                select(table.c.status, func.count()).group_by(table.c.status)
            ):
                counts[str(status)] = int(n)
        return counts
