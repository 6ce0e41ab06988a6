"""Threaded crawls with the real bank matcher and verdict stage give the serial answer, every time.

The fake analyzers in ``hubkit`` never open the catalog, so they could not see
what real stages did under threads: each thread built its own bank matcher and
registry on first use, and the concurrent catalog opens failed inside Alembic
(``KeyError: 'script'``/``'config'``); those files were recorded without bank
matching and the crawl summary said "0 errors".
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import pytest

from likenessguard.banks.base import BankEntry
from likenessguard.hubs.base import RepoQuery
from likenessguard.pipeline.crawl import ConnectorSpec, Crawler, CrawlOptions, close_connectors
from likenessguard.pipeline.executors.local import SerialExecutor, ThreadExecutor
from likenessguard.pipeline.judge import VerdictAnalyzer
from likenessguard.pipeline.match import BankMatcher
from likenessguard.store.banks import add_entries, create_bank
from likenessguard.store.catalog import Catalog
from likenessguard.testing.hubserver import HubServer
from tests.pipeline.hubkit import FAST

REPOS = 40
BANNED_EVERY = 4
VOLATILE = ("scanned_at", "duration_ms", "timings")


@pytest.fixture(autouse=True)
def online(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("HF_HUB_OFFLINE", "HF_TOKEN", "HF_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    yield
    close_connectors()


def _stable(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k not in VOLATILE}


def _crawl(hub: HubServer, url: str, executor: Any) -> tuple[dict[str, dict[str, Any]], int]:
    catalog = Catalog.open(url)
    try:
        create_bank(catalog.engine, "banned")
        banned = [
            hashlib.sha256(f.data).hexdigest()
            for i, r in enumerate(sorted(hub.repos.values(), key=lambda r: r.id))
            for p, f in r.head.files.items()
            if p.endswith(".safetensors") and i % BANNED_EVERY == 0
        ]
        add_entries(
            catalog.engine,
            "banned",
            [BankEntry(name=f"b{i}", sha256=s) for i, s in enumerate(banned)],
        )
        crawler = Crawler(
            ConnectorSpec("huggingface", endpoint=hub.url, policy=FAST),
            catalog,
            [VerdictAnalyzer(db_url=url), BankMatcher(url, fingerprint=False)],
            executor=executor,
            options=CrawlOptions(batch=5),
        )
        stats = crawler.crawl(RepoQuery())
        records = {r["location"]["uri"]: _stable(r) for r in catalog.iter_records()}
        assert stats.error_count == sum(len(r["errors"]) for r in records.values())
        return records, len(banned)
    finally:
        catalog.close()


def test_threaded_crawls_with_banks_equal_the_serial_crawl(tmp_path: Any) -> None:
    with HubServer(page_size=20) as hub:
        hub.populate(REPOS)
        serial, banned = _crawl(hub, f"sqlite:///{tmp_path / 'serial.db'}", SerialExecutor())
        matched = [u for u, r in serial.items() if r.get("matches")]
        assert len(matched) == banned == REPOS // BANNED_EVERY
        assert [u for u, r in serial.items() if r["errors"]] == []
        for run in range(3):
            threaded, _ = _crawl(
                hub, f"sqlite:///{tmp_path / f'threads{run}.db'}", ThreadExecutor(4)
            )
            assert [u for u, r in threaded.items() if r["errors"]] == []
            assert threaded == serial, f"run {run} differs from the serial crawl"
