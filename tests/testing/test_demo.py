"""The demo hub is deterministic, small, and its truth manifest matches the files."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import struct
import subprocess
import sys
import zipfile
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import typer
from safetensors import safe_open
from typer.testing import CliRunner

from likenessguard.cli import demo_hub as demo_hub_cli
from likenessguard.testing import read_safetensors
from likenessguard.testing.demo import MIN_REPOS, DemoHub, build_demo_hub, load_manifest
from likenessguard.testing.hostile import marker_path

SEVERITIES = {"critical", "high", "medium", "low", "none"}


def _tree(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _data_hash(path: Path) -> str:
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    return hashlib.sha256(raw[8 + n :]).hexdigest()


def test_deterministic_for_a_seed_and_rebuilt_in_place(tmp_path: Path) -> None:
    a = build_demo_hub(tmp_path / "a", repos=MIN_REPOS, seed=3)
    tree_a = _tree(a.root)
    b = build_demo_hub(tmp_path / "b", repos=MIN_REPOS, seed=3)
    # The unsafe pickle's payload names its marker by absolute path, so it (and
    # its manifest and listing hashes) differ between folders; rebuilding in place covers it.
    unsafe = {f["path"] for f in a.files if f["unsafe_pickle"]}
    tree_b = _tree(b.root)
    assert tree_a.keys() == tree_b.keys()
    assert {
        k: v for k, v in tree_a.items() if k not in unsafe | {"manifest.jsonl", "listings.jsonl"}
    } == {k: v for k, v in tree_b.items() if k not in unsafe | {"manifest.jsonl", "listings.jsonl"}}
    strip = [{**r, "files": [f for f in r["files"] if not f["unsafe_pickle"]]} for r in a.repos]
    assert strip == [
        {**r, "files": [f for f in r["files"] if not f["unsafe_pickle"]]} for r in b.repos
    ]
    # Another seed, built over the first in place: new weights, same layout ...
    c = build_demo_hub(tmp_path / "a", repos=MIN_REPOS, seed=4)
    assert _tree(c.root) != tree_a
    assert [r["repo"] for r in a.repos] == [r["repo"] for r in c.repos]
    # ... and rebuilding the first seed there gives back exactly the first hub.
    assert _tree(build_demo_hub(tmp_path / "a", repos=MIN_REPOS, seed=3).root) == tree_a


def test_too_few_repos_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least 80 repos"):
        build_demo_hub(tmp_path, repos=10)


def test_layout_size_and_manifest(demo_hub: DemoHub) -> None:
    root = demo_hub.root
    assert len(demo_hub.repos) == 200
    assert demo_hub.size_bytes() < 60_000_000
    assert load_manifest(root) == list(demo_hub.repos)
    for entry in demo_hub.repos:
        author, repo = entry["repo"].split("/")
        assert (root / author / repo / "README.md").read_text(encoding="utf-8").startswith("---\n")
        assert 1 <= len(entry["files"]) <= 3
        assert entry["severity"] in SEVERITIES
        for f in entry["files"]:
            path = root / f["path"]
            assert path.is_file(), f["path"]
            data = path.read_bytes()
            if f["member"]:
                with zipfile.ZipFile(path) as zf:
                    data = zf.read(f["member"])
            assert hashlib.sha256(data).hexdigest() == f["sha256"]
    categories = Counter(r["category"] for r in demo_hub.repos)
    for needed in (
        "style",
        "concept",
        "anime_character",
        "generic_woman",
        "real_person",
        "real_person_sexual",
        "real_person_obfuscated",
        "minor_risk_real_person",
        "copy",
        "checkpoint",
        "textual_inversion",
        "peft_folder",
        "gguf",
        "unsafe_pickle",
        "broken",
    ):
        assert categories[needed] >= 1, needed
    severities = Counter(r["severity"] for r in demo_hub.repos)
    assert severities["critical"] >= 1 and severities["high"] >= 5 and severities["medium"] >= 3


def test_severity_follows_the_fixed_order(demo_hub: DemoHub) -> None:
    for r in demo_hub.repos:
        labels = r["labels"]
        if labels["minor_risk"] and (labels["sexual"] or labels["real_person"]):
            assert r["severity"] == "critical"
        elif labels["real_person"] and labels["sexual"]:
            assert r["severity"] == "high"
        elif labels["real_person"]:
            assert r["severity"] == "medium"


def test_people_are_fictional_except_non_sexual_historical_figures(demo_hub: DemoHub) -> None:
    subjects = {r["subject"] for r in demo_hub.repos if r["subject"]}
    real = {"Abraham Lincoln", "Winston Churchill"}
    assert real <= subjects
    for r in demo_hub.repos:
        if r["subject"] in real:
            assert not r["labels"]["sexual"] and not r["labels"]["minor_risk"]
    assert subjects <= {
        "Jane Roe",
        "Mary Major",
        "Alex Doe",
        "Erika Mustermann",
        "Juan Perez",
        "Joe Bloggs",
        "Fred Nurk",
        "Joan Public",
        "Abraham Lincoln",
        "Winston Churchill",
    }


def test_copies_are_what_the_manifest_says(demo_hub: DemoHub) -> None:
    root = demo_hub.root
    copies = [f for f in demo_hub.files if f["copy_of"]]
    methods = Counter(f["copy_method"] for f in copies)
    assert set(methods) == {
        "exact",
        "metadata_stripped",
        "metadata_replaced",
        "bf16_cast",
        "f32_cast",
        "kohya_to_peft",
        "zipped",
    }
    for f in copies:
        src, dst = root / f["copy_of"], root / f["path"]
        method = f["copy_method"]
        if method == "exact":
            assert src.read_bytes() == dst.read_bytes()
            continue
        if method == "zipped":
            with zipfile.ZipFile(dst) as zf:
                info = zf.getinfo(f["member"])
                assert info.compress_type == zipfile.ZIP_DEFLATED
                assert zf.read(info) == src.read_bytes()
            continue
        if method in ("metadata_stripped", "metadata_replaced"):
            assert _data_hash(src) == _data_hash(dst)  # same AutoV3, different file sha256
            assert f["sha256"] != hashlib.sha256(src.read_bytes()).hexdigest()
        s, smeta = read_safetensors(src)
        d, dmeta = read_safetensors(dst)
        if method == "metadata_stripped":
            assert dmeta == {}
        if method == "metadata_replaced":
            assert dmeta["ss_output_name"] != smeta["ss_output_name"]
        if method in ("bf16_cast", "f32_cast"):
            assert sorted(s) == sorted(d)
            for k in s:  # F16 values survive both casts closely
                assert np.allclose(s[k], d[k], rtol=1e-2, atol=1e-3)
        if method == "kohya_to_peft":
            assert all(k.startswith(("unet.", "text_encoder")) and ".lora_" in k for k in d)
            stems = {k.rsplit(".lora_", 1)[0] for k in d}
            assert len(stems) * 3 == len(s)


def test_banned_csv_lists_originals(demo_hub: DemoHub) -> None:
    with demo_hub.banned_path.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert rows and list(rows[0]) == ["name", "sha256", "source_url", "reason"]
    originals = {f["sha256"]: f for f in demo_hub.files if not f["copy_of"]}
    banned_repos = {r["repo"] for r in demo_hub.repos if r["banned"]}
    for row in rows:
        f = originals[row["sha256"].lower()]  # one row is upper-case hex, as spreadsheets do
        assert f["copy_of"] is None
        assert f["path"].rsplit("/", 1)[0] in banned_repos
        assert row["source_url"].startswith("https://")
    assert any(r["sha256"] != r["sha256"].lower() for r in rows)
    # Every banned original has at least one copy elsewhere in the hub.
    copied = {f["copy_of"] for f in demo_hub.files if f["copy_of"]}
    for row in rows:
        assert originals[row["sha256"].lower()]["path"] in copied


def test_identification_truth_matches_the_files(demo_hub: DemoHub) -> None:
    root = demo_hub.root
    for f in demo_hub.files:
        path = root / f["path"]
        if (
            f["broken"]
            or f["member"]
            or f["format"] not in ("safetensors", "diffusers")
            or f["kind"] not in ("lora", "lycoris", "dora")
        ):
            continue
        with safe_open(str(path), framework="numpy") as st:
            keys = list(st.keys())
        if f["key_scheme"] == "kohya":
            assert all(k.startswith(("lora_unet_", "lora_te")) for k in keys), f["path"]
        elif f["key_scheme"] == "diffusers_peft":
            prefixes = ("unet.", "transformer.", "text_encoder", "base_model.model.")
            assert all(k.startswith(prefixes) for k in keys)
        elif f["key_scheme"] == "comfy":
            assert all(k.startswith("diffusion_model.") for k in keys)
        if f["kind"] == "dora":
            assert any("dora_scale" in k or "lora_magnitude_vector" in k for k in keys)


def test_broken_files_are_rejected_by_the_reference_reader(demo_hub: DemoHub) -> None:
    broken = [f for f in demo_hub.files if f["broken"]]
    assert len(broken) >= 5
    for f in broken:
        with (
            pytest.raises(Exception),  # noqa: B017 - any refusal
            safe_open(str(demo_hub.root / f["path"]), framework="numpy"),
        ):
            pass


def test_unsafe_pickle_is_flagged_and_inert(demo_hub: DemoHub) -> None:
    unsafe = [f for f in demo_hub.files if f["unsafe_pickle"]]
    assert len(unsafe) == 1 and unsafe[0]["format"] == "pickle"
    assert not marker_path(demo_hub.root, "pickle_os_system").exists()


def test_person_metadata_and_sidecars(demo_hub: DemoHub) -> None:
    root = demo_hub.root
    jane = next(r for r in demo_hub.repos if r["repo"] == "lustlab/jane-roe-xl")
    assert jane["labels"] == {"real_person": True, "sexual": True, "minor_risk": False}
    path = root / jane["files"][0]["path"]
    _, meta = read_safetensors(path)
    freq = json.loads(meta["ss_tag_frequency"])
    (folder,) = freq
    assert folder == "10_jnrw woman" and freq[folder]["nsfw"] > 0
    info = json.loads(path.with_name(path.stem + ".civitai.info").read_text(encoding="utf-8"))
    assert info["model"]["poi"] is True and info["trainedWords"] == ["jnrw"]
    preview = path.with_name(path.stem + ".preview.png").read_bytes()
    assert b'Lora hashes: "jane_roe_xl: ' + _data_hash(path)[:12].encode() in preview
    full = next(r for r in demo_hub.repos if r["repo"] == "fullsize_uploads/joe-bloggs-xl-full")
    with safe_open(str(root / full["files"][0]["path"]), framework="numpy") as st:
        assert len(list(st.keys())) == 2166  # a full SDXL kohya UNet LoRA
        assert 8_000 < len(json.dumps(st.metadata())) < 20_000


def _app() -> typer.Typer:
    app = typer.Typer()
    demo_hub_cli.register(app)
    return app


def test_cli_builds_the_hub(tmp_path: Path) -> None:
    runner = CliRunner()
    done = runner.invoke(_app(), [str(tmp_path / "hub"), "--repos", "80", "--seed", "2"])
    assert done.exit_code == 0, done.stderr
    assert "built 80 repos" in done.stdout and "critical" in done.stdout
    assert len(load_manifest(tmp_path / "hub")) == 80
    bad = runner.invoke(
        _app(), [str(tmp_path / "x"), "--repos", "80", "--seed", "2", "--repos", "5"]
    )
    assert bad.exit_code == 2
    assert bad.stderr.strip() == (
        "error: --repos 5 is too small: the demo hub needs at least 80 repos for its fixed cases"
    )
    (tmp_path / "file").write_text("x")
    clash = runner.invoke(_app(), [str(tmp_path / "file")])
    assert clash.exit_code == 2 and "is not a folder" in clash.stderr


def test_entry_point_has_the_command() -> None:
    cli = Path(sys.executable).with_name("likenessguard")
    done = subprocess.run(
        [str(cli), "demo-hub", "--help"],
        capture_output=True,
        text=True,
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200"},
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "--repos" in done.stdout and "--seed" in done.stdout


def test_rebuild_never_deletes_outside_the_hub(tmp_path: Path) -> None:
    hub = tmp_path / "hub"
    hub.mkdir()
    outside = tmp_path / "precious"
    outside.mkdir()
    (outside / "keep.txt").write_text("keep")
    (hub / "link").symlink_to(outside)
    lines = [
        {"repo": "../precious"},
        {"repo": str(outside) + "/x"},
        {"repo": "link/x"},
        {"repo": "./x"},
        "not json",
    ]
    (hub / "manifest.jsonl").write_text(
        "\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines), encoding="utf-8"
    )
    build_demo_hub(hub, repos=MIN_REPOS)
    assert (outside / "keep.txt").read_text() == "keep"
    assert (hub / "link").is_symlink()


def test_listings_mirror_the_repos(demo_hub: DemoHub) -> None:
    lines = demo_hub.listings_path.read_text(encoding="utf-8").splitlines()
    listings = [json.loads(line) for line in lines]
    truth = {r["repo"]: r for r in demo_hub.repos}
    assert len(listings) >= 180 and len({x["id"] for x in listings}) == len(listings)
    shared_keys = ["id", "type", "name", "poi", "nsfw", "tags", "description", "versions"]
    for x in listings:
        assert list(x)[: len(shared_keys)] == shared_keys
        repo = truth[x["repo"]]
        assert x["poi"] == repo["labels"]["real_person"] and x["nsfw"] == repo["labels"]["sexual"]
        (version,) = x["versions"]
        manifest_hashes = {f["sha256"].upper() for f in repo["files"]}
        for f in version["files"]:
            assert f["hashes"]["SHA256"] in manifest_hashes
            assert f["hashes"]["AutoV2"] == f["hashes"]["SHA256"][:10]
    jane = next(x for x in listings if x["repo"] == "lustlab/jane-roe-xl")
    assert jane["versions"][0]["trainedWords"] == ["jnrw woman"]
    assert any("jnrw" in i["prompt"] for i in jane["versions"][0]["images"])
    stripped = next(x for x in listings if x["repo"] == "mirrorbot/test-model")
    assert (
        stripped["name"] == "Test model" and stripped["poi"] is True
    )  # disguised: words say nothing
