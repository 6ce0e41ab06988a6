"""Bank persistence, rematch and mirrors on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Engine, select

from likenessguard.artifacts.base import Artifact, Format
from likenessguard.banks.base import BankEntry, Match
from likenessguard.errors import BankError
from likenessguard.hashing.base import FileHashes
from likenessguard.hashing.fingerprint import DIM, Fingerprint
from likenessguard.pipeline.match import MirrorIndex, copies_of, find_mirrors, rematch
from likenessguard.store.banks import (
    add_entries,
    artifacts_matching,
    create_bank,
    delete_bank,
    get_bank,
    list_banks,
    load_fingerprints,
    matches_of,
    set_disabled,
)
from likenessguard.store.catalog import Catalog
from likenessguard.store.db import open_catalog
from likenessguard.store.models.banks import FingerprintRow
from likenessguard.store.models.core import ArtifactRow
from likenessguard.store.records import Location, ScanRecord

SHA = ["%064x" % (i * 7919 + 1) for i in range(10)]


def _hashes(i: int) -> FileHashes:
    return FileHashes(
        sha256=SHA[i],
        autov1=None,
        autov2=SHA[i][:10],
        autov3="%064x" % (i + 500),
        blake3="%064x" % (i + 900),
        crc32="%08x" % (i + 17),
    )


def _fp(seed: int, noise: float = 0.0, base: int | None = None) -> Fingerprint:
    rng = np.random.default_rng(seed if base is None else base)
    v = rng.standard_normal(DIM).astype(np.float32)
    if noise:
        v = v + noise * np.random.default_rng(seed + 1000).standard_normal(DIM).astype(np.float32)
    return Fingerprint(
        kind="adapter", modules=10, vector=(v / np.linalg.norm(v)).astype(np.float32)
    )


def _store(
    catalog: Catalog,
    uri: str,
    i: int,
    fp: Fingerprint | None,
    hub: str = "local",
    *,
    fmt: Format = Format.SAFETENSORS,
    errors: tuple[str, ...] = (),
    hashes: FileHashes | None = None,
    matches: tuple[Match, ...] = (),
) -> None:
    name = uri.rsplit("/", 1)[-1]
    rec = ScanRecord(
        path=name,
        size=100,
        location=Location(uri=uri, hub=hub, repo="org/" + uri[-3:] if hub != "local" else None),
        artifact=Artifact(path=name, size=100, format=fmt, errors=errors),
        hashes=hashes or _hashes(i),
        fingerprint=fp.to_text() if fp else None,
        matches=matches,
    )
    catalog.upsert([(rec, None)])


@pytest.fixture
def engine(catalog_url: str) -> Engine:
    eng = open_catalog(catalog_url)
    yield eng
    eng.dispose()


def test_bank_lifecycle_merges_duplicates_and_disables(engine: Engine) -> None:
    create_bank(engine, "removed", description="hub takedowns")
    with pytest.raises(BankError, match="already exists"):
        create_bank(engine, "removed")
    with pytest.raises(BankError, match="not allowed"):
        create_bank(engine, "bad name!")
    first = add_entries(
        engine,
        "removed",
        [BankEntry(name="Jane Roe", sha256=SHA[0]), BankEntry(sha256=SHA[0], source_url="u")],
        added_by="tester",
    )
    assert len(first.added) == 1 and first.merged == 1
    again = add_entries(engine, "removed", [BankEntry(sha256=SHA[0], reason="likeness")])
    assert again.added == () and again.merged == 1 and len(again.updated) == 1
    bank = get_bank(engine, "removed")
    (entry,) = bank.entries
    assert (entry.name, entry.source_url, entry.reason, entry.added_by) == (
        "Jane Roe",
        "u",
        "likeness",
        "tester",
    )
    assert entry.added_at is not None and entry.added_at.tzinfo is not None
    add_entries(engine, "removed", [BankEntry(crc32="0d4a1185")])
    assert set_disabled(engine, "removed", "85114a0d", True)
    (summary,) = list_banks(engine)
    assert (summary.entries, summary.disabled) == (2, 1)
    with pytest.raises(BankError, match="no entry of bank"):
        set_disabled(engine, "removed", "f" * 64, True)
    with pytest.raises(BankError, match="no bank named 'nope'"):
        get_bank(engine, "nope")
    assert delete_bank(engine, "removed") == 2
    assert list_banks(engine) == []


def test_rematch_catches_an_old_upload_when_a_ban_is_added(engine: Engine) -> None:
    catalog = Catalog(engine)
    original = _fp(1)
    _store(catalog, "file:///old/upload.safetensors", 0, None)
    _store(
        catalog,
        "hf://org/copy@abc/LORA.safetensors",
        1,
        _fp(2, noise=0.3, base=1),
        hub="huggingface",
    )
    _store(catalog, "file:///unrelated.safetensors", 2, _fp(3))
    # Writing the records stored their fingerprints: rematch has none left to store.
    assert len(load_fingerprints(engine)) == 2
    create_bank(engine, "bans")
    empty = rematch(engine, ["bans"])
    assert empty.matched == 0 and empty.fingerprints_stored == 0
    add_entries(
        engine,
        "bans",
        [BankEntry(name="Jane Roe", sha256=SHA[0].upper(), fingerprint=original.to_text())],
    )
    report = rematch(engine, ["bans"])
    assert report.artifacts == 3 and report.matched == 2 and report.changed == 2
    assert report.fingerprints_stored == 0 and len(load_fingerprints(engine)) == 2
    by_uri = {r["location"]["uri"]: r for r in catalog.iter_records(order="uri")}
    old = by_uri["file:///old/upload.safetensors"]
    assert [m["method"] for m in old["matches"]] == ["sha256"]
    assert old["matches"][0]["entry"]["name"] == "Jane Roe"
    copy = by_uri["hf://org/copy@abc/LORA.safetensors"]
    assert copy["matches"][0]["method"] == "fingerprint"
    assert 0.5 < copy["matches"][0]["similarity"] < 1.0
    assert by_uri["file:///unrelated.safetensors"]["matches"] == []
    assert len(artifacts_matching(engine, "bans")) == 2
    # Nothing changed: a second rematch rewrites nothing.
    assert rematch(engine, ["bans"]).changed == 0
    # A negative bank suppresses the known false positive.
    create_bank(engine, "allow", negative=True)
    add_entries(engine, "allow", [BankEntry(sha256=SHA[0], reason="licensed")])
    rematch(engine)
    old = next(
        r for r in list(catalog.iter_records()) if r["location"]["uri"].startswith("file:///old")
    )
    assert [m.get("negative") for m in old["matches"]] == [True]
    # Disabling the ban entry removes the remaining match.
    set_disabled(engine, "bans", SHA[0], True)
    rematch(engine, ["bans"])
    ids = [r for r in list(catalog.iter_records()) if r["location"]["uri"].startswith("hf://")]
    assert ids[0]["matches"] == []


def test_mirrors_cluster_copies_earliest_first(engine: Engine, tmp_path: Path) -> None:
    catalog = Catalog(engine)
    _store(catalog, "file:///a/first.safetensors", 4, _fp(10))
    _store(catalog, "hf://x/mirror@1/m.safetensors", 4, None, hub="huggingface")  # same sha256
    _store(
        catalog,
        "civitai://model/1/version/2/c.safetensors",
        5,
        _fp(11, noise=0.2, base=10),
        hub="civitai",
    )
    _store(catalog, "file:///b/alone.safetensors", 6, _fp(12))
    (cluster,) = find_mirrors(engine)
    assert [m.uri for m in cluster.members] == [
        "file:///a/first.safetensors",
        "hf://x/mirror@1/m.safetensors",
        "civitai://model/1/version/2/c.safetensors",
    ]
    assert cluster.methods == ("autov3", "fingerprint", "sha256")
    assert cluster.members[2].hub == "civitai" and cluster.members[2].similarity is not None
    assert find_mirrors(engine, min_similarity=0.999)[0].methods == ("autov3", "sha256")


def test_matches_table_rows_follow_record_matches(engine: Engine) -> None:
    catalog = Catalog(engine)
    _store(catalog, "file:///one.safetensors", 7, None)
    create_bank(engine, "b1")
    add_entries(engine, "b1", [BankEntry(autov2=SHA[7][:10])])
    rematch(engine)
    (row,) = [r for r in catalog.iter_records()]
    aid = artifacts_matching(engine, "b1")[0]
    assert matches_of(engine, aid) == [
        {
            "bank": "b1",
            "entry_id": row["matches"][0]["entry"]["id"],
            "method": "autov2",
            "similarity": 1.0,
            "negative": False,
        }
    ]
    assert row["matches"][0]["entry"]["autov2"] == SHA[7][:10]


def _broken(catalog: Catalog, uri: str, tail: str, **kw: object) -> None:
    """A record of an upload whose header did not parse, with the AutoV3 the hasher gave it."""
    sha = hashlib.sha256(uri.encode()).hexdigest()
    h = FileHashes(sha, None, sha[:10], tail, sha[::-1], "00000000")
    _store(catalog, uri, 0, None, hashes=h, **kw)  # type: ignore[arg-type]


def test_autov3_of_broken_or_non_safetensors_records_links_nothing(engine: Engine) -> None:
    catalog = Catalog(engine)
    tail = f"{0xB0605:064x}"
    bad = ("header of x.safetensors is not valid JSON: the file is corrupt or hostile",)
    _broken(catalog, "file:///up/bad_header.safetensors", tail, errors=bad)
    _broken(catalog, "file:///up/weird_metadata.safetensors", tail, errors=bad)
    _broken(catalog, "file:///up/model.ckpt", tail, fmt=Format.PICKLE)
    _broken(catalog, "file:///up/valid.safetensors", tail)
    # Same bytes are the same upload, broken or not: sha256 still clusters.
    _store(catalog, "file:///a/broken.safetensors", 8, None, errors=bad)
    _store(catalog, "hf://x/again@1/broken.safetensors", 8, None, hub="huggingface", errors=bad)
    (cluster,) = find_mirrors(engine)
    assert cluster.methods == ("sha256",)
    assert {m.uri for m in cluster.members} == {
        "file:///a/broken.safetensors",
        "hf://x/again@1/broken.safetensors",
    }
    # A bank entry holding that AutoV3 matches the one file whose header parsed.
    create_bank(engine, "bans")
    add_entries(engine, "bans", [BankEntry(name="tail", autov3=tail)])
    rematch(engine, ["bans"])
    by_uri = {r["location"]["uri"]: r for r in catalog.iter_records(order="uri")}
    assert [m["method"] for m in by_uri["file:///up/valid.safetensors"]["matches"]] == ["autov3"]
    for uri in ("bad_header.safetensors", "weird_metadata.safetensors", "model.ckpt"):
        assert by_uri["file:///up/" + uri]["matches"] == []
    assert len(artifacts_matching(engine, "bans")) == 1


def test_writing_a_record_writes_its_matches_and_fingerprint_in_the_same_transaction(
    engine: Engine,
) -> None:
    """No reconcile pass: what a record derives is in its tables as soon as it is committed."""
    catalog = Catalog(engine)
    create_bank(engine, "bans")
    (entry_id,) = add_entries(engine, "bans", [BankEntry(sha256="7".zfill(64))]).added
    hit = Match("bans", {"id": entry_id}, "sha256")
    gone = Match("bans", {"id": entry_id + 999}, "sha256")  # deleted while the scan ran
    _store(catalog, "file:///up/a.safetensors", 0, _fp(60), matches=(hit, gone))
    assert artifacts_matching(engine, "bans") != []
    with engine.connect() as conn:
        (aid,) = conn.execute(select(ArtifactRow.id)).scalars().all()
        assert conn.execute(select(FingerprintRow.artifact_id)).scalars().all() == [aid]
    # Rescanned without the match or a fingerprint (other weights, --no-hash):
    # both rows go with the record that no longer says so.
    _store(catalog, "file:///up/a.safetensors", 0, None)
    assert artifacts_matching(engine, "bans") == []
    with engine.connect() as conn:
        assert conn.execute(select(FingerprintRow.artifact_id)).scalars().all() == []


def test_copies_of_one_artifact_are_its_mirrors_cluster(engine: Engine) -> None:
    """The case page's per-artifact walk against ``find_mirrors``, its brute-force twin."""
    catalog = Catalog(engine)
    bad = ("header of x.safetensors is not valid JSON: the file is corrupt or hostile",)
    # Cluster 1: a chain only transitivity joins: sha256 -> fingerprint -> autov3.
    _store(catalog, "file:///c1/a.safetensors", 0, _fp(20))
    _store(catalog, "hf://x/a@1/a.safetensors", 0, None, hub="huggingface")
    _store(catalog, "file:///c1/b.safetensors", 1, _fp(21, noise=0.3, base=20))
    b_autov3 = _hashes(1).autov3
    assert b_autov3 is not None
    same_tensors = FileHashes("e" * 64, None, "e" * 10, b_autov3, "f" * 64, "00000001")
    _store(catalog, "file:///c1/c.safetensors", 9, None, hashes=same_tensors)
    # Cluster 2: two near-identical fingerprints. Loners: an unrelated model and
    # a broken upload sharing cluster 1's AutoV3 (which links nothing).
    _store(catalog, "file:///c2/d.safetensors", 2, _fp(30))
    _store(catalog, "file:///c2/e.safetensors", 3, _fp(31, noise=0.05, base=30))
    _store(catalog, "file:///x/alone.safetensors", 4, _fp(40))
    tail = FileHashes("d" * 64, None, "d" * 10, b_autov3, "c" * 64, "00000002")
    _store(catalog, "file:///x/broken.safetensors", 5, None, hashes=tail, errors=bad)
    clusters = find_mirrors(engine)  # also stores the records' fingerprints
    assert sorted(len(c.members) for c in clusters) == [2, 4]
    index = MirrorIndex(engine)
    with engine.connect() as conn:
        ids = dict(conn.execute(select(ArtifactRow.uri, ArtifactRow.id)).all())
    for uri, aid in ids.items():
        cluster = next((c for c in clusters if uri in {m.uri for m in c.members}), None)
        copies = copies_of(engine, aid, index=index)
        expected = [m.uri for m in cluster.members if m.uri != uri] if cluster else []
        assert [c.uri for c in copies] == expected, uri  # same members, earliest first
        if cluster:
            want = {m.id: set(cluster.methods) for m in cluster.members}
            assert all(set(c.methods) <= want[c.id] for c in copies)
    first = ids["file:///c1/a.safetensors"]
    by_uri = {c.uri: c for c in copies_of(engine, first, index=index)}
    assert by_uri["hf://x/a@1/a.safetensors"].method == "sha256"
    assert by_uri["hf://x/a@1/a.safetensors"].similarity is None  # no stored fingerprint
    # Per member, the links it takes part in, as ``mirrors`` reports them.
    assert by_uri["file:///c1/b.safetensors"].methods == ("autov3", "fingerprint")
    assert 0.5 < (by_uri["file:///c1/b.safetensors"].similarity or 0) < 1.0
    assert by_uri["file:///c1/c.safetensors"].methods == ("autov3",)
    assert copies_of(engine, first, index=index, limit=1) != []
    assert len(copies_of(engine, first, index=index, limit=1)) == 1


