"""The Hugging Face connector end to end: the real huggingface_hub client against the local Hub."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import timedelta

import pytest

from likenessguard.artifacts.safetensors import parse_safetensors_header
from likenessguard.errors import HubAuthError, HubError, HubNotFound
from likenessguard.hubs.base import HEADER_PREFETCH, RepoQuery
from likenessguard.hubs.http import Politeness
from likenessguard.hubs.huggingface import HuggingFaceConnector
from likenessguard.testing.hubserver import HubServer, synthetic_lora

FAST = Politeness(rate=0, concurrency=8, backoff=0.01, max_backoff=0.05)


_open: list[HuggingFaceConnector] = []


@pytest.fixture(autouse=True)
def _close_connectors() -> Iterator[None]:
    yield
    while _open:
        _open.pop().close()


def connector(hub: HubServer, **kwargs: object) -> HuggingFaceConnector:
    conn = HuggingFaceConnector(hub.url, policy=FAST, **kwargs)  # type: ignore[arg-type]
    _open.append(conn)
    return conn


def test_listing_follows_pagination_newest_first_with_pinned_commits(hub: HubServer) -> None:
    hub.populate(50)
    hf = connector(hub)
    repos = list(hf.list_repos(RepoQuery()))
    assert len(repos) == 50
    assert hub.stats.requests["models"] == 8  # 7 per page
    dates = [r.last_modified for r in repos]
    assert dates == sorted(dates, reverse=True)
    for r in repos:
        assert r.revision == hub.repos[r.repo].head.sha
        assert r.hub == "huggingface"
        assert r.author == r.repo.split("/")[0]


def test_listing_filters(hub: HubServer) -> None:
    hub.populate(20)
    hf = connector(hub)
    assert {r.repo for r in hf.list_repos(RepoQuery(author="author2"))} == {
        f"author2/lora-{i:05d}" for i in (2, 7, 12, 17)
    }
    assert [r.repo for r in hf.list_repos(RepoQuery(search="lora-0001"))] == [
        f"author{i % 5}/lora-{i:05d}" for i in range(19, 9, -1)
    ]
    assert len(list(hf.list_repos(RepoQuery(limit=3)))) == 3
    cut = hub.repos["author0/lora-00015"].head.date
    recent = list(hf.list_repos(RepoQuery(since=cut)))
    assert [r.repo for r in recent][-1] == "author0/lora-00015"
    assert all(r.last_modified is not None and r.last_modified >= cut for r in recent)
    assert not list(hf.list_repos(RepoQuery(since=cut + timedelta(days=1))))


def test_tree_gives_lfs_sha256_and_sizes_without_content(hub: HubServer) -> None:
    data = synthetic_lora(1)
    sha = hub.add_repo("acme/one", {"README.md": b"# one", "sub/one.safetensors": data})
    hf = connector(hub)
    files = {f.path: f for f in hf.list_files(hf.repo("acme/one"))}
    lora = files["sub/one.safetensors"]
    assert lora.sha256 == hashlib.sha256(data).hexdigest()
    assert lora.size == len(data)
    assert lora.uri == f"hf://acme/one@{sha}/sub/one.safetensors"
    assert files["README.md"].sha256 is None  # not in LFS: the Hub stores no sha256
    assert hub.stats.content_bytes == 0


def _lora_with_header(target_header: int) -> bytes:
    pad = "x" * max(0, target_header - 12_000)
    return synthetic_lora(3, rank=8, modules=16, metadata={"ss_tag_frequency": pad})


def test_header_of_a_big_file_costs_one_request_and_64_kib(hub: HubServer) -> None:
    data = _lora_with_header(0)
    hlen = int.from_bytes(data[:8], "little")
    assert 8 + hlen < HEADER_PREFETCH < len(data)
    hub.add_repo("acme/big", {"big.safetensors": data})
    hf = connector(hub)
    [f] = hf.list_files(hf.repo("acme/big"))
    hub.stats.reset()
    source = hf.read_header(f)
    artifact = parse_safetensors_header(source.read_at(0, 8 + hlen), source.size, f.uri)
    assert artifact.ok and artifact.identity.rank == 8
    assert hub.stats.file_requests["acme/big/big.safetensors"] == 1
    assert hub.stats.content_bytes == HEADER_PREFETCH


def test_header_over_64_kib_costs_two_requests_and_exactly_the_header(hub: HubServer) -> None:
    data = _lora_with_header(100_000)
    hlen = int.from_bytes(data[:8], "little")
    assert 8 + hlen > HEADER_PREFETCH
    hub.add_repo("acme/meta", {"meta.safetensors": data})
    hf = connector(hub)
    [f] = hf.list_files(hf.repo("acme/meta"))
    hub.stats.reset()
    source = hf.read_header(f)
    artifact = parse_safetensors_header(source.read_at(0, 8 + hlen), source.size, f.uri)
    assert artifact.ok
    assert len(artifact.metadata["ss_tag_frequency"]) > 80_000
    assert hub.stats.file_requests["acme/meta/meta.safetensors"] == 2
    assert hub.stats.content_bytes == 8 + hlen
    assert hub.stats.content_bytes <= 8 + hlen + 64 * 1024


def test_reads_stay_on_the_listed_commit_when_the_repo_changes(hub: HubServer) -> None:
    old = synthetic_lora(1)
    hub.add_repo("acme/moving", {"m.safetensors": old})
    hub.change_after_listing("acme/moving", {"m.safetensors": synthetic_lora(2)})
    hf = connector(hub)
    [listed] = list(hf.list_repos(RepoQuery()))
    assert hub.repos["acme/moving"].head.sha != listed.revision  # it moved after listing
    [f] = hf.list_files(listed)
    assert f.sha256 == hashlib.sha256(old).hexdigest()
    assert hf.read_header(f).read_at(0, 16) == old[:16]


def test_faults_are_survived(hub: HubServer) -> None:
    data = synthetic_lora(5)
    hub.add_repo("acme/flaky", {"f.safetensors": data, "README.md": b"# flaky"})
    hub.inject("model", status=503)
    hub.inject("tree", status=429, retry_after=0)
    hub.inject("resolve", truncate=True)
    hf = connector(hub)
    repo = hf.repo("acme/flaky")
    files = {f.path: f for f in hf.list_files(repo)}
    assert hf.read_header(files["f.safetensors"]).read_at(0, 64) == data[:64]
    assert hf.read_card(repo) == "# flaky"
    assert hub.stats.faults == {"model": 1, "tree": 1, "resolve": 1}


def test_missing_private_and_unauthorised(hub: HubServer) -> None:
    hub.add_repo("acme/secret", {"README.md": b"#"}, private=True)
    hf = connector(hub)
    with pytest.raises(HubNotFound):
        hf.repo("acme/nope")
    with pytest.raises(HubNotFound):
        hf.repo("acme/secret")
    with HubServer(token="t0k") as locked:
        locked.add_repo("acme/a", {"README.md": b"#"})
        with pytest.raises(
            HubAuthError, match="Couldn't authenticate to Hugging Face: set HF_TOKEN"
        ):
            list(connector(locked).list_repos(RepoQuery()))
        good = HuggingFaceConnector(locked.url, "t0k", policy=FAST)
        _open.append(good)
        assert [r.repo for r in good.list_repos(RepoQuery())] == ["acme/a"]


def test_download_is_hashed_capped_and_deleted(hub: HubServer) -> None:
    data = synthetic_lora(7)
    hub.add_repo("acme/dl", {"dl.safetensors": data})
    hf = connector(hub)
    [f] = hf.list_files(hf.repo("acme/dl"))
    with hf.download(f) as got:
        assert got.path.read_bytes() == data
        assert got.hashes.sha256 == f.sha256
        assert got.hashes.autov3 is not None
        path = got.path
    assert not path.exists()
    small = connector(hub, max_download=len(data) - 1)
    hub.stats.reset()
    with pytest.raises(HubError, match="over the download cap"), small.download(f):
        pass
    assert hub.stats.content_bytes == 0


def test_a_listing_that_breaks_midway_raises_instead_of_ending_early(hub: HubServer) -> None:
    hub.populate(20)
    hf = connector(hub)
    listed = []
    with pytest.raises(HubError, match="answered 400 for"):
        for repo in hf.list_repos(RepoQuery()):
            listed.append(repo.repo)
            if len(listed) == 7:
                # A failed page ends the listing with an error, never silently.
                hub.inject("models", status=400, times=1)
    assert len(listed) == 7
