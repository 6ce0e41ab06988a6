"""The Dask executor on a real LocalCluster gives the same records as the local executors."""

from __future__ import annotations

import functools
import json
import pickle
from collections.abc import Iterator
from typing import Any

import pytest

from likenessguard.hubs.base import RepoQuery
from likenessguard.pipeline.crawl import (
    ConnectorSpec,
    Crawler,
    CrawlOptions,
    build_connector,
    close_connectors,
    hub_target,
)
from likenessguard.pipeline.executors.dask import DaskExecutor
from likenessguard.pipeline.executors.local import ThreadExecutor
from likenessguard.pipeline.work import ScanOptions, scan_target
from likenessguard.store.catalog import Catalog
from likenessguard.testing.hubserver import HubServer
from tests.pipeline.hubkit import FAST, CardJudge, Sha256Bank

pytest.importorskip("distributed")


@pytest.fixture(autouse=True)
def online(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    yield
    close_connectors()


def _scaled(k: int, x: int) -> int:
    if x == 3:
        raise ValueError("three is refused")
    return k * x


def test_outcomes_errors_and_backpressure() -> None:
    with DaskExecutor.from_address("dask-local", workers=2, processes=False, max_pending=3) as ex:
        assert ex.workers == 2
        outcomes = list(ex.map_unordered(functools.partial(_scaled, 5), iter(range(12))))
    got = {o.item: (o.result, o.error) for o in outcomes}
    assert len(outcomes) == 12
    assert got[3] == (None, "ValueError: three is refused")
    assert all(got[i] == (5 * i, None) for i in range(12) if i != 3)
    ex.close()  # idempotent


def _records(url: str) -> list[str]:
    catalog = Catalog.open(url)
    try:
        return sorted(json.dumps(r, sort_keys=True) for r in catalog.iter_records())
    finally:
        catalog.close()


def _crawl(hub: HubServer, url: str, executor: Any) -> None:
    spec = ConnectorSpec("huggingface", endpoint=hub.url, policy=FAST)
    catalog = Catalog.open(url)
    banned = {hub.repos["author1/lora-00006"].head.files["style_00006.safetensors"].sha256: "b1"}
    try:
        Crawler(
            spec,
            catalog,
            [Sha256Bank(banned), CardJudge(("Jane Roe",))],
            executor=executor,
            options=CrawlOptions(batch=8),
        ).crawl(RepoQuery())
    finally:
        executor.close()
        catalog.close()


def test_crawl_on_a_local_cluster_matches_the_thread_executor(tmp_path: Any) -> None:
    with HubServer() as hub:
        hub.populate(20)
        hub.commit("author2/lora-00002", {"README.md": b"# Jane Roe portrait"})
        local_url = f"sqlite:///{tmp_path / 'local.db'}"
        dask_url = f"sqlite:///{tmp_path / 'dask.db'}"
        _crawl(hub, local_url, ThreadExecutor(4))
        # Two in-process workers keep the test fast; what worker processes need
        # (targets, specs and analyzers that pickle) is checked below.
        _crawl(hub, dask_url, DaskExecutor.from_address("dask-local", workers=2, processes=False))
    local, dask = _records(local_url), _records(dask_url)
    assert len(local) == 20
    assert local == dask
    flagged = [json.loads(r) for r in dask if '"medium"' in r or '"b1"' in r]
    assert len(flagged) == 2


def test_hub_targets_travel_to_worker_processes(tmp_path: Any) -> None:
    with HubServer() as hub:
        hub.populate(1)
        spec = ConnectorSpec("huggingface", endpoint=hub.url, policy=FAST)
        connector = build_connector(spec)
        repo = next(iter(connector.list_repos(RepoQuery())))
        [f] = [f for f in connector.list_files(repo) if f.path.endswith(".safetensors")]
        target = hub_target(spec, f, card="# card")
        assert target.read()[0].ok  # fetched once, cached on this object only
        clone = pickle.loads(pickle.dumps(target))
        assert "_cache" not in clone.__dict__ and clone.uri == target.uri
        assert clone.read()[0].identity == target.read()[0].identity
        fn = functools.partial(scan_target, ScanOptions(analyzers=(Sha256Bank({}), CardJudge())))
        assert pickle.loads(pickle.dumps(fn))(clone)[0].location.revision == repo.revision
