"""The scanner reads the demo hub as its manifest says: the truth file and the readers agree.

When this fails, either a fixture drifted from what real files look like or a
reader changed its mind; the message names the file and the field.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import typer
from typer.testing import CliRunner

from likenessguard.cli import scan
from likenessguard.testing.demo import DemoHub
from likenessguard.testing.hostile import marker_path


def test_scanner_agrees_with_the_manifest(demo_hub: DemoHub, tmp_path: Path) -> None:
    app = typer.Typer()
    scan.register(app)
    db = f"sqlite:///{tmp_path / 'catalog.db'}"
    result = CliRunner().invoke(
        app,
        ["scan", str(demo_hub.root), "--no-hash", "--format", "jsonl", "--db", db],
        catch_exceptions=False,
    )
    assert result.exit_code in (0, 1), result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    truth: dict[tuple[str, str | None], dict[str, object]] = {}
    for f in demo_hub.files:
        path = str(demo_hub.root / f["path"])
        truth[(path, f["member"])] = f
        # A diffusers folder is one record: the folder, with the weights file as member.
        truth[(os.path.dirname(path), os.path.basename(path))] = f
    assert len(records) == len(demo_hub.files)
    problems = []
    for rec in records:
        f = truth[(rec["path"], rec.get("member"))]
        for field in ("format", "kind", "base_family", "key_scheme"):
            if f[field] is not None and rec[field] != f[field]:
                problems.append(f"{f['path']}: {field} {rec[field]!r}, manifest {f[field]!r}")
        if f["broken"] and not rec["errors"]:
            problems.append(f"{f['path']}: broken on purpose but no errors")
        if f["unsafe_pickle"] and not any(x["code"] == "unsafe-pickle" for x in rec["findings"]):
            problems.append(f"{f['path']}: payload pickle without an unsafe-pickle finding")
    assert not problems, "\n".join(problems)
    assert not marker_path(demo_hub.root, "pickle_os_system").exists()
