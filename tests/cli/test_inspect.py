"""``likenessguard inspect``: the reviewer's one-screen view, and its JSON twin."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import typer
from typer.testing import CliRunner

from likenessguard.cli import inspect
from likenessguard.cli.exit_codes import ExitCode
from likenessguard.cli.inspect import top_tags
from likenessguard.testing import make_lora
from tests.artifacts.torchpickle import payload_pickle


def _app() -> typer.Typer:
    app = typer.Typer()
    inspect.register(app)
    return app


APP = _app()


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(APP, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def test_json_record(tmp_path: Path) -> None:
    path = make_lora(tmp_path / "mary_major.safetensors", "sdxl", modules=6, rank=4, alpha=2.0)
    code, out = run(str(path), "--format", "json")
    assert code == ExitCode.OK
    (record,) = json.loads(out)
    assert record["path"] == str(path)
    assert (record["kind"], record["base_family"], record["key_scheme"]) == (
        "lora",
        "sdxl",
        "kohya",
    )
    assert (record["rank"], record["alpha"], record["modules"]) == (4, 2.0, 6)
    assert record["hashes"]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert record["hashes"]["autov2"] == record["hashes"]["sha256"][:10]
    assert "cross-attention k in-dim 2048: SDXL" in record["reasons"]
    assert record["metadata"]["ss_base_model_version"] == "sdxl_base_v1-0"
    assert isinstance(record["metadata"]["ss_tag_frequency"], dict)
    assert record["top_tags"] and record["top_tags"][0]["count"] >= record["top_tags"][-1]["count"]
    assert record["errors"] == [] and record["findings"] == []


def test_table_view(tmp_path: Path) -> None:
    path = make_lora(tmp_path / "l.safetensors", "flux1", modules=6)
    code, out = run(str(path))
    assert code == ExitCode.OK
    for text in ("base family", "flux1", "why", "hashes", "sha256", "top training tags",
                 "metadata", "ss_base_model_version"):  # fmt: skip
        assert text in out


def test_unsafe_pickle_is_shown_and_never_run(tmp_path: Path) -> None:
    path = tmp_path / "evil.pt"
    path.write_bytes(payload_pickle(str(tmp_path / "pwned")))
    code, out = run(str(path), "--no-hash")
    assert code == ExitCode.OK
    assert "critical unsafe-pickle:" in out
    assert "imports os.system: loading this file would run code; do not load it" in out
    assert not (tmp_path / "pwned").exists()


def test_unreadable_file_exits_2_with_the_reason(tmp_path: Path) -> None:
    path = tmp_path / "empty.safetensors"
    path.write_bytes(b"")
    code, out = run(str(path), "--format", "json")
    assert code == ExitCode.USAGE
    assert json.loads(out)[0]["errors"] == [
        "empty.safetensors is empty (0 bytes): it is not a model file; it was skipped"
    ]
    code, _ = run(str(tmp_path / "missing.safetensors"))
    assert code == ExitCode.USAGE


def test_top_tags_sums_folders_and_ignores_junk() -> None:
    decoded = {
        "ss_tag_frequency": {
            "10_jane": {"jane roe": 10, "smile": 2},
            "5_more": {"jane roe": 3, "bad": "x", "flag": True},
            "junk": "not a dict",
        }
    }
    assert top_tags(decoded) == [("jane roe", 13), ("smile", 2)]
    assert top_tags({"ss_tag_frequency": "oops"}) == []


def test_docs_records_table_matches_the_record(tmp_path: Path) -> None:
    docs = Path(__file__).resolve().parents[2] / "docs" / "records.md"
    lines = docs.read_text().splitlines()
    start = lines.index("<!-- inspect-keys: inspect -->")
    documented = []
    for line in lines[start + 3 :]:
        if not line.startswith("| `"):
            break
        documented.append(line.split("`")[1])
    path = make_lora(tmp_path / "l.safetensors", "sd1", modules=2)
    _, out = run(str(path), "--format", "json", "--no-hash")
    assert documented == list(json.loads(out)[0])
