"""Finding a newly protected person in records already in the catalog, and LoRAs by hash."""

from __future__ import annotations

from likenessguard.evidence.base import Evidence
from likenessguard.store.db import open_catalog
from likenessguard.store.registry import add_subject, records_by_hash, search_subject
from likenessguard.testing.catalog import add_artifact
from likenessguard.verdicts.judge import compact_evidence, judge_evidence


def _record(uri: str, file_name: str) -> dict[str, object]:
    ev = [Evidence("file-name", "file_name", file_name, "name")]
    return {"path": uri, "evidence": compact_evidence(ev), "verdict": judge_evidence(ev).to_json()}


def test_search_subject_uses_stored_evidence(catalog_url: str) -> None:
    engine = open_catalog(catalog_url)
    add_artifact(
        engine,
        uri="file:///a/m4ryM4jor_v1.safetensors",
        record=_record("a", "m4ryM4jor_v1.safetensors"),
    )
    add_artifact(
        engine, uri="file:///a/castle.safetensors", record=_record("b", "castle_style.safetensors")
    )
    add_artifact(
        engine, uri="file:///a/old.safetensors", record={"path": "old"}
    )  # scanned without evidence
    sid = add_subject(engine, name="Mary Major", source="takedown")
    hits = search_subject(engine, sid)
    assert [uri for uri, _ in hits] == ["file:///a/m4ryM4jor_v1.safetensors"]
    assert hits[0][1].subject == sid
    assert search_subject(engine, "subj_000000000000") == []
    engine.dispose()


def test_records_by_hash(catalog_url: str) -> None:
    engine = open_catalog(catalog_url)
    sha = "ab" * 32
    add_artifact(engine, uri="file:///x.safetensors", sha256=sha, autov2=sha[:10], autov3="cd" * 32)
    assert len(records_by_hash(engine, sha.upper())) == 1
    assert len(records_by_hash(engine, sha[:10])) == 1
    assert len(records_by_hash(engine, "cdcdcdcdcdcd")) == 1
    assert records_by_hash(engine, "ffffffffff") == []
    assert records_by_hash(engine, "abc") == []  # too short to be a hash prefix
    assert records_by_hash(engine, "not-a-hash!") == []
    engine.dispose()
