"""The scanner: incremental, identical across executors, unstoppable by bad files, pluggable."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from likenessguard.hashing.file_hashes import hash_file
from likenessguard.pipeline.base import Analyzer
from likenessguard.pipeline.executors.local import ProcessExecutor
from likenessguard.pipeline.scanner import Scanner
from likenessguard.store.catalog import Catalog
from likenessguard.testing import make_diffusers_lora_folder, make_lora, make_zip
from likenessguard.verdicts.base import Severity
from tests.pipeline.hostile import build_hostile
from tests.pipeline.workers import BrokenAnalyzer, NameAnalyzer


@pytest.fixture
def models(tmp_path: Path) -> Path:
    root = tmp_path / "models"
    for i in range(6):
        sub = root / ("sub" if i % 2 else "") / f"lora_{i}.safetensors"
        sub.parent.mkdir(parents=True, exist_ok=True)
        make_lora(sub, "sdxl" if i < 4 else "sd1", rank=2, modules=12, seed=i)
    (root / "README.md").write_text("not a model")
    return root


@pytest.fixture
def catalog(catalog_url: str) -> Iterator[Catalog]:
    """The scan's catalog, once on SQLite and once on PostgreSQL."""
    cat = Catalog.open(catalog_url)
    yield cat
    cat.close()


def _json_set(records: Any) -> set[str]:
    return {json.dumps(r, sort_keys=True) for r in records}


def test_scan_catalogs_every_model_with_hashes(models: Path, catalog: Catalog) -> None:
    scanner = Scanner(catalog)
    events = list(scanner.scan_paths([models]))
    assert len(events) == 6
    assert all(e.status == "scanned" for e in events)
    assert scanner.stats.scanned == 6
    assert scanner.stats.errored == 0
    assert catalog.count() == 6
    rec = catalog.get((models / "lora_0.safetensors").as_uri())
    assert rec is not None
    assert rec["kind"] == "lora"
    assert rec["base_family"] == "sdxl"
    assert rec["hashes"]["sha256"] and rec["hashes"]["autov3"]
    assert rec["metadata"]["ss_output_name"] == "lora_0"
    # What the scan yielded is exactly what the catalog stored.
    assert _json_set(e.record for e in events) == _json_set(catalog.iter_records(order="uri"))


