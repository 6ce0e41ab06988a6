"""Crawl state and the webhook queue on SQLite and PostgreSQL: idempotent, exclusive, leased."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from likenessguard.store.db import open_catalog
from likenessguard.store.hubs import HubStore, dedupe_key


@pytest.fixture
def store(catalog_url: str) -> Iterator[HubStore]:
    engine = open_catalog(catalog_url)
    yield HubStore(engine)
    engine.dispose()


def test_enqueue_is_idempotent_on_commit_and_delivery(store: HubStore, catalog_url: str) -> None:
    first = store.enqueue("huggingface", "acme/a", "s1", "repo.content.update", {"n": 1})
    again = store.enqueue(
        "huggingface", "acme/a", "s1", "repo.content.update", {"n": 2}, delivery_id="d9"
    )
    assert first == (first[0], True)
    assert again == (first[0], False)
    d1 = store.enqueue("huggingface", "acme/b", None, "repo.update", {}, delivery_id="d1")
    d1b = store.enqueue("huggingface", "acme/b", None, "repo.update", {}, delivery_id="d1")
    assert d1[1] and not d1b[1] and d1[0] == d1b[0]
    assert store.event_counts()["pending"] == 2
    # Durable: a new engine on the same database sees the events.
    other = open_catalog(catalog_url)
    try:
        assert len(HubStore(other).events("pending")) == 2
    finally:
        other.dispose()


def test_claims_are_exclusive_and_leases_expire(store: HubStore) -> None:
    for i in range(20):
        store.enqueue("huggingface", f"acme/r{i}", f"s{i}", "repo.content.update", {})
    got: dict[str, list[int]] = {}

    def grab(name: str) -> None:
        mine: list[int] = []
        while batch := store.claim(name, limit=3):
            mine.extend(e.id for e in batch)
        got[name] = mine

    threads = [threading.Thread(target=grab, args=(f"w{i}",)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    claimed = [i for ids in got.values() for i in ids]
    assert sorted(claimed) == sorted(set(claimed))  # nobody got an event twice
    assert len(claimed) == 20
    # A worker that died: its lease runs out and another worker gets the event.
    store.enqueue("huggingface", "acme/late", "s", "repo.content.update", {})
    [event] = store.claim("dead", lease=0.2)
    assert store.claim("alive") == []
    time.sleep(0.3)
    [again] = store.claim("alive")
    assert again.id == event.id and again.attempts == 2
    assert not store.complete(event.id, "dead")  # the dead worker no longer holds it
    assert store.complete(event.id, "alive")


def test_failures_retry_then_stop(store: HubStore) -> None:
    event_id, _ = store.enqueue("huggingface", "acme/bad", "s", "repo.content.update", {})
    statuses = []
    for _ in range(3):
        [event] = store.claim("w")
        statuses.append(store.fail(event.id, "w", "HubError: boom", retry_in=0, max_attempts=3))
    assert statuses == ["pending", "pending", "failed"]
    assert store.claim("w") == []
    failed = store.event(event_id)
    assert failed is not None and failed.error == "HubError: boom" and failed.attempts == 3


def test_repo_marks_cursors_and_listings(store: HubStore) -> None:
    when = datetime(2026, 3, 1, tzinfo=UTC)
    store.mark_repo("huggingface", "acme/a", "s1", last_modified=when, files=2)
    store.mark_repo("huggingface", "acme/a", "s2", last_modified=when, files=3)
    states = store.repo_states("huggingface", ["acme/a", "acme/none"])
    assert set(states) == {"acme/a"}
    assert (states["acme/a"].last_commit, states["acme/a"].files) == ("s2", 3)
    assert states["acme/a"].last_modified == when
    assert store.cursor("c") is None
    store.save_cursor("c", "civitai", cursor="10|1", watermark=None, state={"pages": 1})
    store.save_cursor("c", "civitai", cursor="20|1", watermark=when)
    saved = store.cursor("c")
    assert saved is not None and (saved.cursor, saved.watermark) == ("20|1", when)
    assert store.upsert_listings(
        "civitai", [("7", "71", {"id": 7}), ("7", "72", {"id": 7, "v": 2})]
    )
    assert list(store.listings("civitai")) == [{"id": 7, "v": 2}]


def test_dedupe_key_prefers_the_commit() -> None:
    assert dedupe_key("huggingface", "a/b", "s", "d", {}) == "huggingface:a/b@s"
    assert dedupe_key("huggingface", "a/b", None, "d", {}) == "huggingface:delivery:d"
    assert dedupe_key("huggingface", "a/b", None, None, {"x": 1}).startswith("huggingface:payload:")


def _artifact(store: HubStore, uri: str, repo: str) -> int:
    from likenessguard.testing.catalog import add_artifact

    return add_artifact(store.engine, uri=uri, hub="huggingface", repo=repo)


def test_removals_keep_rows_and_the_first_news_wins(store: HubStore) -> None:
    from sqlalchemy import select

    from likenessguard.store import review
    from likenessguard.store.models.core import ArtifactRow

    old = "hf://acme/lora@aaa/"
    kept = _artifact(store, old + "dropped.safetensors", "acme/lora")
    cased = _artifact(store, old + "jane.safetensors", "acme/lora")
    plain = _artifact(store, old + "style.safetensors", "acme/lora")
    new = _artifact(store, "hf://acme/lora@bbb/jane.safetensors", "acme/lora")
    other = _artifact(store, "hf://acme/lora_x@aaa/dropped.safetensors", "acme/lora_x")
    review.case_sync(store.engine)  # opens cases: add_artifact rows are high severity
    with store.engine.begin() as conn:
        conn.execute(review.CaseRow.__table__.delete().where(review.CaseRow.artifact_id == plain))
    at = datetime(2026, 2, 1, tzinfo=UTC)
    deleted, marked = store.retire_commit(
        "huggingface",
        "acme/lora",
        old,
        commit="bbb",
        paths=["jane.safetensors", "style.safetensors", "README.md"],
        at=at,
    )
    assert (deleted, marked) == (1, 2)
    with store.engine.connect() as conn:
        ids = set(conn.execute(select(ArtifactRow.id)).scalars())
    assert ids == {kept, cased, new, other}  # the uncased replaced record went; '_' is no wildcard
    marks = store.removals([kept, cased, new, other])
    assert set(marks) == {kept, cased}
    assert (marks[kept].reason, marks[kept].commit, marks[kept].removed_at) == (
        "file-removed",
        "bbb",
        at,
    )
    assert marks[cased].reason == "superseded" and marks[cased].source == "crawl"
    # The repo is then deleted: every file left is marked, earlier marks stand.
    assert store.mark_repo_removed("huggingface", "acme/lora", at=at + timedelta(days=1)) == 1
    assert store.mark_repo_removed("huggingface", "acme/lora") == 0  # a redelivery marks nothing
    marks = store.removals([kept, cased, new])
    assert marks[new].reason == "repo-deleted" and marks[new].source == "repo.delete"
    assert marks[kept].reason == "file-removed"
    assert marks[new].to_json()["removed_at"] == (at + timedelta(days=1)).isoformat()
