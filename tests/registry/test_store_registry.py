"""Registry persistence on SQLite and PostgreSQL, and matching of what was stored."""

from __future__ import annotations

from pathlib import Path

import pytest

from likenessguard.errors import ConfigError
from likenessguard.evidence.base import Evidence
from likenessguard.store.db import open_catalog
from likenessguard.store.registry import (
    add_subject,
    import_subjects,
    list_subjects,
    load_registry,
    remove_subject,
)


def test_add_list_merge_remove(catalog_url: str) -> None:
    engine = open_catalog(catalog_url)
    sid = add_subject(engine, name="Jane Roe", aliases=["Janie R"], handles=["@janeroe_official"])
    assert sid.startswith("subj_") and len(sid) == 17
    # Same person again (different spacing/case): merged, same id.
    assert add_subject(engine, name="jane   ROE", aliases=["J. Roe"], source="takedown") == sid
    add_subject(engine, name="Mary Major")
    subjects = list_subjects(engine)
    assert [s.name for s in subjects] == ["Jane Roe", "Mary Major"]
    jane = subjects[0]
    assert jane.aliases == ("Janie R", "J. Roe")
    assert jane.handles == ("@janeroe_official",)
    registry = load_registry(engine)
    hits = registry.match([Evidence("file-name", "file_name", "j4ne_r0e_v2.safetensors", "name")])
    assert [h.subject.id for h in hits] == [sid]
    assert remove_subject(engine, sid) is True
    assert remove_subject(engine, sid) is False
    assert [s.name for s in list_subjects(engine)] == ["Mary Major"]
    engine.dispose()


def test_empty_name_is_refused(sqlite_url: str) -> None:
    engine = open_catalog(sqlite_url)
    with pytest.raises(ConfigError, match="no letters or digits"):
        add_subject(engine, name=" -- ")


def test_import_csv_and_jsonl_report_bad_lines(catalog_url: str, tmp_path: Path) -> None:
    engine = open_catalog(catalog_url)
    csv_file = tmp_path / "people.csv"
    csv_file.write_text(
        "name,aliases,handles,note\nJane Roe,Janie|JR,@janeroe,\n,x,,\nMary Major,,,asked 2026\n"
    )
    ids, errors = import_subjects(engine, csv_file)
    assert len(ids) == 2
    assert errors == [f"{csv_file}:3: empty name: line skipped"]
    jsonl = tmp_path / "people.jsonl"
    jsonl.write_text(
        '{"name": "Richard Miles", "aliases": ["Dick Miles"]}\nnot json\n{"aliases": []}\n'
    )
    ids2, errors2 = import_subjects(engine, jsonl)
    assert len(ids2) == 1
    assert [e.split(": ")[0] for e in errors2] == [f"{jsonl}:2", f"{jsonl}:3"]
    subjects = {s.name: s for s in list_subjects(engine)}
    assert subjects["Jane Roe"].aliases == ("Janie", "JR")
    assert subjects["Jane Roe"].source == "import:people.csv"
    assert subjects["Mary Major"].note == "asked 2026"
    engine.dispose()
