"""``likenessguard demo`` on the demo hub: the product's first impression, checked against
the hub's own truth manifest.

The demo hub knows what each repo is (``manifest.jsonl``); the demo must put
the minor-risk and real-person models at the top, match the banned
spreadsheet's models and their disguised copies, and leave the review app
ready with a one-time admin password.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from likenessguard.cli.app import build_app
from likenessguard.testing.demo import DemoHub

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo_run(demo_hub: DemoHub, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    db = tmp_path_factory.mktemp("demo") / "demo.db"
    result = CliRunner().invoke(
        build_app(),
        ["demo", "--hub", str(demo_hub.root), "--db", f"sqlite:///{db}"],
        env={"COLUMNS": "200"},
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    return result.stdout, db


def _records(db: Path) -> dict[str, dict[str, object]]:
    conn = sqlite3.connect(db)
    try:
        return {
            json.loads(rec)["path"]: json.loads(rec)
            for (rec,) in conn.execute("select record from artifacts")
        }
    finally:
        conn.close()


def test_demo_prints_findings_and_the_way_into_the_review_app(
    demo_run: tuple[str, Path],
) -> None:
    out, _db = demo_run
    assert "critical" in out
    assert "unsafe-pickle" in out
    assert "demo-banned" in out
    assert "mirror clusters" in out
    assert "sign in as demo-admin with the one-time password" in out


def test_demo_verdicts_agree_with_the_hub_truth(
    demo_hub: DemoHub, demo_run: tuple[str, Path]
) -> None:
    _out, db = demo_run
    records = _records(db)
    wrong: list[str] = []
    checked = 0
    for line in demo_hub.manifest_path.read_text().splitlines():
        repo = json.loads(line)
        if not repo["text_evidence"] or repo["category"].endswith("obfuscated"):
            continue  # disguised copies are found by banks; obfuscation by the registry
        for f in repo["files"]:
            if f["broken"] or f["copy_of"] or f["member"]:
                continue
            path = demo_hub.root / f["path"]
            # A diffusers/PEFT folder is one artifact, recorded under the folder.
            record = records.get(str(path)) or records[str(path.parent)]
            verdict = record.get("verdict") or {}
            labels = verdict.get("labels", {}) if isinstance(verdict, dict) else {}
            for label, want in repo["labels"].items():
                got = bool(labels.get(label, {}).get("fired"))
                checked += 1
                if want and not got:
                    wrong.append(f"{repo['repo']}: {label} missed")
    assert checked > 300
    # Every real-person, sexual and minor-risk model with text evidence is caught.
    assert not wrong, wrong


def test_demo_catches_the_banned_models_and_their_disguised_copies(
    demo_hub: DemoHub, demo_run: tuple[str, Path]
) -> None:
    _out, db = demo_run
    records = _records(db)
    banned = {row["sha256"] for row in demo_hub.banned}
    matched = {
        str(r.get("path"))
        for r in records.values()
        if any(m.get("bank") == "demo-banned" for m in r.get("matches") or ())  # type: ignore[union-attr]
    }
    originals = {p for p, r in records.items() if (r.get("hashes") or {}).get("sha256") in banned}  # type: ignore[union-attr]
    assert originals and originals <= matched
    conn = sqlite3.connect(db)
    try:
        (n_matches,) = conn.execute("select count(*) from matches").fetchone()
    finally:
        conn.close()
    assert n_matches >= len(originals)
