"""The verdict analyzer inside a real scan: records carry the verdict and bounded evidence."""

from __future__ import annotations

from pathlib import Path

from likenessguard.pipeline.judge import VerdictAnalyzer
from likenessguard.pipeline.scanner import Scanner
from likenessguard.store.db import open_catalog
from likenessguard.store.registry import add_subject
from likenessguard.testing import kohya_metadata, make_lora, make_model_card


def test_scan_with_the_verdict_analyzer(sqlite_url: str, tmp_path: Path) -> None:
    engine = open_catalog(sqlite_url)
    sid = add_subject(engine, name="Mary Major")
    engine.dispose()
    repo = tmp_path / "mary-major"
    make_lora(
        repo / "m4ry_m4jor.safetensors",
        "sd1",
        metadata=kohya_metadata(
            output_name="m4ry_m4jor", base_model="sd1", tags={"nude": 30, "1girl": 30}
        ),
    )
    make_model_card(repo, title="A LoRA", tags=["person"])
    make_lora(
        tmp_path / "castle_style.safetensors",
        "sd1",
        metadata=kohya_metadata(
            output_name="castle_style", class_word="style", base_model="sd1", tags={"castle": 9}
        ),
    )
    scanner = Scanner(None, hash_files=False, analyzers=[VerdictAnalyzer(db_url=sqlite_url)])
    records = {Path(e.record["path"]).name: e.record for e in scanner.scan_paths([tmp_path])}
    person = records["m4ry_m4jor.safetensors"]
    assert person["verdict"]["severity"] == "high"
    assert person["verdict"]["subject"] == sid
    assert any(e["source"] == "model-card" for e in person["evidence"])
    style = records["castle_style.safetensors"]
    assert style["verdict"]["severity"] == "none" and style["evidence"]
