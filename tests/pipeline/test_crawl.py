"""Crawls end to end: the real huggingface_hub client, the local Hub, and a real catalog.

Budgets are asserted from the server's own counters: requests and bytes per
file, and zero content bytes for sha256 bank matching of a 1,000-repo hub.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from likenessguard.hubs.base import HEADER_PREFETCH, RepoQuery
from likenessguard.pipeline.crawl import (
    ConnectorSpec,
    Crawler,
    CrawlOptions,
    close_connectors,
    sweep,
)
from likenessguard.pipeline.executors.local import ThreadExecutor
from likenessguard.store.catalog import Catalog
from likenessguard.store.hubs import HubStore
from likenessguard.testing.hubserver import HubServer, civitai_record, synthetic_lora
from tests.pipeline.hubkit import FAST, CardJudge, Sha256Bank

_catalogs: list[Catalog] = []


@pytest.fixture(autouse=True)
def online(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("HF_HUB_OFFLINE", "HF_TOKEN", "HF_ENDPOINT", "CIVITAI_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    yield
    close_connectors()
    while _catalogs:
        _catalogs.pop().close()


def open_catalog(url: str) -> Catalog:
    catalog = Catalog.open(url)
    _catalogs.append(catalog)
    return catalog


@pytest.fixture
def hub() -> Iterator[HubServer]:
    with HubServer(page_size=20) as server:
        yield server


def crawler(hub: HubServer, url: str, *analyzers: object, **options: object) -> Crawler:
    spec = ConnectorSpec("huggingface", endpoint=hub.url, policy=FAST)
    return Crawler(
        spec,
        open_catalog(url),
        list(analyzers),  # type: ignore[arg-type]
        executor=ThreadExecutor(4),
        options=CrawlOptions(batch=10, **options),  # type: ignore[arg-type]
    )


def model_uris(hub: HubServer) -> set[str]:
    return {
        f"hf://{r.id}@{r.head.sha}/{p}"
        for r in hub.repos.values()
        for p in r.head.files
        if p.endswith(".safetensors")
    }


def test_crawl_50_repos_with_faults_within_budget(hub: HubServer, catalog_url: str) -> None:
    hub.populate(50)
    big = synthetic_lora(99, rank=8, modules=16, metadata={"ss_tag_frequency": "t" * 100_000})
    hub.add_repo("acme/big-header", {"big.safetensors": big, "README.md": b"# big"})
    hub.inject("models", status=429, retry_after=0)
    hub.inject("tree", status=503, times=2)
    hub.inject("tree", truncate=True)
    hub.inject("resolve", status=429, ratelimit_reset=0)
    hub.inject("resolve", truncate=True)
    c = crawler(hub, catalog_url)
    stats = c.crawl(RepoQuery())
    assert (stats.listed, stats.changed, stats.records) == (51, 51, 51)
    assert stats.errors == []
    records = {r["location"]["uri"]: r for r in c.catalog.iter_records()}
    assert set(records) == model_uris(hub)
    for uri, r in records.items():
        assert r["errors"] == [], uri
        assert r["kind"] == "lora"
        repo = r["location"]["repo"]
        assert r["location"]["revision"] == hub.repos[repo].head.sha
        data = hub.repos[repo].head.files[uri.rsplit("/", 1)[1]].data
        assert r["known_hashes"] == {"sha256": hashlib.sha256(data).hexdigest()}
    # Budgets per safetensors file: <= 2 requests and <= header + 64 KiB, faults excluded.
    faults = hub.stats.faults["resolve"]
    for key, n in hub.stats.file_requests.items():
        repo, _, name = key.rpartition("/")
        data = hub.repos[repo].head.files[name].data
        header = 8 + int.from_bytes(data[:8], "little")
        assert n <= 2 + faults, key
        assert hub.stats.file_bytes[key] <= header + HEADER_PREFETCH, key
    assert hub.stats.file_requests["acme/big-header/big.safetensors"] - faults <= 2


def test_recrawl_reads_only_changed_repos(hub: HubServer, sqlite_url: str) -> None:
    hub.populate(30)
    c = crawler(hub, sqlite_url)
    c.crawl(RepoQuery())
    hub.commit("author1/lora-00006", {"extra.safetensors": synthetic_lora(500)})
    hub.stats.reset()
    stats = c.crawl(RepoQuery())
    assert stats.changed == 1
    assert hub.stats.requests["tree"] == 1
    assert hub.stats.requests["models"] == 1  # the watermark stops the listing early
    uris = {r["location"]["uri"] for r in c.catalog.iter_records()}
    assert uris == model_uris(hub)  # the old commit's record was replaced, not kept
    assert len(uris) == 31


def test_repo_changing_between_listing_and_reading(hub: HubServer, sqlite_url: str) -> None:
    hub.populate(5)
    listed_sha = hub.repos["author2/lora-00002"].head.sha
    hub.change_after_listing("author2/lora-00002", {"late.safetensors": synthetic_lora(77)})
    hub.change_after_listing(
        "author3/lora-00003", {"forced.safetensors": synthetic_lora(78)}, drop_history=True
    )
    c = crawler(hub, sqlite_url)
    assert c.crawl(RepoQuery()).errors == []
    revs = {r["location"]["repo"]: r["location"]["revision"] for r in c.catalog.iter_records()}
    # Pinned: read consistently at the listed commit although the repo moved.
    assert revs["author2/lora-00002"] == listed_sha
    # Force-pushed (the listed commit is gone): re-read at the new head.
    assert revs["author3/lora-00003"] == hub.repos["author3/lora-00003"].head.sha
    # The next crawl picks up the moved repo and drops its stale records.
    c.crawl(RepoQuery())
    assert {r["location"]["uri"] for r in c.catalog.iter_records()} == model_uris(hub)


@pytest.mark.slow
def test_sha256_bank_matching_of_1000_repos_reads_no_content(sqlite_url: str) -> None:
    with HubServer(page_size=1000) as hub:
        hub.populate(1000, weight_sets=4)
        banned = {
            hub.repos[f"author{i % 5}/lora-{i:05d}"]
            .head.files[f"style_{i:05d}.safetensors"]
            .sha256: f"banned-{i}"
            for i in (3, 500, 999)
        }
        c = crawler(hub, sqlite_url, Sha256Bank(banned), read_headers=False, fingerprint="none")
        c.options = CrawlOptions(batch=200, read_headers=False, fingerprint="none")
        stats = c.crawl(RepoQuery())
        assert stats.records == 1000
        assert hub.stats.content_bytes == 0
        assert hub.stats.requests["resolve"] == 1000  # model cards only, no weights
        matched = {m["entry"]["id"] for r in c.catalog.iter_records() for m in r["matches"]}
        assert matched == set(banned.values())


def test_suspects_are_downloaded_hashed_and_deleted(
    hub: HubServer, sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Downloads go to a folder of this test's own: /tmp is shared with other
    # suites (a SIGKILLed crawl elsewhere may leave its partial file there).
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    hub.populate(6)
    lora = synthetic_lora(41)
    hub.add_repo(
        "acme/jane",
        {"jane.safetensors": lora, "README.md": b"# Jane Roe likeness\nA portrait LoRA."},
    )
    c = crawler(hub, sqlite_url, CardJudge())
    stats = c.crawl(RepoQuery())
    assert (stats.flagged, stats.downloaded) == (1, 1)
    assert hub.stats.file_bytes["acme/jane/jane.safetensors"] >= len(lora)
    [jane] = [r for r in c.catalog.iter_records() if r["location"]["repo"] == "acme/jane"]
    assert jane["hashes"]["sha256"] == hashlib.sha256(lora).hexdigest()
    assert jane["verdict"]["severity"] == "medium"
    others = [r for r in c.catalog.iter_records() if r["location"]["repo"] != "acme/jane"]
    assert all(r["hashes"] is None for r in others)  # never downloaded
    assert not list(tmp_path.glob("lg-dl-*.part"))


def test_civitai_crawl_stores_listings_and_resumes_from_its_cursor(sqlite_url: str) -> None:
    with HubServer() as hub:
        for i in range(1, 31):
            record, files = civitai_record(
                i,
                f"Ink style {i}",
                files={f"ink{i}.safetensors": synthetic_lora(i)},
                endpoint=hub.url,
            )
            hub.add_civitai_model(record, files)
        spec = ConnectorSpec("civitai", endpoint=hub.url, policy=FAST)
        catalog = open_catalog(sqlite_url)
        c = Crawler(spec, catalog, options=CrawlOptions(fingerprint="none"))
        c.connector.page_size = 10  # type: ignore[attr-defined]
        # A first run that got one page in before it was killed: page 1 committed, cursor saved.
        pages = iter(c.connector.pages(RepoQuery(), None))  # type: ignore[attr-defined]
        first_refs, cursor = next(pages)
        c.process(first_refs)
        HubStore(catalog.engine).save_cursor(
            c.cursor_name(RepoQuery()), "civitai", cursor=cursor, watermark=None
        )
        hub.stats.reset()
        stats = c.crawl(RepoQuery())
        assert hub.stats.requests["civitai_models"] == 2  # resumed at page 2 of 3
        assert stats.records == 20
        records = list(catalog.iter_records())
        assert len(records) == 30
        assert all(r["hashes"] and r["hashes"]["sha256"] for r in records)
        assert hub.stats.content_bytes == 0
        listings = list(HubStore(catalog.engine).listings("civitai"))
        assert len(listings) == 30
        assert set(listings[0]) >= {"id", "type", "name", "tags", "description", "versions"}


def test_sweep_queues_only_moved_repos(hub: HubServer, sqlite_url: str) -> None:
    hub.populate(8)
    c = crawler(hub, sqlite_url)
    c.crawl(RepoQuery())
    hub.commit("author0/lora-00005", {"n.safetensors": synthetic_lora(3)})
    spec = ConnectorSpec("huggingface", endpoint=hub.url, policy=FAST)
    assert sweep(spec, c.catalog, RepoQuery()) == (8, 1)
    assert sweep(spec, c.catalog, RepoQuery())[1] == 0  # same commit: deduplicated
    [event] = HubStore(c.catalog.engine).events("pending")
    assert event.repo == "author0/lora-00005"


@pytest.mark.slow
def test_killed_crawl_resumes_with_nothing_lost_or_doubled(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'crawl.db'}"
    with HubServer(page_size=10, latency=0.02) as hub:
        hub.populate(24)
        cmd = [
            str(Path(sys.executable).parent / "likenessguard"),
            "crawl",
            "huggingface",
            "--endpoint",
            hub.url,
            "--db",
            url,
            "--batch",
            "4",
            "--concurrency",
            "2",
            "--rate",
            "0",
            "--fingerprint",
            "none",
        ]
        env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "HF_TOKEN")}
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        catalog = open_catalog(url)
        store = HubStore(catalog.engine)
        deadline = time.monotonic() + 60
        while store.count_repos("huggingface") < 8 and time.monotonic() < deadline:
            assert proc.poll() is None, "the crawl ended before it could be killed"
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        done_before = store.count_repos("huggingface")
        assert 8 <= done_before < 24
        hub.stats.reset()
        rerun = subprocess.run(
            cmd, env=env, capture_output=True, text=True, timeout=120, check=False
        )
        assert rerun.returncode == 0, rerun.stderr
        assert hub.stats.requests["tree"] == 24 - done_before  # finished repos not re-read
        with catalog.engine.connect() as conn:
            rows = conn.execute(text("SELECT uri FROM artifacts")).scalars().all()
        assert len(rows) == len(set(rows)) == 24
        assert set(rows) == model_uris(hub)
        assert store.count_repos("huggingface") == 24


def test_local_hf_cache_crawl_gives_hub_identities(tmp_path: Path, sqlite_url: str) -> None:
    from tests.hubs.test_local import COMMIT, make_cache

    data = make_cache(tmp_path / "cache")
    spec = ConnectorSpec("local", root=str(tmp_path / "cache"))
    catalog = open_catalog(sqlite_url)
    stats = Crawler(spec, catalog, [Sha256Bank({hashlib.sha256(data).hexdigest(): "c1"})]).crawl(
        RepoQuery()
    )
    assert stats.records == 1
    [record] = list(catalog.iter_records())
    assert record["location"]["uri"] == f"hf://acme/cached@{COMMIT}/loras/x.safetensors"
    assert record["kind"] == "lora" and record["errors"] == []
    assert [m["entry"]["id"] for m in record["matches"]] == ["c1"]


def test_a_repo_that_failed_is_retried_by_the_next_crawl(hub: HubServer, sqlite_url: str) -> None:
    hub.populate(6)
    hub.inject("tree", status=404, times=2)  # the first repo's tree, and its refresh
    c = crawler(hub, sqlite_url, concurrency=1)
    first = c.crawl(RepoQuery())
    assert len(first.errors) == 1 and first.records == 5
    assert "does not exist" in first.errors[0]
    second = c.crawl(RepoQuery())
    assert (second.changed, second.records, second.errors) == (1, 1, [])
    assert {r["location"]["uri"] for r in c.catalog.iter_records()} == model_uris(hub)


def test_pickle_checkpoints_are_read_by_ranged_reads(
    hub: HubServer, sqlite_url: str, tmp_path: Path
) -> None:
    from likenessguard.testing import make_checkpoint

    ckpt = make_checkpoint(tmp_path / "model.ckpt", "sd1", fmt="pickle").read_bytes()
    hub.add_repo("acme/old-ckpt", {"model.ckpt": ckpt})
    c = crawler(hub, sqlite_url)
    assert c.crawl(RepoQuery()).errors == []
    [record] = list(c.catalog.iter_records())
    assert record["format"] == "pickle" and record["kind"] == "checkpoint"
    assert record["errors"] == []
    # Pickle zips spread their index over the file: 64 KiB block reads, cached,
    # instead of one request per tiny read (over a thousand for this file).
    assert hub.stats.file_requests["acme/old-ckpt/model.ckpt"] <= 100
    assert hub.stats.content_bytes < len(ckpt)
