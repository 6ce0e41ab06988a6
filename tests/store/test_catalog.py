"""The catalog repository on SQLite and PostgreSQL: upserts never duplicate, first_seen sticks."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from dataclasses import replace

import pytest
from sqlalchemy import select

from likenessguard.artifacts.base import (
    Artifact,
    BaseFamily,
    Finding,
    Format,
    Identity,
    KeyScheme,
    Kind,
)
from likenessguard.banks.base import Match
from likenessguard.evidence.base import Evidence
from likenessguard.hashing.base import FileHashes
from likenessguard.store.catalog import Catalog, record_severity
from likenessguard.store.models.core import ArtifactRow
from likenessguard.store.records import Location, ScanRecord
from likenessguard.verdicts.base import Label, LabelResult, Severity, Verdict


def _hex(seed: int, what: str) -> str:
    return hashlib.sha256(f"{what}{seed}".encode()).hexdigest()


def _hashes(seed: int) -> FileHashes:
    sha = _hex(seed, "sha256")
    return FileHashes(
        sha256=sha,
        autov1=None,
        autov2=sha[:10],
        autov3=_hex(seed, "autov3"),
        blake3=_hex(seed, "blake3"),
        crc32="0a0b0c0d",
    )


def _record(
    name: str,
    *,
    seed: int = 1,
    verdict: Verdict | None = None,
    findings: tuple[Finding, ...] = (),
    matches: tuple[Match, ...] = (),
    errors: tuple[str, ...] = (),
) -> ScanRecord:
    path = f"/models/{name}"
    artifact = Artifact(
        path=path,
        size=1000 + seed,
        format=Format.SAFETENSORS,
        identity=Identity(
            kind=Kind.LORA,
            base_family=BaseFamily.SDXL,
            key_scheme=KeyScheme.KOHYA,
            rank=8,
            alpha=4.0,
            modules=10,
            dtype="F16",
        ),
        metadata={"ss_output_name": name},
        decoded={"ss_output_name": name},
        findings=findings,
        errors=errors,
    )
    return ScanRecord(
        path=path,
        size=1000 + seed,
        location=Location(uri=f"file://{path}"),
        artifact=artifact,
        hashes=_hashes(seed),
        verdict=verdict,
        matches=matches,
    )


@pytest.fixture
def catalog(catalog_url: str) -> Iterator[Catalog]:
    cat = Catalog.open(catalog_url)
    yield cat
    cat.close()


def test_upsert_by_uri_never_duplicates_and_keeps_first_seen(catalog: Catalog) -> None:
    rec = _record("a.safetensors")
    assert catalog.upsert([(rec, (1001, 5, 7))]) == 1
    with catalog.engine.connect() as conn:
        first = conn.execute(select(ArtifactRow.first_seen, ArtifactRow.last_scanned)).one()
    time.sleep(0.01)
    changed = _record("a.safetensors", seed=2)
    catalog.upsert([(changed, (1002, 6, 7))])
    with catalog.engine.connect() as conn:
        rows = conn.execute(
            select(ArtifactRow.first_seen, ArtifactRow.last_scanned, ArtifactRow.sha256)
        ).all()
    assert len(rows) == 1
    assert rows[0].first_seen == first.first_seen
    assert rows[0].last_scanned > first.last_scanned
    assert rows[0].sha256 == _hex(2, "sha256")
    assert catalog.get("file:///models/a.safetensors") == changed.to_json()


def test_records_with_nan_and_non_ascii_metadata_store_on_every_backend(catalog: Catalog) -> None:
    # Python's json.loads accepts NaN inside kohya's JSON-in-string metadata, and
    # json.dumps would write it back as NaN, which is not JSON: PostgreSQL refused
    # such a record. The catalog writes null instead, and keeps text as written.
    rec = _record("zoë.safetensors")
    assert rec.artifact is not None
    artifact = replace(
        rec.artifact,
        decoded={"ss_output_name": "zoë", "ss_network_args": {"dropout": float("nan")}},
    )
    catalog.upsert([(replace(rec, artifact=artifact), None)])
    stored = catalog.get("file:///models/zoë.safetensors")
    assert stored is not None
    assert stored["metadata"]["ss_output_name"] == "zoë"
    assert stored["metadata"]["ss_network_args"] == {"dropout": None}


def test_same_uri_twice_in_one_batch_keeps_the_last(catalog: Catalog) -> None:
    catalog.upsert([(_record("a", seed=1), None), (_record("a", seed=3), None)])
    assert catalog.count() == 1
    stored = catalog.get("file:///models/a")
    assert stored is not None
    assert stored["hashes"]["sha256"] == _hex(3, "sha256")


def test_stat_keys_drive_unchanged(catalog: Catalog) -> None:
    catalog.upsert([(_record("dir/a"), (10, 20, 30)), (_record("dir/b"), None)])
    assert catalog.unchanged("file:///models/dir/a", 10, 20, 30)
    assert not catalog.unchanged("file:///models/dir/a", 10, 21, 30)
    assert not catalog.unchanged("file:///models/dir/b", 1001, None, None)
    stats = catalog.stats_under("file:///models/dir/")
    assert set(stats) == {"file:///models/dir/a", "file:///models/dir/b"}
    assert stats["file:///models/dir/a"].hashed
    # LIKE wildcards in a prefix are literal characters, not patterns.
    assert catalog.stats_under("file:///models/d_r/") == {}


def test_writer_batches_and_flushes_on_exit(catalog: Catalog) -> None:
    with catalog.writer(batch_size=3, max_delay=60) as writer:
        for i in range(5):
            writer.add(_record(f"f{i}", seed=i), (i, i, i))
        assert catalog.count() == 3  # one batch committed, two pending
    assert catalog.count() == 5
    assert writer.written == 5


def test_writer_deletes_vanished_members_in_the_same_transaction(catalog: Catalog) -> None:
    catalog.upsert([(_record("z.zip#one"), None), (_record("z.zip#two"), None)])
    with catalog.writer() as writer:
        writer.add(_record("z.zip#one"), None, delete_uris=["file:///models/z.zip#two"])
    assert set(catalog.stats_under("file:///models/z.zip")) == {"file:///models/z.zip#one"}


def test_effective_severity_filters_and_counts(catalog: Catalog) -> None:
    person = Verdict(
        Severity.MEDIUM,
        {
            Label.REAL_PERSON: LabelResult(
                0.9, True, (Evidence("file-name", "name", "Jane Roe", "name"),)
            )
        },
        subject="jane-roe",
    )
    pickle = Finding("unsafe-pickle", "imports os.system", "high")
    bank = Match("banned", {"id": 1, "name": "x"}, "sha256")
    allow = Match("allow", {"id": 2}, "sha256", negative=True)
    catalog.upsert(
        [
            (_record("plain", seed=1), None),
            (_record("person", seed=2, verdict=person), None),
            (_record("pickle", seed=3, findings=(pickle,)), None),
            (_record("copy", seed=4, matches=(bank,)), None),
            (_record("allowed", seed=5, matches=(allow,)), None),
            (_record("broken", seed=6, errors=("truncated header",)), None),
        ]
    )
    counts = catalog.count_by_severity()
    assert counts[Severity.NONE] == 3
    assert counts[Severity.MEDIUM] == 1
    assert counts[Severity.HIGH] == 1
    assert counts[Severity.CRITICAL] == 1
    top = [r["path"] for r in catalog.iter_records(min_severity=Severity.MEDIUM)]
    assert top == ["/models/pickle", "/models/copy", "/models/person"]
    errored = [r["path"] for r in catalog.iter_records(with_errors=True)]
    assert errored == ["/models/broken"]
    assert [r["path"] for r in catalog.iter_records(order="uri", limit=2)] == [
        "/models/allowed",
        "/models/broken",
    ]
    with catalog.engine.connect() as conn:
        subject = conn.execute(
            select(ArtifactRow.subject, ArtifactRow.score).where(
                ArtifactRow.uri == "file:///models/person"
            )
        ).one()
    assert subject.subject == "jane-roe"
    assert subject.score == pytest.approx(0.9)


def test_find_by_hash_accepts_prefixes_and_reversed_crc(catalog: Catalog) -> None:
    catalog.upsert([(_record("a", seed=7), None), (_record("b", seed=8), None)])
    sha = _hex(7, "sha256").upper()
    assert [r["path"] for r in catalog.find_by_hash("sha256", sha)] == ["/models/a"]
    autov3 = _hex(8, "autov3")[:12]
    assert [r["path"] for r in catalog.find_by_hash("autov3", autov3)] == ["/models/b"]
    assert len(catalog.find_by_hash("crc32", "0d0c0b0a")) == 2
    with pytest.raises(ValueError, match="unknown hash"):
        catalog.find_by_hash("md5", "00")


def test_delete_missing_removes_only_unseen_rows(catalog: Catalog) -> None:
    catalog.upsert([(_record(f"d/{n}"), None) for n in "abc"])
    removed = catalog.delete_missing("file:///models/d/", {"file:///models/d/a"})
    assert removed == 2
    assert catalog.count() == 1


def test_record_severity_of_plain_json() -> None:
    assert record_severity({}) == Severity.NONE
    assert record_severity({"verdict": {"severity": "low"}}) == Severity.LOW
    assert record_severity({"findings": [{"code": "unsafe-pickle"}]}) == Severity.CRITICAL
    assert record_severity({"matches": [{"bank": "b", "negative": True}]}) == Severity.NONE
