"""The verdict section of docs/records.md checks itself against the code's JSON keys."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from likenessguard.evidence.base import Evidence
from likenessguard.registry.base import Subject
from likenessguard.testing import make_lora
from likenessguard.verdicts.base import Label
from likenessguard.verdicts.evaluate import Confusion, EvalReport, prediction_row
from likenessguard.verdicts.guard import check_prompt
from likenessguard.verdicts.judge import judge_listing
from tests.docs_tables import key_tables

DOCS = Path(__file__).resolve().parents[2] / "docs"


def _prediction() -> dict[str, Any]:
    rec = {"id": 1, "name": "x", "poi": True}
    v = judge_listing(rec)
    return prediction_row(
        rec, 0, condition="as-is", fold=None, verdict=v, gold_labels=[Label.REAL_PERSON]
    )


def _guard() -> dict[str, Any]:
    return check_prompt("a castle", ["0123456789ab"], lookup=lambda h: []).to_json()


PRODUCERS: dict[str, Callable[[], list[str]]] = {
    "scan-record-extra": lambda: ["evidence"],
    "explain": lambda: [
        "path",
        "member",
        "severity",
        "verdict",
        "findings",
        "matches",
        "evidence",
        "errors",
    ],
    "classify-listings": lambda: ["id", "verdict"],
    "guard": lambda: list(_guard()),
    "guard.lora": lambda: list(_guard()["loras"][0]),
    "eval": lambda: list(EvalReport(1, "as-is", None).to_json()),
    "eval.label": lambda: list(Confusion().to_json()),
    "eval-prediction": lambda: list(_prediction()),
    "eval-prediction.label": lambda: list(_prediction()["labels"]["real_person"]),
    "registry-subject": lambda: list(Subject("subj_x", "x").to_json()),
}


def tables() -> dict[str, list[str]]:
    return key_tables(
        (DOCS / "records.md").read_text(encoding="utf-8"), "verdict-keys", "docs/records.md"
    )


def test_every_table_has_a_producer() -> None:
    assert set(tables()) == set(PRODUCERS)


@pytest.mark.parametrize("name", sorted(PRODUCERS))
def test_documented_keys_match_the_code(name: str) -> None:
    assert tables()[name] == PRODUCERS[name]()


def test_explain_and_classify_keys_are_the_cli_keys(tmp_path: Path) -> None:
    import json

    from typer.testing import CliRunner

    from likenessguard.cli.app import build_app

    f = tmp_path / "l.jsonl"
    f.write_text(json.dumps({"id": 1, "name": "x"}) + "\n")
    out = CliRunner().invoke(build_app(), ["classify-listings", str(f)]).stdout
    assert list(json.loads(out)) == PRODUCERS["classify-listings"]()
    lora = make_lora(tmp_path / "x.safetensors", "sd1", modules=4)
    out = CliRunner().invoke(build_app(), ["explain", str(lora), "--format", "json"]).stdout
    assert list(json.loads(out)) == PRODUCERS["explain"]()
    v = judge_listing({"name": "x"})
    assert set(v.to_json()) == {"severity", "labels", "subject"}
    assert list(Evidence("a", "b", "c", "d").to_json()) == [
        "source",
        "field",
        "text",
        "signal",
        "count",
    ]
