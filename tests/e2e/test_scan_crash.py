"""Crash safety, for real: SIGKILL a scan mid-way, run it again, get the uninterrupted catalog.

The scan commits records in batches; a file is skipped on re-scan only when its
row exists with the same stat key. So whatever batch a kill loses is simply
scanned again, and nothing is lost or doubled. This test kills the real
console script (and its worker processes) while rows are being committed.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from likenessguard.banks.base import BankEntry
from likenessguard.store.banks import add_entries, create_bank
from likenessguard.store.db import open_catalog
from likenessguard.testing import make_lora

CLI = [sys.executable, "-c", "from likenessguard.cli.app import main; main()"]
DISTINCT = 40
COPIES = 10


def _scan(root: Path, db: Path, *extra: str) -> list[str]:
    return [*CLI, "scan", str(root), "--db", f"sqlite:///{db}", "-q", "-f", "jsonl", *extra]


def _rows(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as conn:
            return int(conn.execute("SELECT count(*) FROM artifacts").fetchone()[0])
    except sqlite3.OperationalError:  # not migrated yet, or busy
        return 0


def _catalog(db: Path) -> set[tuple[str, str | None, str, bytes | None, str]]:
    """Every record with its stored fingerprint and match rows (what the review app reads)."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        rows = conn.execute(
            "SELECT a.uri, a.sha256, a.record, f.vector,"
            " (SELECT group_concat(m.bank || ':' || m.entry_id || ':' || m.method, ',')"
            "  FROM matches m WHERE m.artifact_id = a.id)"
            " FROM artifacts a LEFT JOIN fingerprints f ON f.artifact_id = a.id"
        ).fetchall()
    uris = [r[0] for r in rows]
    assert len(uris) == len(set(uris))
    return {
        (uri, sha, json.dumps(json.loads(rec), sort_keys=True), fp, matches or "")
        for uri, sha, rec, fp, matches in rows
    }


def _with_bank(db: Path, seeds: Path) -> None:
    """A catalog whose bank bans every fourth seed by sha256 (same entry ids in every catalog)."""
    engine = open_catalog(f"sqlite:///{db}")
    try:
        create_bank(engine, "bans")
        entries = [
            BankEntry(name=f"seed {i}", sha256=hashlib.sha256(p.read_bytes()).hexdigest())
            for i in range(0, DISTINCT, 4)
            for p in [seeds / f"lora_{i}.safetensors"]
        ]
        add_entries(engine, "bans", entries)
    finally:
        engine.dispose()


@pytest.fixture
def hub(tmp_path: Path) -> Path:
    root = tmp_path / "models"
    seeds = tmp_path / "seeds"
    for i in range(DISTINCT):
        make_lora(seeds / f"lora_{i}.safetensors", rank=2, modules=30, seed=i)
    for copy in range(COPIES):
        folder = root / f"user_{copy:02d}"
        folder.mkdir(parents=True)
        for i in range(DISTINCT):
            shutil.copyfile(seeds / f"lora_{i}.safetensors", folder / f"lora_{i}.safetensors")
    return root


@pytest.mark.slow
def test_sigkill_then_rescan_equals_an_uninterrupted_scan(tmp_path: Path, hub: Path) -> None:
    total = DISTINCT * COPIES
    killed_db, fresh_db = tmp_path / "killed.db", tmp_path / "fresh.db"
    for db in (killed_db, fresh_db):
        _with_bank(db, tmp_path / "seeds")
    proc = subprocess.Popen(
        _scan(hub, killed_db, "--jobs", "2"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: the kill takes the workers too
    )
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and proc.poll() is None and _rows(killed_db) == 0:
            time.sleep(0.01)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, "the scan ended before it could be killed"
    at_kill = _rows(killed_db)
    assert 0 < at_kill < total

    rerun = subprocess.run(
        _scan(hub, killed_db), capture_output=True, text=True, timeout=300, check=False
    )
    assert rerun.returncode == 1, rerun.stderr  # the banned copies are findings
    assert len(rerun.stdout.splitlines()) == total  # skipped files are still reported

    fresh = subprocess.run(
        _scan(hub, fresh_db), capture_output=True, text=True, timeout=300, check=False
    )
    assert fresh.returncode == 1, fresh.stderr

    resumed = _catalog(killed_db)
    assert len(resumed) == total
    assert sum(1 for *_, fp, _m in resumed if fp) == total  # every fingerprint indexed
    assert sum(1 for *_, m in resumed if m) == (DISTINCT // 4) * COPIES  # every match indexed
    assert resumed == _catalog(fresh_db)
