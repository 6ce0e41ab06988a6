"""``likenessguard scan`` and ``findings``: outputs, the exit-code contract, the catalog they fill.

Most tests drive the command in-process through Click's runner on an app that
holds only these commands (fast, and immune to other commands' imports); one
runs the real console entry point to check the environment exit code.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from likenessguard.cli import scan
from likenessguard.cli.exit_codes import ExitCode
from likenessguard.store.catalog import Catalog
from likenessguard.testing import make_lora
from tests.pipeline.hostile import build_hostile


def _app() -> typer.Typer:
    app = typer.Typer()
    scan.register(app)
    return app


APP = _app()


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(APP, list(args), env=env, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def models(tmp_path: Path) -> Path:
    root = tmp_path / "models"
    for i in range(4):
        make_lora(root / f"style_{i}.safetensors", rank=2, modules=10, seed=i)
    return root


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'catalog.db'}"


def _jsonl(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_clean_scan_exits_0_and_jsonl_equals_the_catalog(models: Path, db: str) -> None:
    code, out, err = run("scan", str(models), "--db", db, "--format", "jsonl")
    assert code == ExitCode.OK
    records = _jsonl(out)
    assert len(records) == 4
    catalog = Catalog.open(db)
    try:
        stored = list(catalog.iter_records(order="uri"))
    finally:
        catalog.close()
    assert sorted(records, key=lambda r: str(r["path"])) == stored
    assert "scanned 4 files, 4 read, 0 unchanged, 0 with errors" in err
    assert "worst severity: none" in err


def test_rescan_reports_unchanged_files_too(models: Path, db: str) -> None:
    run("scan", str(models), "--db", db, "--format", "jsonl")
    code, out, err = run("scan", str(models), "--db", db, "--format", "jsonl")
    assert code == ExitCode.OK
    assert len(_jsonl(out)) == 4
    assert "0 read, 4 unchanged" in err
    code, out, err = run("scan", str(models), "--db", db, "-f", "jsonl", "--rescan", "-q")
    assert len(_jsonl(out)) == 4
    assert err == ""


def test_unsafe_pickle_fails_the_default_gate(tmp_path: Path, models: Path, db: str) -> None:
    bad = build_hostile(models / "hostile", tmp_path / "pwned")
    code, out, err = run("scan", str(models), "--db", db, "--format", "json")
    assert code == ExitCode.FINDINGS
    records = json.loads(out)
    assert len(records) == 4 + len(bad)
    assert "worst severity: critical" in err
    assert not (tmp_path / "pwned").exists()
    code, _, _ = run("scan", str(models), "--db", db, "--fail-on", "critical", "-q")
    assert code == ExitCode.FINDINGS


def test_errors_alone_do_not_fail_the_gate(tmp_path: Path, models: Path, db: str) -> None:
    (models / "truncated.safetensors").write_bytes(b"\x10\x00")
    code, out, _ = run("scan", str(models), "--db", db, "--format", "jsonl", "--fail-on", "low")
    assert code == ExitCode.OK
    errors = [r for r in _jsonl(out) if r["errors"]]
    assert len(errors) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["does-not-exist"], "does not exist"),
        (["--fail-on", "severe", "."], "--fail-on: unknown severity 'severe'"),
        (["--fail-on", "none", "."], "--fail-on: use low, medium, high or critical"),
    ],
)
def test_usage_errors_exit_2(tmp_path: Path, db: str, args: list[str], message: str) -> None:
    os.chdir(tmp_path)
    code, _, err = run("scan", "--db", db, *args)
    assert code == ExitCode.USAGE
    assert message in err


def test_nothing_readable_exits_2(tmp_path: Path, db: str) -> None:
    (tmp_path / "empty").mkdir()
    code, _, err = run("scan", str(tmp_path / "empty"), "--db", db)
    assert code == ExitCode.USAGE
    assert "nothing could be scanned: no model file was readable" in err
    (tmp_path / "empty" / "x.safetensors").write_bytes(b"")
    code, _, _ = run("scan", str(tmp_path / "empty"), "--db", db)
    assert code == ExitCode.USAGE


def test_missing_path_next_to_a_good_one_is_reported_and_scan_goes_on(
    tmp_path: Path, models: Path, db: str
) -> None:
    code, out, err = run("scan", str(tmp_path / "gone"), str(models), "--db", db, "-f", "jsonl")
    assert code == ExitCode.OK
    assert len(_jsonl(out)) == 4
    assert f"error: {tmp_path / 'gone'} does not exist" in err


def test_jobs_and_no_hash(models: Path, tmp_path: Path) -> None:
    one = run("scan", str(models), "--db", f"sqlite:///{tmp_path}/1.db", "-f", "jsonl")[1]
    two = run("scan", str(models), "--db", f"sqlite:///{tmp_path}/2.db", "-f", "jsonl", "-j", "2")[
        1
    ]
    assert sorted(one.splitlines()) == sorted(two.splitlines())
    quick = _jsonl(
        run("scan", str(models), "--db", f"sqlite:///{tmp_path}/3.db", "-f", "jsonl", "--no-hash")[
            1
        ]
    )
    assert all(r["hashes"] is None for r in quick)


def test_sarif_and_table_outputs(tmp_path: Path, models: Path, db: str) -> None:
    build_hostile(models / "hostile", tmp_path / "pwned")
    code, out, _ = run("scan", str(models), "--db", db, "--format", "sarif")
    assert code == ExitCode.FINDINGS
    log = json.loads(out)
    rules = {r["ruleId"] for r in log["runs"][0]["results"]}
    assert rules == {"likenessguard/unsafe-pickle", "likenessguard/unreadable"}
    # A wide terminal: the table shortens paths to fit, and this checks its content.
    code, out, _ = run("scan", str(models), "--db", db, env={"COLUMNS": "240"})
    assert "critical" in out
    assert "style_0.safetensors" in out


def test_db_from_the_environment(models: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'env.db'}"
    code, _, _ = run("scan", str(models), "-q", env={"LIKENESSGUARD_DB": url})
    assert code == ExitCode.OK
    catalog = Catalog.open(url)
    try:
        assert catalog.count() == 4
    finally:
        catalog.close()


def test_prune_forgets_deleted_files(models: Path, db: str) -> None:
    run("scan", str(models), "--db", db, "-q")
    (models / "style_0.safetensors").unlink()
    code, _, err = run("scan", str(models), "--db", db, "-f", "jsonl", "--prune")
    assert code == ExitCode.OK
    assert "pruned 1 catalog rows" in err
    catalog = Catalog.open(db)
    try:
        assert catalog.count() == 3
    finally:
        catalog.close()


def test_prune_keeps_rows_of_folders_it_could_not_read(models: Path, db: str) -> None:
    sub = models / "sub"
    make_lora(sub / "kept.safetensors", rank=2, modules=10, seed=9)
    run("scan", str(models), "--db", db, "-q")
    # The folder turns unreadable (here: replaced by a symlink loop): its files
    # were not seen, but that is no evidence they are gone.
    (sub / "kept.safetensors").rename(models.parent / "kept.safetensors")
    sub.rmdir()
    os.symlink(sub.name, sub)
    code, out, _ = run("scan", str(models), "--db", db, "-f", "jsonl", "--prune", "-q")
    assert code == ExitCode.OK
    assert any("symlink loop" in e for r in _jsonl(out) for e in r["errors"])  # type: ignore[union-attr]
    catalog = Catalog.open(db)
    try:
        assert catalog.get((sub / "kept.safetensors").as_uri()) is not None
    finally:
        catalog.close()


def test_findings_lists_what_matters(tmp_path: Path, models: Path, db: str) -> None:
    bad = build_hostile(models / "hostile", tmp_path / "pwned")
    run("scan", str(models), "--db", db, "-q")
    code, out, _ = run("findings", "--db", db, "--format", "jsonl")
    assert code == ExitCode.OK
    assert [r["path"] for r in _jsonl(out)] == [str(bad["evil.ckpt"])]
    code, out, _ = run("findings", "--db", db, "--format", "jsonl", "--errors")
    assert len(_jsonl(out)) == len(bad) - 1
    code, out, _ = run("findings", "--db", db, "--min-severity", "none", "-f", "jsonl")
    assert len(_jsonl(out)) == 4 + len(bad)


def test_unreachable_catalog_exits_3_from_the_console_script(models: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "from likenessguard.cli.app import main; main()",
            "scan",
            str(models),
            "--db",
            "postgresql://postgres@127.0.0.1:1/nothing",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == ExitCode.ENVIRONMENT
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith("error: couldn't open the catalog at postgresql+psycopg://")


def test_scan_with_a_bank_keeps_the_matches_table_in_step(
    tmp_path: Path, models: Path, db: str
) -> None:
    from likenessguard.banks.base import BankEntry
    from likenessguard.hashing.file_hashes import hash_file
    from likenessguard.store.banks import add_entries, artifacts_matching, create_bank
    from likenessguard.store.catalog import Catalog

    catalog = Catalog.open(db)
    try:
        create_bank(catalog.engine, "banned")
        sha = hash_file(models / "style_1.safetensors").sha256
        add_entries(catalog.engine, "banned", [BankEntry(name="removed", sha256=sha)])
    finally:
        catalog.close()
    code, out, _ = run("scan", str(models), "--db", db, "--bank", "banned", "--format", "jsonl")
    assert code == ExitCode.FINDINGS  # a positive bank match is high
    hits = [json.loads(x) for x in out.splitlines() if json.loads(x)["matches"]]
    assert [h["path"].rsplit("/", 1)[1] for h in hits] == ["style_1.safetensors"]
    catalog = Catalog.open(db)
    try:
        assert len(artifacts_matching(catalog.engine, "banned")) == 1
    finally:
        catalog.close()
    code, _, err = run("scan", str(models), "--db", db, "--bank", "nope")
    assert code == ExitCode.USAGE
    assert "no bank named 'nope'" in err
