"""``crawl``, ``hub-listings``, ``sweep`` and ``worker --once`` from the command line."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import typer
from typer.testing import CliRunner

from likenessguard.cli import crawl
from likenessguard.cli.exit_codes import ExitCode
from likenessguard.pipeline.crawl import close_connectors
from likenessguard.store.catalog import Catalog
from likenessguard.store.hubs import HubStore
from likenessguard.testing.hubserver import HubServer, civitai_record, synthetic_lora


def _app() -> typer.Typer:
    app = typer.Typer()
    crawl.register(app)
    return app


APP = _app()


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(APP, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(autouse=True)
def online(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("HF_HUB_OFFLINE", "HF_TOKEN", "CIVITAI_TOKEN", "LIKENESSGUARD_DB"):
        monkeypatch.delenv(name, raising=False)
    yield
    close_connectors()


def test_civitai_crawl_then_listings_as_jsonl(sqlite_url: str) -> None:
    with HubServer() as hub:
        for i in (1, 2, 3):
            record, files = civitai_record(
                i,
                f"Chalk style {i}",
                files={f"c{i}.safetensors": synthetic_lora(i)},
                endpoint=hub.url,
            )
            hub.add_civitai_model(record, files)
        code, _, err = run(
            "crawl",
            "civitai",
            "--endpoint",
            hub.url,
            "--db",
            sqlite_url,
            "--rate",
            "0",
            "--fingerprint",
            "none",
        )
        assert code == 0, err
        assert "done: 3 repos listed, 3 changed" in err
    code, out, _ = run("hub-listings", "--db", sqlite_url)
    lines = [json.loads(line) for line in out.splitlines()]
    assert sorted(x["id"] for x in lines) == [1, 2, 3]
    assert lines[0]["versions"][0]["files"][0]["hashes"]["SHA256"]


def test_sweep_then_worker_once(sqlite_url: str) -> None:
    with HubServer() as hub:
        hub.populate(3)
        code, _, err = run("sweep", "--endpoint", hub.url, "--db", sqlite_url, "--rate", "0")
        assert code == 0, err
        assert "3 queued" in err
        code, _, err = run(
            "worker", "--once", "--endpoint", hub.url, "--db", sqlite_url, "--rate", "0"
        )
        assert code == 0, err
        assert "worker: 3 done, 0 failed" in err
    catalog = Catalog.open(sqlite_url)
    try:
        assert catalog.count() == 3
        assert HubStore(catalog.engine).event_counts()["done"] == 3
    finally:
        catalog.close()


def test_civitai_sweep_then_worker_once(sqlite_url: str) -> None:
    """Civitai sends no webhooks: a sweep queues the models, the worker scans their listings."""
    with HubServer() as hub:
        for i in (1, 2):
            record, files = civitai_record(
                i,
                f"Chalk style {i}",
                files={f"c{i}.safetensors": synthetic_lora(i)},
                endpoint=hub.url,
            )
            hub.add_civitai_model(record, files)
        code, _, err = run(
            "sweep", "--hub", "civitai", "--endpoint", hub.url, "--db", sqlite_url, "--rate", "0"
        )
        assert code == 0, err
        assert "2 queued" in err
        code, _, err = run(
            "worker",
            "--once",
            "--civitai-endpoint",
            hub.url,
            "--db",
            sqlite_url,
            "--rate",
            "0",
            "--fingerprint",
            "none",
        )
        assert code == 0, err
        assert "worker: 2 done, 0 failed" in err
        assert hub.stats.content_bytes == 0
    catalog = Catalog.open(sqlite_url)
    try:
        uris = sorted(r["location"]["uri"] for r in catalog.iter_records())
        assert uris == [
            "civitai://model/1/version/11/c1.safetensors",
            "civitai://model/2/version/21/c2.safetensors",
        ]
        assert len(list(HubStore(catalog.engine).listings("civitai"))) == 2
    finally:
        catalog.close()
    code, _, err = run("sweep", "--hub", "local", "--db", sqlite_url)
    assert code == int(ExitCode.USAGE) and "no sweep" in err


def test_errors_are_one_line_with_exit_codes(sqlite_url: str) -> None:
    with HubServer(token="secret") as hub:
        hub.populate(1)
        code, _, err = run("crawl", "huggingface", "--endpoint", hub.url, "--db", sqlite_url)
    assert code == ExitCode.ENVIRONMENT
    assert err.strip().startswith(
        "error: Couldn't authenticate to Hugging Face: set HF_TOKEN or pass --token"
    )
    code, _, err = run("crawl", "huggingface", "--since", "yesterday", "--db", sqlite_url)
    assert code == ExitCode.USAGE and "--since 'yesterday' is not a date" in err
