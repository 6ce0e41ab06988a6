"""The verdict and registry commands end to end (real catalog, real files, real process)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from likenessguard.cli.app import build_app
from likenessguard.testing import kohya_metadata, make_lora

runner = CliRunner()
app = build_app()


def run(*args: str) -> tuple[int, str, str]:
    r = runner.invoke(app, list(args))
    return r.exit_code, r.stdout, r.stderr


def test_registry_commands(sqlite_url: str, tmp_path: Path) -> None:
    code, out, _ = run(
        "registry",
        "add",
        "Jane Roe",
        "--alias",
        "J. Roe",
        "--handle",
        "@janeroe",
        "--db",
        sqlite_url,
    )
    assert code == 0 and out.strip().startswith("subj_")
    sid = out.strip()
    people = tmp_path / "people.csv"
    people.write_text("name,aliases\nMary Major,MM\n,\n")
    code, out, err = run("registry", "import", str(people), "--db", sqlite_url)
    assert code == 0 and "imported 1 subjects" in out and "people.csv:3: empty name" in err
    code, out, _ = run("registry", "list", "--db", sqlite_url, "--format", "json")
    assert [s["name"] for s in json.loads(out)] == ["Jane Roe", "Mary Major"]
    code, out, _ = run("registry", "list", "--db", sqlite_url)
    assert f"{sid}  Jane Roe  (J. Roe, @janeroe)  [manual]" in out
    code, out, _ = run("registry", "remove", sid, "--db", sqlite_url)
    assert code == 0
    code, _, err = run("registry", "remove", sid, "--db", sqlite_url)
    assert code == 2 and "no subject" in err


def test_explain_quotes_evidence(sqlite_url: str, tmp_path: Path) -> None:
    run("registry", "add", "Jane Roe", "--db", sqlite_url)
    lora = make_lora(
        tmp_path / "j4ne_r0e_v2.safetensors",
        "sd1",
        metadata=kohya_metadata(
            output_name="j4ne_r0e_v2", base_model="sd1", tags={"nude": 20, "1girl": 20}
        ),
    )
    code, out, _ = run("explain", str(lora), "--db", sqlite_url)
    assert code == 0, out
    assert "severity: high" in out and "subject: subj_" in out
    assert 'file-name:file_name [name] "j4ne_r0e_v2.safetensors"' in out
    assert 'safetensors-metadata:ss_tag_frequency [tag x20] "nude"' in out
    code, out, _ = run("explain", str(lora), "--format", "json")
    data = json.loads(out)
    assert data["verdict"]["severity"] in ("none", "low", "medium", "high") and data["evidence"]
    code, _, err = run("explain", str(tmp_path / "missing.safetensors"))
    assert code == 2 and "does not exist" in err


def test_classify_listings_reports_bad_lines(tmp_path: Path) -> None:
    f = tmp_path / "l.jsonl"
    lines = [
        json.dumps({"id": 1, "name": "Watercolor style", "tags": ["style"]}),
        "{not json",
        json.dumps([1, 2]),
        json.dumps({"id": 4, "name": "13yo girl nude"}),
        json.dumps("make a LoRA of a lighthouse"),
        json.dumps({"id": 6, "modelVersions": [{"images": [{"meta": {"prompt": "a castle"}}]}]}),
    ]
    f.write_text("\n".join(lines) + "\n")
    code, out, err = run("classify-listings", str(f))
    assert code == 0
    rows = [json.loads(x) for x in out.splitlines()]
    assert [r["id"] for r in rows] == [1, 4, 5, 6]
    assert rows[1]["verdict"]["severity"] == "critical"
    assert f"{f}:2: not JSON" in err and f"{f}:3: expected a JSON object, got list" in err
    code, out, _ = run("classify-listings", str(f), "--format", "table")
    assert "critical" in out.splitlines()[1]
    bad = tmp_path / "bad.jsonl"
    bad.write_text("nope\n")
    assert run("classify-listings", str(bad))[0] == 2


def test_guard_exit_codes(sqlite_url: str) -> None:
    run("registry", "add", "Mary Major", "--db", sqlite_url)
    code, out, _ = run("guard", "--prompt", "mary major, nude", "--db", sqlite_url)
    assert code == 1 and out.startswith("BLOCKED")
    code, out, _ = run(
        "guard", "--prompt", "a castle at dawn", "--db", sqlite_url, "--format", "json"
    )
    assert code == 0 and json.loads(out)["blocked"] is False
    code, out, _ = run(
        "guard", "--prompt", "a castle", "--lora-hash", "deadbeef00", "--db", sqlite_url
    )
    assert code == 0 and "not in the catalog" in out


def test_policy_commands(tmp_path: Path) -> None:
    code, out, _ = run("policy", "show")
    assert code == 0 and "thresholds:" in out and "# " in out
    bad = tmp_path / "p.yaml"
    bad.write_text("thresholds: {sexual: 2}\n")
    code, _, err = run("policy", "check", str(bad))
    assert code == 2 and "thresholds.sexual is 2" in err
    bad.write_text("thresholds: {sexual: 0.4}\n")
    code, out, _ = run("policy", "check", str(bad))
    assert code == 0 and "valid policy" in out
    code, out, _ = run("policy", "show", str(bad))
    assert "sexual: 0.4" in out


def test_eval_on_a_small_labelled_file(tmp_path: Path) -> None:
    f = tmp_path / "gold.jsonl"
    recs = [
        {"id": 1, "name": "Jane Roe", "tags": ["celebrity", "actress"], "poi": True, "nsfw": False},
        {"id": 2, "name": "Watercolor style", "tags": ["style"], "poi": False, "nsfw": False},
        {"id": 3, "name": "Nude concept", "tags": ["nsfw", "nude"], "poi": False, "nsfw": True},
    ]
    f.write_text("\n".join(json.dumps(r) for r in recs) + "\n")
    code, out, _ = run("eval", str(f), "--format", "json")
    assert code == 0
    rep = json.loads(out)
    assert rep["records"] == 3 and set(rep["labels"]) == {"real_person", "sexual"}
    assert rep["labels"]["sexual"]["tp"] + rep["labels"]["sexual"]["fn"] == 1
    code, out, _ = run("eval", str(f), "--both")
    assert "as-is" in out and "disguised" in out and "precision" in out


@pytest.mark.slow
def test_console_script_runs() -> None:
    exe = Path(sys.executable).with_name("likenessguard")
    r = subprocess.run(
        [str(exe), "policy", "check", "/nonexistent.yaml"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert r.returncode == 2 and r.stderr.startswith("error: couldn't read policy file")


def test_eval_writes_predictions_without_listing_text(tmp_path: Path) -> None:
    f = tmp_path / "gold.jsonl"
    recs = [
        {"id": 7, "name": "Jane Roe", "tags": ["celebrity", "actress"], "poi": True, "nsfw": False},
        {"name": "Nude concept", "tags": ["nsfw", "nude"], "poi": False, "nsfw": True},
    ]
    f.write_text("\n".join(json.dumps(r) for r in recs) + "\n")
    out_file = tmp_path / "pred.jsonl"
    code, _, _ = run("eval", str(f), "--both", "--predictions", str(out_file))
    assert code == 0
    rows = [json.loads(line) for line in out_file.read_text().splitlines()]
    assert [(r["id"], r["condition"]) for r in rows] == [
        (7, "as-is"),
        (1, "as-is"),  # no id: the record's index in the file
        (7, "disguised"),
        (1, "disguised"),
    ]
    first = rows[0]["labels"]
    assert first["real_person"]["gold"] is True and first["sexual"]["gold"] is False
    assert 0.0 <= first["real_person"]["score"] <= 1.0
    assert rows[1]["labels"]["sexual"]["fired"] is True
    assert "Jane" not in out_file.read_text() and "Nude" not in out_file.read_text()
    code, _, err = run("eval", str(f), "--predictions", str(tmp_path / "no" / "p.jsonl"))
    assert code == 2 and "couldn't write --predictions" in err
