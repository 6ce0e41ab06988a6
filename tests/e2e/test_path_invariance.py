"""The same models through scan, match and explain: the same severity and the same matches.

Each command used to read, hash and judge on a path of its own: ``explain``
said severity none for a pickle ``scan`` rates critical and never consulted the
banks, and ``match`` could not hash PEFT folders or zip members. They now run
the scan's stages; this test holds them to one answer per model. Evidence a
path cannot see is named where it differs (``match`` does not judge, so it has
no verdict and its severity is not compared).
"""

from __future__ import annotations

import functools
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from likenessguard.cli.app import build_app
from likenessguard.testing import kohya_metadata, make_lora
from likenessguard.testing.containers import make_zip
from likenessguard.testing.hostile import build_hostile_corpus
from likenessguard.testing.mutations import cast, kohya_to_peft, strip_metadata


@functools.cache
def cli_app() -> typer.Typer:
    return build_app()


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli_app(), list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    root = tmp_path_factory.mktemp("paths")
    src, up = root / "src", root / "uploads"
    person = kohya_metadata(
        output_name="jane_roe_v2",
        trigger="janeroe",
        class_word="woman",
        tags={"janeroe": 40, "1girl": 30, "nude": 25, "photo of a woman": 20},
        base_model="sd1",
    )
    banned = make_lora(
        src / "jane_roe_v2.safetensors", "sd1", "kohya", modules=12, seed=41, metadata=person
    )
    (up / "plain").mkdir(parents=True)
    shutil.copyfile(banned, up / "plain" / "jane_roe_v2.safetensors")
    strip_metadata(banned, up / "stripped" / "LORA.safetensors")
    cast(banned, up / "cast" / "Test model.safetensors", "BF16")
    peft = up / "peft" / "LORA"
    peft.mkdir(parents=True)
    kohya_to_peft(banned, peft / "adapter_model.safetensors")
    (peft / "adapter_config.json").write_text('{"peft_type": "LORA", "r": 4, "lora_alpha": 4}')
    make_zip(up / "zipped" / "models.zip", {"jane_roe_v2.safetensors": banned})
    make_lora(up / "other" / "landscape.safetensors", "sd1", "kohya", modules=12, seed=42)
    hostile = build_hostile_corpus(root / "hostile")
    (up / "pickle").mkdir()
    shutil.copyfile(hostile["pickle_os_system"], up / "pickle" / "model.ckpt")
    db = f"sqlite:///{root / 'catalog.db'}"
    assert run("bank", "create", "bans", "--db", db)[0] == 0
    assert run("bank", "add", "bans", str(banned), "--subject", "Jane Roe", "--db", db)[0] == 0
    return up, banned, db


def _matches(record: dict[str, Any]) -> list[tuple[str, Any, str]]:
    return sorted((m["bank"], m["entry"]["id"], m["method"]) for m in record["matches"])


def _key(record: dict[str, Any]) -> str:
    member = record.get("member") or (record.get("artifact") or {}).get("member")
    path = Path(record["path"])
    return f"{path.parent.name}/{path.name}" + (f"#{member}" if member else "")


def test_scan_match_and_explain_agree_on_every_model(models: tuple[Path, Path, str]) -> None:
    up, _banned, db = models
    _, out, err = run("scan", str(up), "--db", db, "-f", "jsonl", "-q")
    scanned = {}
    for line in out.splitlines():
        rec = json.loads(line)
        member = (rec.get("location") or {}).get("uri", "").partition("#")[2] or None
        scanned[_key({**rec, "member": member})] = rec
    assert len(scanned) == 7, (sorted(scanned), err)

    _, out, _ = run("match", *[str(p) for p in sorted(up.glob("*/*"))], "--db", db, "-f", "jsonl")
    matched = {_key(json.loads(line)): json.loads(line) for line in out.splitlines()}
    explained: dict[str, dict[str, Any]] = {}
    for p in sorted(up.glob("*/*")):
        code, out, err = run("explain", str(p), "--db", db, "-f", "json")
        assert code == 0, err
        for line in out.splitlines():
            item = json.loads(line)
            explained[_key(item)] = item

    assert set(scanned) == set(explained) == set(matched)
    for key, rec in scanned.items():
        assert _matches(rec) == _matches(explained[key]) == _matches(matched[key]), key
        assert rec["verdict"] == explained[key]["verdict"], key
        assert [f["code"] for f in rec["findings"]] == [
            f["code"] for f in explained[key]["findings"]
        ]

    severity = {k: v["severity"] for k, v in explained.items()}
    assert severity["pickle/model.ckpt"] == "critical"
    # Every copy of the banned LoRA is a finding, however it was disguised.
    for key in (
        "plain/jane_roe_v2.safetensors",
        "stripped/LORA.safetensors",
        "cast/Test model.safetensors",
        "peft/LORA#adapter_model.safetensors",
        "zipped/models.zip#jane_roe_v2.safetensors",
    ):
        assert _matches(scanned[key]), key
        assert severity[key] in ("high", "critical"), key
    assert _matches(scanned["other/landscape.safetensors"]) == []
