"""A default crawl downloads and fingerprints the disguised copies: generic names, stripped headers.

A re-upload under "LORA.safetensors" with its kohya header stripped scores
nothing from its header and has a sha256 no bank knows: only its weights'
fingerprint can say it is a banned model. Such files used to be suspects only
with a verdict of medium or more, so a default crawl never downloaded them.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from likenessguard.hubs.base import RepoQuery
from likenessguard.pipeline.crawl import (
    ConnectorSpec,
    Crawler,
    CrawlOptions,
    close_connectors,
    is_generic_name,
    is_suspect,
)
from likenessguard.pipeline.executors.local import ThreadExecutor
from likenessguard.pipeline.judge import VerdictAnalyzer
from likenessguard.pipeline.match import BankMatcher, entry_for, examine_file
from likenessguard.store.banks import add_entries, create_bank
from likenessguard.store.catalog import Catalog
from likenessguard.testing import kohya_metadata, make_lora
from likenessguard.testing.containers import make_diffusers_lora_folder
from likenessguard.testing.hubserver import HubServer
from likenessguard.testing.mutations import cast, strip_metadata
from tests.pipeline.hubkit import FAST


@pytest.fixture(autouse=True)
def online(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    for name in ("HF_HUB_OFFLINE", "HF_TOKEN", "HF_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    yield
    close_connectors()


@pytest.mark.parametrize(
    ("name", "generic"),
    [
        ("LORA.safetensors", True),
        ("Test model.safetensors", True),
        ("test_model-000010.safetensors", True),
        ("lora_v2.safetensors", True),
        ("1234.safetensors", True),
        ("a1b2c3d4e5f6a7b8.safetensors", True),
        ("adapter_model.safetensors", True),
        ("jane_roe_v2.safetensors", False),
        ("JaneRoeXL.safetensors", False),
        ("watercolor_style.safetensors", False),
    ],
)
def test_generic_names(name: str, generic: bool) -> None:
    assert is_generic_name(name) is generic


def _record(uri: str, *, repo: str | None = None, meta: bool = True, scheme: str = "kohya") -> dict:
    return {
        "kind": "lora",
        "key_scheme": scheme,
        "location": {"uri": uri, "repo": repo},
        "metadata": {"ss_output_name": "x"} if meta else {},
        "errors": [],
        "matches": [],
        "findings": [],
        "verdict": {"severity": "none", "labels": {"real_person": {"fired": False}}},
    }


def test_what_makes_an_adapter_a_suspect() -> None:
    assert is_suspect(_record("hf://a/b@1/LORA.safetensors", repo="a/b"))
    assert is_suspect(_record("hf://a/b@1/jane.safetensors", repo="a/b", meta=False))
    assert not is_suspect(_record("hf://a/jane-roe@1/jane.safetensors", repo="a/jane-roe"))
    # diffusers and PEFT name every file alike and write no header metadata: the repo decides.
    peft = "hf://a/{}@1/adapter_model.safetensors"
    assert not is_suspect(
        _record(peft.format("jane-roe"), repo="a/jane-roe", meta=False, scheme="diffusers_peft")
    )
    assert is_suspect(
        _record(peft.format("test"), repo="a/test", meta=False, scheme="diffusers_peft")
    )
    fired = _record("hf://a/jane@1/jane.safetensors", repo="a/jane")
    fired["verdict"]["labels"]["real_person"]["fired"] = True
    assert is_suspect(fired)


def test_a_default_crawl_fingerprints_and_matches_disguised_copies(tmp_path: Path) -> None:
    meta = kohya_metadata(output_name="jane_roe_v2", base_model="sd1")
    banned = make_lora(
        tmp_path / "jane_roe_v2.safetensors", "sd1", "kohya", modules=12, seed=51, metadata=meta
    )
    stripped = strip_metadata(banned, tmp_path / "stripped.safetensors")
    recast = cast(banned, tmp_path / "recast.safetensors", "BF16")
    style = make_lora(
        tmp_path / "style.safetensors",
        "sd1",
        "kohya",
        modules=12,
        seed=52,
        metadata=kohya_metadata(output_name="watercolor", base_model="sd1"),
    )
    peft = make_diffusers_lora_folder(tmp_path / "peft", "sd1", rank=4, seed=53)
    url = f"sqlite:///{tmp_path / 'catalog.db'}"
    catalog = Catalog.open(url)
    try:
        create_bank(catalog.engine, "bans")
        (res,) = examine_file(str(banned))
        entry = entry_for(res, name="Jane Roe")
        assert entry is not None and entry.fingerprint
        add_entries(catalog.engine, "bans", [entry])
        with HubServer(page_size=20) as hub:
            hub.add_repo("anon1/lora", {"LORA.safetensors": stripped.read_bytes()})
            hub.add_repo("anon2/test", {"Test model.safetensors": recast.read_bytes()})
            hub.add_repo("artist/watercolor", {"watercolor.safetensors": style.read_bytes()})
            hub.add_repo(
                "artist/ink-style",
                {
                    "adapter_model.safetensors": (peft / "adapter_model.safetensors").read_bytes(),
                    "adapter_config.json": (peft / "adapter_config.json").read_bytes(),
                },
            )
            crawler = Crawler(
                ConnectorSpec("huggingface", endpoint=hub.url, policy=FAST),
                catalog,
                [VerdictAnalyzer(db_url=url), BankMatcher(url)],
                executor=ThreadExecutor(2),
                options=CrawlOptions(batch=5),
            )
            stats = crawler.crawl(RepoQuery())
        records = {r["location"]["repo"]: r for r in catalog.iter_records()}
        assert stats.downloaded == 2, json.dumps({k: v["location"] for k, v in records.items()})
        assert stats.error_count == 0
        for repo in ("anon1/lora", "anon2/test"):
            assert [m["method"] for m in records[repo]["matches"]] == ["fingerprint"], repo
            assert records[repo]["fingerprint"], repo
        assert records["artist/watercolor"]["matches"] == []
        assert records["artist/watercolor"]["hashes"] is None  # never downloaded
        assert records["artist/ink-style"]["hashes"] is None
    finally:
        catalog.close()