def test_rescan_reads_only_the_touched_file(models: Path, catalog: Catalog) -> None:
    list(Scanner(catalog).scan_paths([models]))
    first_seen = catalog.get((models / "lora_2.safetensors").as_uri())
    again = Scanner(catalog)
    events = list(again.scan_paths([models]))
    assert {e.status for e in events} == {"skipped"}
    assert again.stats.skipped == 6
    assert again.stats.scanned == 0

    touched = models / "lora_2.safetensors"
    st = touched.stat()
    os.utime(touched, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    third = Scanner(catalog)
    events = list(third.scan_paths([models]))
    read = [e.record["path"] for e in events if e.status == "scanned"]
    assert read == [str(touched)]
    assert third.stats.skipped == 5
    assert catalog.count() == 6
    # The same scanner run again knows what it just wrote.
    assert {e.status for e in third.scan_paths([models])} == {"skipped"}
    assert catalog.get(touched.as_uri()) == first_seen  # same content, same record


def test_no_hash_scan_is_rehashed_later(models: Path, catalog: Catalog) -> None:
    quick = Scanner(catalog, hash_files=False)
    events = list(quick.scan_paths([models]))
    assert all(e.record["hashes"] is None for e in events)
    assert all(e.record["kind"] == "lora" for e in events)
    # Unchanged files scanned without hashes are re-read by a hashing scan...
    full = Scanner(catalog)
    assert {e.status for e in full.scan_paths([models])} == {"scanned"}
    # ...but a no-hash scan happily reuses hashed rows.
    assert {e.status for e in Scanner(catalog, hash_files=False).scan_paths([models])} == {
        "skipped"
    }


def test_jobs_do_not_change_results(models: Path, tmp_path: Path) -> None:
    serial = Catalog.open(f"sqlite:///{tmp_path / 'one.db'}")
    pooled = Catalog.open(f"sqlite:///{tmp_path / 'two.db'}")
    analyzers: list[Analyzer] = [NameAnalyzer({"lora_3"})]
    list(Scanner(serial, analyzers=analyzers).scan_paths([models]))
    with ProcessExecutor(2) as ex:
        list(Scanner(pooled, analyzers=analyzers, executor=ex).scan_paths([models]))
    one = _json_set(serial.iter_records(order="uri"))
    two = _json_set(pooled.iter_records(order="uri"))
    assert one == two
    assert len(one) == 6
    flagged = [r for r in pooled.iter_records(min_severity=Severity.MEDIUM)]
    assert [r["verdict"]["subject"] for r in flagged] == ["lora_3"]
    serial.close()
    pooled.close()


def test_analyzers_plug_in_and_a_failing_one_is_contained(models: Path) -> None:
    scanner = Scanner(None, analyzers=[NameAnalyzer({"lora_1"}), BrokenAnalyzer()])
    records = {Path(r.path).name: r for r in scanner.scan([p for p in _targets(models)])}
    assert records["lora_1.safetensors"].severity is Severity.MEDIUM
    assert records["lora_0.safetensors"].severity is Severity.NONE
    for record in records.values():
        assert record.to_json()["names_checked"] is True
        (error,) = record.all_errors()
        assert error.startswith("analyzer broken failed on ")
        assert error.endswith("ZeroDivisionError: division by zero")


def _targets(root: Path) -> list[Any]:
    from likenessguard.pipeline.walk import walk

    return list(walk([root]))


def test_hostile_files_each_give_one_error_record_and_the_scan_goes_on(
    tmp_path: Path, models: Path, catalog: Catalog
) -> None:
    marker = tmp_path / "pwned"
    bad = build_hostile(models / "hostile", marker)
    with ProcessExecutor(2) as ex:
        scanner = Scanner(catalog, executor=ex)
        events = list(scanner.scan_paths([models]))
    by_path = {}
    for e in events:
        by_path.setdefault(e.record["path"], []).append(e.record)
    for name, path in bad.items():
        records = by_path[str(path)]
        assert len(records) == 1, name
        (record,) = records
        if name == "evil.ckpt":
            assert [f["code"] for f in record["findings"]] == ["unsafe-pickle"]
        else:
            assert len(record["errors"]) == 1, (name, record["errors"])
            assert "\n" not in record["errors"][0]
    assert not marker.exists()
    good = [p for p in by_path if not p.startswith(str(models / "hostile"))]
    assert len(good) == 6
    assert all(not by_path[p][0]["errors"] for p in good)
    assert scanner.stats.scanned == 7  # six LoRAs and the (readable, flagged) pickle
    assert scanner.stats.errored == len(bad) - 1
    assert catalog.count() == 6 + len(bad)
    evil = catalog.get(bad["evil.ckpt"].as_uri())
    assert evil is not None
    assert catalog.count_by_severity()[Severity.CRITICAL] == 1


def test_archive_members_are_records_and_vanished_members_are_removed(
    tmp_path: Path, catalog: Catalog
) -> None:
    a = make_lora(tmp_path / "src" / "a.safetensors", rank=2, modules=8, seed=1)
    b = make_lora(tmp_path / "src" / "b.safetensors", rank=2, modules=8, seed=2)
    archive = make_zip(tmp_path / "pack" / "pack.zip", {"a.safetensors": a, "b.safetensors": b})
    list(Scanner(catalog).scan_paths([tmp_path / "pack"]))
    uris = set(catalog.stats_under(archive.as_uri()))
    assert uris == {archive.as_uri() + "#a.safetensors", archive.as_uri() + "#b.safetensors"}
    records = {r["member"]: r for r in catalog.iter_records()}
    assert sorted(records) == ["a.safetensors", "b.safetensors"]
    # A zipped copy of a banned LoRA must still match its sha256 and autov3.
    for name, source in (("a.safetensors", a), ("b.safetensors", b)):
        assert records[name]["hashes"] == hash_file(source).to_json()

    make_zip(archive, {"a.safetensors": a})
    st = archive.stat()
    os.utime(archive, ns=(st.st_atime_ns, st.st_mtime_ns + 2_000_000_000))
    list(Scanner(catalog).scan_paths([tmp_path / "pack"]))
    assert set(catalog.stats_under(archive.as_uri())) == {archive.as_uri() + "#a.safetensors"}


def test_missing_paths_are_reported_not_stored(tmp_path: Path, catalog: Catalog) -> None:
    scanner = Scanner(catalog)
    events = list(scanner.scan_paths([tmp_path / "nowhere"]))
    assert [e.status for e in events] == ["failed"]
    assert scanner.stats.missing == [str(tmp_path / "nowhere")]
    assert catalog.count() == 0


def test_adapter_folders_are_one_record_and_always_reread(tmp_path: Path, catalog: Catalog) -> None:
    root = tmp_path / "hub"
    folder = make_diffusers_lora_folder(root / "my-adapter", rank=2, modules=8)
    make_lora(root / "plain.safetensors", rank=2, modules=8)
    first = list(Scanner(catalog).scan_paths([root]))
    paths = sorted(e.record["path"] for e in first)
    assert paths == [str(folder), str(root / "plain.safetensors")]
    adapter = next(e.record for e in first if e.record["path"] == str(folder))
    assert adapter["format"] == "diffusers"
    # A file rewritten inside a folder leaves the folder's mtime alone, so the
    # folder is re-read every time while the plain file is skipped.
    again = {e.record["path"]: e.status for e in Scanner(catalog).scan_paths([root])}
    assert again == {str(folder): "scanned", str(root / "plain.safetensors"): "skipped"}
    assert catalog.count() == 2


def test_a_scan_tunes_the_collector_only_while_it_runs(models: Path) -> None:
    import gc

    before = gc.get_threshold()
    assert gc.get_freeze_count() == 0
    events = Scanner(None, hash_files=False).scan_paths([models])
    next(events)
    assert gc.get_freeze_count() > 0, "long-lived objects are frozen during the scan"
    assert gc.get_threshold()[0] >= 10_000
    list(events)
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == before


def test_a_scan_leaves_someone_elses_freeze_alone(models: Path) -> None:
    import gc

    before = gc.get_threshold()
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        events = Scanner(None, hash_files=False).scan_paths([models])
        next(events)
        assert gc.get_threshold() == before
        list(events)
        assert gc.get_freeze_count() == frozen, "the owner's freeze is neither grown nor undone"
    finally:
        gc.unfreeze()
