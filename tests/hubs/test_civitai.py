"""The Civitai connector: cursor pagination, stored hashes, records in the shared listing shape."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from likenessguard.hashing.file_hashes import hash_bytes
from likenessguard.hubs.base import RepoQuery
from likenessguard.hubs.civitai import CivitaiConnector, file_hashes, strip_html, to_listing
from likenessguard.hubs.http import Politeness
from likenessguard.testing.hubserver import HubServer, civitai_record, synthetic_lora

SHARED = Path("/work/shared/data/civitai-2023-07-dev.jsonl")
FAST = Politeness(rate=0, concurrency=4, backoff=0.01, max_backoff=0.05)


@pytest.fixture
def civitai(hub: HubServer) -> Iterator[CivitaiConnector]:
    for i in range(1, 26):
        record, files = civitai_record(
            i,
            f"Watercolor style {i}",
            files={f"style{i}.safetensors": synthetic_lora(i)},
            tags=["style", "watercolor" if i % 2 else "ink"],
            description="<p>A <b>painting</b> style &amp; more</p>",
            creator="painter" if i % 3 == 0 else "someone",
            trained_words=[f"wcstyle{i}"],
            prompts=["a lighthouse, watercolor"],
            endpoint=hub.url,
        )
        hub.add_civitai_model(record, files)
    conn = CivitaiConnector(hub.url, policy=FAST, page_size=10)
    yield conn
    conn.close()


def test_pages_follow_the_cursor_newest_first(hub: HubServer, civitai: CivitaiConnector) -> None:
    pages = list(civitai.pages(RepoQuery(), None))
    ids = [int(r.repo) for refs, _ in pages for r in refs]
    assert ids == list(range(25, 0, -1))
    assert [len(refs) for refs, _ in pages] == [10, 10, 5]
    assert [c is None for _, c in pages] == [False, False, True]
    assert hub.stats.requests["civitai_models"] == len(pages)


def test_limit_filters_and_resume_from_a_cursor(hub: HubServer, civitai: CivitaiConnector) -> None:
    refs, cursor = next(iter(civitai.pages(RepoQuery(limit=10), None)))
    assert len(refs) == 10 and cursor is None  # the limit was reached on this page
    _, cursor = next(iter(civitai.pages(RepoQuery(), None)))
    resumed = [r.repo for refs, _ in civitai.pages(RepoQuery(), cursor) for r in refs]
    assert resumed == [str(i) for i in range(15, 0, -1)]
    by_user = {r.repo for r in civitai.list_repos(RepoQuery(author="painter"))}
    assert by_user == {str(i) for i in range(3, 26, 3)}
    assert {r.repo for r in civitai.list_repos(RepoQuery(tags=("ink",)))} == {
        str(i) for i in range(2, 26, 2)
    }
    assert [r.repo for r in civitai.list_repos(RepoQuery(search="style 7"))] == ["7"]


def test_files_carry_all_six_hashes_without_reading_content(
    hub: HubServer, civitai: CivitaiConnector
) -> None:
    repo = civitai.repo("4")
    [f] = civitai.list_files(repo)
    expected = hash_bytes(synthetic_lora(4))
    assert f.hashes == expected
    assert f.sha256 == expected.sha256
    assert f.uri == "civitai://model/4/version/41/style4.safetensors"
    assert f.size == len(synthetic_lora(4))
    assert hub.stats.content_bytes == 0
    with civitai.download(f) as got:
        assert got.hashes == expected


def test_by_hash_finds_the_version(civitai: CivitaiConnector) -> None:
    h = hash_bytes(synthetic_lora(9))
    for value in (h.sha256, h.autov2, h.blake3):
        found = civitai.by_hash(value)
        assert found is not None and found["modelId"] == 9
        assert found["model"]["name"] == "Watercolor style 9"
    assert civitai.by_hash("0" * 64) is None


def test_listing_has_the_shape_of_the_shared_records(civitai: CivitaiConnector) -> None:
    listing = to_listing(civitai.repo("5").raw)
    assert listing["description"] == "A painting style & more"
    assert listing["versions"][0]["trainedWords"] == ["wcstyle5"]
    assert listing["versions"][0]["images"] == [{"prompt": "a lighthouse, watercolor"}]
    hashes = listing["versions"][0]["files"][0]["hashes"]
    # AutoV1 is None under 2 MiB, and Civitai omits it then.
    assert set(hashes) == {"AutoV2", "SHA256", "CRC32", "BLAKE3", "AutoV3"}
    assert all(v == v.upper() for v in hashes.values())
    if SHARED.exists():
        with SHARED.open(encoding="utf-8") as fh:
            shared = json.loads(fh.readline())
        assert set(shared) <= set(listing)
        assert set(shared["versions"][0]) <= set(listing["versions"][0])
        assert set(shared["versions"][0]["files"][0]) <= set(listing["versions"][0]["files"][0])


def test_helpers() -> None:
    assert strip_html("<p>a&amp;b</p><br/>c") == "a&b c"
    assert file_hashes({"SHA256": "AB"}) is None
