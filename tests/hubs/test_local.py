"""The local connector: plain folders, and Hugging Face caches with their commit and sha256."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from likenessguard.errors import HubNotFound, UsageError
from likenessguard.hubs.base import RepoQuery
from likenessguard.hubs.local import LocalConnector
from likenessguard.testing.hubserver import git_blob_oid, synthetic_lora

COMMIT = "a" * 40
OLD = "b" * 40


def make_cache(root: Path) -> bytes:
    """A cache as huggingface_hub writes it: blobs by hash, snapshots of symlinks, refs."""
    data = synthetic_lora(11)
    card = b"# cached card"
    repo = root / "hub" / "models--acme--cached"
    blobs = repo / "blobs"
    blobs.mkdir(parents=True)
    sha = hashlib.sha256(data).hexdigest()
    (blobs / sha).write_bytes(data)
    (blobs / git_blob_oid(card)).write_bytes(card)
    for commit in (COMMIT, OLD):
        snap = repo / "snapshots" / commit / "loras"
        snap.mkdir(parents=True)
        (snap / "x.safetensors").symlink_to(blobs / sha)
        (snap.parent / "README.md").symlink_to(blobs / git_blob_oid(card))
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(COMMIT)
    return data


def test_hf_cache_gives_hub_identities_and_stored_sha256(tmp_path: Path) -> None:
    data = make_cache(tmp_path)
    for root in (tmp_path, tmp_path / "hub"):
        local = LocalConnector(root)
        [repo] = list(local.list_repos(RepoQuery()))
        assert (repo.hub, repo.repo, repo.revision) == ("huggingface", "acme/cached", COMMIT)
        files = {f.path: f for f in local.list_files(repo)}
        lora = files["loras/x.safetensors"]
        assert lora.uri == f"hf://acme/cached@{COMMIT}/loras/x.safetensors"
        assert lora.sha256 == hashlib.sha256(data).hexdigest()
        assert files["README.md"].sha256 is None
        assert local.read_header(lora).read_at(0, 8) == data[:8]
        assert local.read_card(repo) == "# cached card"
        with local.download(lora) as got:
            assert got.hashes.sha256 == lora.sha256
        assert Path(str(lora.raw["file"])).exists()  # a local file is never deleted


def test_plain_folders_are_repos(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "one.safetensors").write_bytes(synthetic_lora(1))
    (tmp_path / "loose.safetensors").write_bytes(synthetic_lora(2))
    local = LocalConnector(tmp_path)
    repos = {r.repo: r for r in local.list_repos(RepoQuery())}
    assert set(repos) == {".", "a"}
    [f] = local.list_files(repos["a"])
    assert f.uri == (tmp_path / "a" / "one.safetensors").resolve().as_uri()
    assert f.sha256 is None
    assert [f.path for f in local.list_files(repos["."])] == ["loose.safetensors"]
    assert [r.repo for r in local.list_repos(RepoQuery(search="A"))] == ["a"]
    with pytest.raises(HubNotFound):
        local.repo("missing")
    with pytest.raises(UsageError, match="is not a folder"):
        LocalConnector(tmp_path / "nope")
