"""The webhook worker: drains the durable queue by scanning repos on the local Hub."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from likenessguard.errors import HubError
from likenessguard.hubs.base import RepoQuery
from likenessguard.pipeline.crawl import ConnectorSpec, Crawler, CrawlOptions, close_connectors
from likenessguard.pipeline.executors.local import SerialExecutor
from likenessguard.pipeline.queue import Worker, make_wakeup, parse_hf_webhook, record_hf_webhook
from likenessguard.store.catalog import Catalog
from likenessguard.store.hubs import HubEvent, HubStore
from likenessguard.testing.hubserver import HubServer, synthetic_lora
from tests.pipeline.hubkit import FAST


@pytest.fixture(autouse=True)
def online(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    yield
    close_connectors()


def hook(repo: str, sha: str | None, scope: str = "repo.content", action: str = "update") -> dict:
    return {
        "event": {"action": action, "scope": scope},
        "repo": {"type": "model", "name": repo, "headSha": sha, "private": False},
        "webhook": {"id": "w", "version": 3},
    }


def test_parse_hf_webhook() -> None:
    assert parse_hf_webhook(hook("a/b", "s")) == ("a/b", "s", "repo.content.update")
    moved = hook("a/b", "s", scope="repo", action="move") | {"movedTo": {"name": "c/d"}}
    assert parse_hf_webhook(moved) == ("c/d", "s", "repo.move")
    refs = hook("a/b", None) | {"updatedRefs": [{"ref": "refs/heads/main", "newSha": "n"}]}
    assert parse_hf_webhook(refs) == ("a/b", "n", "repo.content.update")
    assert isinstance(parse_hf_webhook({"repo": {}}), str)


def test_worker_scans_queued_repos_and_survives_failures(sqlite_url: str) -> None:
    with HubServer() as hub:
        hub.populate(4)
        catalog = Catalog.open(sqlite_url)
        store = HubStore(catalog.engine)
        spec = ConnectorSpec("huggingface", endpoint=hub.url, policy=FAST)
        crawler = Crawler(spec, catalog, executor=SerialExecutor(), options=CrawlOptions())
        sha = hub.commit("author1/lora-00001", {"new.safetensors": synthetic_lora(9)})
        for repo, rev in (("author1/lora-00001", sha), ("gone/repo", "x")):
            record_hf_webhook(store, hook(repo, rev))
        record_hf_webhook(store, hook("author2/lora-00002", None, action="delete", scope="repo"))
        log: list[str] = []
        worker = Worker(
            store, lambda e: len(crawler.scan_repo(e.repo)), worker_id="w1", log=log.append
        )
        worker.run(exit_when_idle=True)
        assert store.event_counts() == {"pending": 0, "running": 0, "done": 3, "failed": 0}
        uris = {r["location"]["uri"] for r in catalog.iter_records()}
        assert uris == {
            f"hf://author1/lora-00001@{sha}/new.safetensors",
            f"hf://author1/lora-00001@{sha}/style_00001.safetensors",
        }
        assert any("gone/repo" in line and "dropped" in line for line in log)

        # A scan that fails is retried later, then marked failed for good.
        record_hf_webhook(store, hook("author3/lora-00003", "z"))

        def broken(event: HubEvent) -> int:
            raise HubError(f"{event.repo}: hub down")

        flaky = Worker(store, broken, worker_id="w2", retry_in=0, max_attempts=2)
        flaky.run(exit_when_idle=True)
        assert store.event_counts()["failed"] == 1 and flaky.failed == 2
        catalog.close()


def test_redis_wakeup_round_trip() -> None:
    redis = pytest.importorskip("redis")
    try:
        redis.Redis.from_url("redis://127.0.0.1:6379/15").ping()
    except redis.exceptions.ConnectionError:
        pytest.fail("Redis is not running at 127.0.0.1:6379")
    wake = make_wakeup("redis://127.0.0.1:6379/15")
    wake._redis.delete("likenessguard:hub-events")  # type: ignore[attr-defined]
    wake.notify()
    import time

    start = time.monotonic()
    wake.wait(5)
    assert time.monotonic() - start < 1.0  # woken, not timed out
    wake._redis.close()  # type: ignore[attr-defined]


def test_worker_queue_via_sweep_and_crawler(sqlite_url: str) -> None:
    with HubServer() as hub:
        hub.populate(3)
        catalog = Catalog.open(sqlite_url)
        spec = ConnectorSpec("huggingface", endpoint=hub.url, policy=FAST)
        crawler = Crawler(spec, catalog, executor=SerialExecutor())
        crawler.crawl(RepoQuery())
        store = HubStore(catalog.engine)
        # Already crawled at this commit: the worker reads nothing new.
        record_hf_webhook(
            store, hook("author0/lora-00000", hub.repos["author0/lora-00000"].head.sha)
        )
        hub.stats.reset()
        Worker(store, lambda e: len(crawler.scan_repo(e.repo))).run(exit_when_idle=True)
        assert hub.stats.requests["tree"] == 0 and hub.stats.requests["model"] == 1
        catalog.close()


def _lora(name: str) -> bytes:
    return synthetic_lora(3, metadata={"ss_output_name": name})


def test_worker_scans_the_commit_the_event_names_after_the_repo_moved_on(
    sqlite_url: str,
) -> None:
    """Push A, webhook queued, repo moves on to B before the worker runs: A is what is read."""
    with HubServer() as hub:
        repo = "uploader/jane-roe-lora"
        hub.add_repo(repo, {"README.md": b"# Jane Roe", "jane_roe.safetensors": _lora("a")})
        a = hub.commit(repo, {"jane_roe.safetensors": _lora("a2"), "extra.safetensors": _lora("x")})
        catalog = Catalog.open(sqlite_url)
        store = HubStore(catalog.engine)
        spec = ConnectorSpec("huggingface", endpoint=hub.url, policy=FAST)
        crawler = Crawler(spec, catalog, executor=SerialExecutor())
        record_hf_webhook(store, hook(repo, a))
        b = hub.commit(repo, {"jane_roe.safetensors": _lora("b")}, delete=["extra.safetensors"])
        Worker(store, crawler.scan_event, worker_id="w").run(exit_when_idle=True)
        assert store.event_counts()["done"] == 1
        records = {r["location"]["uri"]: r for r in catalog.iter_records()}
        assert set(records) == {
            f"hf://{repo}@{a}/jane_roe.safetensors",
            f"hf://{repo}@{a}/extra.safetensors",  # gone at B, still catalogued at A
        }
        lora = records[f"hf://{repo}@{a}/jane_roe.safetensors"]
        assert lora["location"]["revision"] == a
        assert lora["metadata"]["ss_output_name"] == "a2"
        assert (
            lora["known_hashes"]["sha256"]
            == hub.repos[repo].revisions[1].files["jane_roe.safetensors"].sha256
        )
        assert store.repo_states("huggingface", [repo])[repo].last_commit == a

        # B's event: the repo's state moves to B ...
        record_hf_webhook(store, hook(repo, b))
        Worker(store, crawler.scan_event, worker_id="w").run(exit_when_idle=True)
        assert store.repo_states("huggingface", [repo])[repo].last_commit == b
        at_b = {u for u in (r["location"]["uri"] for r in catalog.iter_records()) if f"@{b}/" in u}
        assert at_b == {f"hf://{repo}@{b}/jane_roe.safetensors"}

        # ... and a late delivery for the first commit adds its records without
        # rolling the repo back or dropping B's.
        first = hub.repos[repo].revisions[0].sha
        record_hf_webhook(store, hook(repo, first))
        Worker(store, crawler.scan_event, worker_id="w").run(exit_when_idle=True)
        uris = {r["location"]["uri"] for r in catalog.iter_records()}
        assert f"hf://{repo}@{first}/jane_roe.safetensors" in uris
        assert f"hf://{repo}@{b}/jane_roe.safetensors" in uris
        assert store.repo_states("huggingface", [repo])[repo].last_commit == b
        catalog.close()


def test_deleted_files_and_repos_stay_in_the_catalog_marked_removed(sqlite_url: str) -> None:
    from likenessguard.store import review

    with HubServer() as hub:
        repo = "uploader/jane-roe-lora"
        a = hub.add_repo(
            repo,
            {"jane_roe.safetensors": _lora("a"), "style.safetensors": _lora("s")},
        )
        catalog = Catalog.open(sqlite_url)
        store = HubStore(catalog.engine)
        spec = ConnectorSpec("huggingface", endpoint=hub.url, policy=FAST)
        crawler = Crawler(spec, catalog, executor=SerialExecutor())
        worker = Worker(store, crawler.scan_event, worker_id="w")
        record_hf_webhook(store, hook(repo, a))
        worker.run(exit_when_idle=True)
        # A reviewer opened a case on the style LoRA at commit A.
        ids = {r["location"]["uri"]: i for i, r in _ids(catalog)}
        style_a = ids[f"hf://{repo}@{a}/style.safetensors"]
        with catalog.engine.begin() as conn:
            conn.execute(
                review.CaseRow.__table__.insert().values(
                    artifact_id=style_a,
                    rank_key="0",
                    first_seen=review.utcnow(),
                    opened_at=review.utcnow(),
                    updated_at=review.utcnow(),
                )
            )

        # Commit B deletes the Jane Roe LoRA and touches the style LoRA.
        b = hub.commit(repo, {"style.safetensors": _lora("s2")}, delete=["jane_roe.safetensors"])
        record_hf_webhook(store, hook(repo, b))
        worker.run(exit_when_idle=True)
        ids = {r["location"]["uri"]: i for i, r in _ids(catalog)}
        assert set(ids) == {
            f"hf://{repo}@{a}/jane_roe.safetensors",  # kept: removed by the host in B
            f"hf://{repo}@{a}/style.safetensors",  # kept: a case hangs on it
            f"hf://{repo}@{b}/style.safetensors",
        }
        marks = store.removals(ids.values())
        jane_a = ids[f"hf://{repo}@{a}/jane_roe.safetensors"]
        assert (marks[jane_a].reason, marks[jane_a].commit) == ("file-removed", b)
        assert (marks[style_a].reason, marks[style_a].commit) == ("superseded", b)
        assert ids[f"hf://{repo}@{b}/style.safetensors"] not in marks

        # The repo is deleted: nothing to read, every record stays, marked.
        hub.stats.reset()
        record_hf_webhook(store, hook(repo, None, scope="repo", action="delete"))
        worker.run(exit_when_idle=True)
        assert hub.stats.total_requests == 0
        marks = store.removals(ids.values())
        assert set(marks) == set(ids.values())
        assert marks[ids[f"hf://{repo}@{b}/style.safetensors"]].reason == "repo-deleted"
        assert marks[ids[f"hf://{repo}@{b}/style.safetensors"]].source == "repo.delete"
        assert marks[jane_a].reason == "file-removed"  # the earlier news stands
        catalog.close()


def _ids(catalog: Catalog) -> list[tuple[int, dict]]:
    from sqlalchemy import select

    from likenessguard.store.models.core import ArtifactRow

    with catalog.engine.connect() as conn:
        return [(i, r) for i, r in conn.execute(select(ArtifactRow.id, ArtifactRow.record))]


def test_civitai_sweep_and_worker_watch_new_versions(sqlite_url: str) -> None:
    """The continuous Civitai watch: sweep queues moved models, the worker scans them."""
    from likenessguard.pipeline.crawl import EventScanner, sweep
    from likenessguard.testing.hubserver import civitai_record

    with HubServer() as hub:
        records = {}
        for i in (1, 2, 3):
            record, files = civitai_record(
                i, f"Ink style {i}", files={f"ink{i}.safetensors": _lora(f"i{i}")}, endpoint=hub.url
            )
            hub.add_civitai_model(record, files)
            records[i] = record
        catalog = Catalog.open(sqlite_url)
        store = HubStore(catalog.engine)
        hf = ConnectorSpec("huggingface", endpoint=hub.url, policy=FAST)
        civitai = ConnectorSpec("civitai", endpoint=hub.url, policy=FAST)
        scan = EventScanner(
            {"huggingface": hf, "civitai": civitai},
            lambda spec: Crawler(spec, catalog, executor=SerialExecutor(), options=CrawlOptions()),
        )
        worker = Worker(store, scan, worker_id="w")
        assert sweep(civitai, catalog, RepoQuery()) == (3, 3)
        worker.run(exit_when_idle=True)
        assert store.event_counts()["done"] == 3 and set(scan.crawlers) == {"civitai"}
        assert len(list(catalog.iter_records())) == 3
        assert sweep(civitai, catalog, RepoQuery())[1] == 0  # nothing moved

        # Model 2 gets a new version: the next sweep queues it, the worker adds its file.
        newer = dict(records[2]["modelVersions"][0])
        newer.update(
            id=22,
            updatedAt="2026-06-01T00:00:00.000Z",
            files=[dict(newer["files"][0], id=2200, name="ink2_v2.safetensors")],
        )
        hub.add_civitai_model(records[2] | {"modelVersions": [newer, *records[2]["modelVersions"]]})
        assert sweep(civitai, catalog, RepoQuery())[1] == 1  # only the moved model is queued
        worker.run(exit_when_idle=True)
        uris = {r["location"]["uri"] for r in catalog.iter_records()}
        assert "civitai://model/2/version/22/ink2_v2.safetensors" in uris and len(uris) == 4
        assert hub.stats.content_bytes == 0  # listings and Civitai's hashes only
        # An event for a hub the worker has no connector for fails with a clear reason.
        store.enqueue("gitlab", "x/y", "1", "sweep", {})
        only_hf = Worker(store, EventScanner({"huggingface": hf}, scan.make), max_attempts=1)
        only_hf.run(exit_when_idle=True)
        (failed,) = store.events("failed")
        assert "hub 'gitlab'" in (failed.error or "")
        catalog.close()
