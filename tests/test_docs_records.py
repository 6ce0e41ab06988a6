"""docs/records.md checks itself: every marked key table equals the keys the code writes.

A table preceded by ``<!-- keys: NAME -->`` documents the JSON object ``NAME``;
``PRODUCERS`` says how to get that object's real keys from the code. A marker
without a producer, a producer without a table, and a table whose keys differ
from the code's (in order) all fail, so the docs cannot drift from the output.
To document new keys: add a marked table in your section and a producer here.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

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
from likenessguard.store.records import Location, ScanRecord
from likenessguard.testing.demo import BANNED_COLUMNS, FileTruth, RepoTruth
from likenessguard.testing.sidecars import listing_record
from likenessguard.verdicts.base import Label, LabelResult, Severity, Verdict
from tests.docs_tables import key_tables

DOCS = Path(__file__).resolve().parents[1] / "docs" / "records.md"


def full_record() -> dict[str, Any]:
    """A scan record with every optional part present (core keys only, no analyzer extras)."""
    evidence = Evidence("safetensors-metadata", "ss_output_name", "Jane Roe", "name")
    verdict = Verdict(
        Severity.HIGH, {Label.REAL_PERSON: LabelResult(0.9, True, (evidence,))}, subject="s1"
    )
    artifact = Artifact(
        path="/m/a.safetensors",
        size=10,
        format=Format.SAFETENSORS,
        identity=Identity(Kind.LORA, BaseFamily.SDXL, KeyScheme.KOHYA, 8, 4.0, 10, "F16"),
        findings=(Finding("unsafe-pickle", "imports os.system"),),
    )
    return ScanRecord(
        path="/m/a.safetensors",
        size=10,
        location=Location("file:///m/a.safetensors"),
        artifact=artifact,
        hashes=FileHashes("a" * 64, None, "a" * 10, None, "b" * 64, "00000000"),
        verdict=verdict,
        matches=(Match("bank", {"id": 1}, "sha256", negative=True),),
    ).to_json()


def demo_truth() -> dict[str, Any]:
    """A demo-hub manifest line with one file (built without building the hub)."""
    repo = RepoTruth("a/b", "copy", real_person=True, subject="Jane Roe")
    repo.files.append(FileTruth("a/b/x.safetensors", "safetensors", "lora", "sdxl", "kohya"))
    return repo.to_json()


def demo_listing() -> dict[str, Any]:
    """A demo-hub listing record without files (``build_demo_hub`` adds ``repo``)."""
    return listing_record(model_id=1, model_type="LORA", name="x", poi=False, nsfw=False)


PRODUCERS: dict[str, Callable[[], list[str]]] = {
    "scan-record": lambda: list(full_record()),
    "scan-record.location": lambda: list(full_record()["location"]),
    "scan-record.verdict": lambda: list(full_record()["verdict"]),
    "scan-record.verdict.label": lambda: list(full_record()["verdict"]["labels"]["real_person"]),
    "scan-record.evidence": lambda: list(
        full_record()["verdict"]["labels"]["real_person"]["evidence"][0]
    ),
    "scan-record.match": lambda: list(full_record()["matches"][0]),
    "scan-record.finding": lambda: list(full_record()["findings"][0]),
    "demo-manifest": lambda: list(demo_truth()),
    "demo-manifest.labels": lambda: list(demo_truth()["labels"]),
    "demo-manifest.file": lambda: list(demo_truth()["files"][0]),
    "demo-banned-csv": lambda: list(BANNED_COLUMNS),
    "demo-listing": lambda: [*demo_listing(), "repo"],
    "demo-listing.version": lambda: list(demo_listing()["versions"][0]),
}


def documented_tables(text: str) -> dict[str, list[str]]:
    """Marker name -> the first-column keys of the table right after it."""
    return key_tables(text, "keys", "docs/records.md")


def test_every_marked_table_has_a_producer_and_back() -> None:
    tables = documented_tables(DOCS.read_text(encoding="utf-8"))
    unregistered = sorted(set(tables) - set(PRODUCERS))
    assert not unregistered, (
        f"docs/records.md documents {unregistered} but tests/test_docs_records.py "
        "has no producer for them: add one to PRODUCERS"
    )
    undocumented = sorted(set(PRODUCERS) - set(tables))
    assert not undocumented, f"docs/records.md lacks a marked table for {undocumented}"


@pytest.mark.parametrize("name", sorted(PRODUCERS))
def test_documented_keys_equal_the_written_keys(name: str) -> None:
    documented = documented_tables(DOCS.read_text(encoding="utf-8")).get(name, [])
    assert documented == PRODUCERS[name](), f"docs/records.md table {name!r} drifted from the code"


def test_the_checker_notices_drift() -> None:
    text = "<!-- keys: scan-record.finding -->\n| key |\n|---|\n| `code` |\n| `severity` |\n"
    assert documented_tables(text) == {"scan-record.finding": ["code", "severity"]}
    assert documented_tables(text)["scan-record.finding"] != PRODUCERS["scan-record.finding"]()
