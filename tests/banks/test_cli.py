"""The bank, match, rematch and mirrors commands, end to end on a real catalog file."""

from __future__ import annotations

import functools
import json
import shutil
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from likenessguard.cli.app import build_app
from likenessguard.testing import make_lora
from likenessguard.testing.mutations import cast, kohya_to_peft


@functools.cache
def cli_app() -> typer.Typer:
    return build_app()


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli_app(), list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'catalog.db'}"


@pytest.fixture(scope="module")
def loras(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("cli")
    banned = make_lora(d / "jane_roe.safetensors", "sd1", "kohya", modules=12, seed=21)
    return {
        "banned": banned,
        "peft": kohya_to_peft(banned, d / "LORA.safetensors"),
        "bf16": cast(banned, d / "Test model.safetensors", "BF16"),
        "other": make_lora(d / "other.safetensors", "sd1", "kohya", modules=12, seed=22),
    }


def test_add_files_then_match_disguised_copies(db: str, loras: dict[str, Path]) -> None:
    assert run("bank", "create", "bans", "--db", db)[0] == 0
    code, out, _ = run(
        "bank", "add", "bans", str(loras["banned"]), "--subject", "Jane Roe", "--db", db
    )
    assert code == 0 and "1 added" in out
    code, out, _ = run(
        "match",
        str(loras["peft"]),
        str(loras["bf16"]),
        str(loras["other"]),
        "--bank",
        "bans",
        "--db",
        db,
    )
    assert code == 1
    records = [json.loads(line) for line in out.splitlines()]
    assert [r["matches"][0]["method"] if r["matches"] else None for r in records] == [
        "fingerprint",
        "fingerprint",
        None,
    ]
    assert records[0]["matches"][0]["entry"]["subject"] == "Jane Roe"
    assert records[0]["matches"][0]["similarity"] > 0.99
    code, _, _ = run("match", str(loras["other"]), "--bank", "bans", "--db", db)
    assert code == 0
    code, _, err = run("match", "/nonexistent.safetensors", "--db", db)
    assert code == 2 and "nonexistent" in err


def test_import_reports_bad_lines_and_skip_bad(db: str, tmp_path: Path) -> None:
    run("bank", "create", "research", "--db", db)
    csv = tmp_path / "removed.csv"
    csv.write_text(f"name,SHA256,url\nok,{'A' * 64},https://x\nbad,123,\n")
    code, _, err = run("bank", "import", "research", str(csv), "--db", db)
    assert code == 2
    assert "line 3: removed.csv: sha256 must be 64 hex digits, got '123'" in err
    code, out, _ = run("bank", "list", "--format", "jsonl", "--db", db)
    assert json.loads(out)["entries"] == 0
    code, out, err = run("bank", "import", "research", str(csv), "--skip-bad", "--db", db)
    assert code == 0 and "1 added" in out and "line 3" in err
    code, out, _ = run("bank", "import", "research", str(csv), "--skip-bad", "--db", db)
    assert "0 added, 1 merged" in out
    exported = tmp_path / "out.jsonl"
    assert run("bank", "export", "research", "-f", "jsonl", "-o", str(exported), "--db", db)[0] == 0
    assert json.loads(exported.read_text())["sha256"] == "a" * 64
    assert run("bank", "disable", "research", "a" * 64, "--db", db)[0] == 0
    code, out, _ = run("bank", "show", "research", "--format", "jsonl", "--db", db)
    assert json.loads(out)["disabled"] is True
    assert run("bank", "delete", "research", "--yes", "--db", db)[0] == 0
    code, _, err = run("bank", "show", "research", "--db", db)
    assert code == 2 and "no bank named 'research'" in err


def test_a_ban_added_later_flags_the_old_scan_and_mirrors_group_copies(
    db: str, loras: dict[str, Path], tmp_path: Path
) -> None:
    code, _, _ = run(
        "scan", str(loras["banned"]), str(loras["other"]), "--db", db, "-q", "-f", "jsonl"
    )
    assert code == 0
    run("bank", "create", "late", "--db", db)
    code, _, err = run("bank", "add", "late", str(loras["banned"]), "--db", db)
    assert code == 0 and "1 match" in err
    code, out, _ = run("rematch", "--format", "jsonl", "--db", db)
    assert json.loads(out)["matched_artifacts"] == 1
    code, out, _ = run("mirrors", "--format", "jsonl", "--db", db)
    assert code == 0 and out == ""  # two different models: no mirrors
    mirror = tmp_path / "reupload" / "LORA.safetensors"
    mirror.parent.mkdir()
    shutil.copyfile(loras["banned"], mirror)
    assert run("scan", str(mirror), "--db", db, "-q", "-f", "jsonl")[0] in (0, 1)
    code, out, _ = run("rematch", "--format", "jsonl", "--db", db)
    assert json.loads(out)["matched_artifacts"] == 2  # the re-upload is caught too
    code, out, _ = run("mirrors", "--format", "jsonl", "--db", db)
    (cluster,) = [json.loads(line) for line in out.splitlines()]
    assert [m["path"] for m in cluster["members"]] == [str(loras["banned"]), str(mirror)]
    assert "sha256" in cluster["methods"]