def test_mirror_index_follows_new_replaced_and_deleted_fingerprints(engine: Engine) -> None:
    catalog = Catalog(engine)
    _store(catalog, "file:///m/a.safetensors", 0, _fp(50))
    find_mirrors(engine)
    index = MirrorIndex(engine)
    with engine.connect() as conn:
        a = conn.execute(select(ArtifactRow.id)).scalar_one()
    assert copies_of(engine, a, index=index) == []
    # A scan adds a near copy: indexing its record stores the fingerprint, the
    # long-lived index picks it up without a rebuild.
    _store(catalog, "file:///m/b.safetensors", 1, _fp(51, noise=0.1, base=50))
    assert [c.uri for c in copies_of(engine, a, index=index)] == ["file:///m/b.safetensors"]
    # Rescanned with other weights: the replaced fingerprint no longer links.
    _store(catalog, "file:///m/b.safetensors", 1, _fp(52))
    assert copies_of(engine, a, index=index) == []
    _store(catalog, "file:///m/c.safetensors", 2, _fp(53, noise=0.1, base=50))
    assert [c.uri for c in copies_of(engine, a, index=index)] == ["file:///m/c.safetensors"]
    catalog.delete(["file:///m/c.safetensors"])
    assert copies_of(engine, a, index=index) == []
