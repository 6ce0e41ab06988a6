"""A banned LoRA re-uploaded as a PEFT folder is caught, through scan, match and explain.

Folder artifacts (``adapter_config.json`` + ``adapter_model.safetensors``) used
to fail hashing with "Is a directory", and their fingerprint was never taken
because the tensors' offsets point into the weights file, not the folder: the
one disguise the PEFT format offers went unnoticed.
"""

from __future__ import annotations

import functools
import json
import shutil
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from likenessguard.cli.app import build_app
from likenessguard.hashing.file_hashes import hash_file
from likenessguard.testing import make_lora
from likenessguard.testing.mutations import kohya_to_peft


@functools.cache
def cli_app() -> typer.Typer:
    return build_app()


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli_app(), list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def _peft_folder(weights: Path, folder: Path) -> Path:
    folder.mkdir(parents=True)
    shutil.copyfile(weights, folder / "adapter_model.safetensors")
    config = {"peft_type": "LORA", "r": 4, "lora_alpha": 4, "target_modules": ["to_k", "to_q"]}
    (folder / "adapter_config.json").write_text(json.dumps(config), encoding="utf-8")
    return folder


@pytest.fixture
def uploads(tmp_path: Path) -> dict[str, Path]:
    banned = make_lora(
        tmp_path / "src" / "jane_roe.safetensors", "sd1", "kohya", modules=12, seed=31
    )
    converted = kohya_to_peft(banned, tmp_path / "src" / "converted.safetensors")
    up = tmp_path / "uploads"
    return {
        "banned": banned,
        "converted": converted,
        # The very weights file of an earlier PEFT upload, in a folder of its own.
        "same_bytes": _peft_folder(converted, up / "user_a" / "LORA"),
        # The banned kohya LoRA converted to PEFT: only the fingerprint knows it.
        "peft": _peft_folder(converted, up / "user_b" / "Test model"),
        "other": _peft_folder(
            kohya_to_peft(
                make_lora(
                    tmp_path / "src" / "other.safetensors", "sd1", "kohya", modules=12, seed=32
                ),
                tmp_path / "src" / "other_peft.safetensors",
            ),
            up / "user_c" / "style",
        ),
    }


def test_peft_folders_are_hashed_fingerprinted_and_matched(
    tmp_path: Path, uploads: dict[str, Path]
) -> None:
    db = f"sqlite:///{tmp_path / 'catalog.db'}"
    assert run("bank", "create", "bans", "--db", db)[0] == 0
    assert run("bank", "add", "bans", str(uploads["banned"]), "--db", db)[0] == 0
    code, out, err = run("scan", str(tmp_path / "uploads"), "--db", db, "-f", "jsonl", "-q")
    records = {Path(r["path"]).name: r for r in map(json.loads, out.splitlines())}
    assert set(records) == {"LORA", "Test model", "style"}, err
    weights_sha = hash_file(uploads["converted"]).sha256
    for name, record in records.items():
        assert record["errors"] == [], name
        assert record["hashes"]["sha256"] is not None, name
        assert record["fingerprint"].startswith("lgfp1:adapter:"), name
    assert records["LORA"]["hashes"]["sha256"] == weights_sha
    assert [m["method"] for m in records["Test model"]["matches"]] == ["fingerprint"]
    assert [m["method"] for m in records["LORA"]["matches"]] == ["fingerprint"]
    assert records["style"]["matches"] == []
    assert code == 1  # the matched copies are findings

    # A bank that knows the PEFT weights file by sha256 finds the folder holding it.
    assert run("bank", "create", "exact", "--db", db)[0] == 0
    assert run("bank", "add", "exact", str(uploads["converted"]), "--db", db)[0] == 0
    code, out, _ = run(
        "match", str(uploads["same_bytes"]), str(uploads["other"]), "--bank", "exact",
        "--db", db, "-f", "jsonl",
    )  # fmt: skip
    matched = {Path(r["path"]).name: r for r in map(json.loads, out.splitlines())}
    assert code == 1, out
    assert matched["LORA"]["hashes"]["sha256"] == weights_sha
    assert [m["method"] for m in matched["LORA"]["matches"]] == ["sha256"]
    assert matched["LORA"]["fingerprint"] == records["LORA"]["fingerprint"]  # scan = match
    assert matched["style"]["matches"] == []
