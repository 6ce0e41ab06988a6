"""The Hubs section of docs/records.md checks itself against the keys the code writes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from likenessguard.hubs.civitai import to_listing
from likenessguard.pipeline.crawl import HubFactsAnalyzer, hub_target
from likenessguard.pipeline.queue import Accepted
from likenessguard.testing.hubserver import civitai_record
from tests.docs_tables import key_tables

DOCS = Path(__file__).resolve().parents[2] / "docs" / "records.md"


def _extra() -> list[str]:
    from likenessguard.artifacts.base import Artifact, Format
    from likenessguard.hubs.base import FileRef, RepoRef
    from likenessguard.pipeline.base import ScanContext
    from likenessguard.pipeline.crawl import ConnectorSpec

    repo = RepoRef("civitai", "7", "71")
    file = FileRef(repo, "71/a.safetensors", 1, "http://x", "civitai://model/7/version/71/a")
    target = hub_target(ConnectorSpec("civitai"), file, mode="listing", listing={"id": 7})
    context = ScanContext(target=target, known_hashes={"sha256": "ab"})
    result = HubFactsAnalyzer().analyze(
        Artifact("a", 1, Format.SAFETENSORS), None, target.location, context
    )
    return list(result.extra)


def _listing() -> dict[str, Any]:
    record, _ = civitai_record(7, "x", files={"a.safetensors": b"0" * 64}, prompts=["p"])
    return to_listing(record)


PRODUCERS: dict[str, Callable[[], list[str]]] = {
    "scan-record-extra": _extra,
    "hub-listing": lambda: list(_listing()),
    "hub-listing.versions": lambda: list(_listing()["versions"][0]),
    "webhook-answer": lambda: [
        *Accepted(True, False, 1).to_json(),
        *Accepted(False, reason="r").to_json(),
    ],
}


def tables() -> dict[str, list[str]]:
    return key_tables(DOCS.read_text(encoding="utf-8"), "hub-keys", str(DOCS))


def test_every_table_has_a_producer_and_back() -> None:
    assert set(tables()) == set(PRODUCERS)


@pytest.mark.parametrize("name", sorted(PRODUCERS))
def test_table_matches_the_code(name: str) -> None:
    documented = tables()[name]
    produced = list(dict.fromkeys(PRODUCERS[name]()))
    if name == "webhook-answer":
        assert documented == ["queued", "duplicate", "event_id", "reason"]
        assert set(produced) == set(documented)
    else:
        assert documented == produced
