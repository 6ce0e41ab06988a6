"""``likenessguard hash`` end to end.

The exit-code contract and the one-line errors are what scripts and CI hooks
rely on. Most cases run the Typer app in-process (the whole CLI takes seconds
to import, and the suite must stay fast); the JSON output, a pipe and the exit
code for a device also go through the real entry point in a subprocess.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from likenessguard.cli.app import build_app
from likenessguard.hashing.base import HASH_NAMES
from likenessguard.hashing.file_hashes import hash_file, hash_path_or_error

CLI = [sys.executable, "-c", "from likenessguard.cli.app import main; main()"]


@dataclass(frozen=True)
class Ran:
    returncode: int
    stdout: str
    stderr: str


@functools.cache
def cli_app() -> typer.Typer:
    return build_app()


def run(*args: str) -> Ran:
    """``likenessguard hash ARGS`` in-process, stdout and stderr kept apart."""
    result = CliRunner().invoke(cli_app(), ["hash", *args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return Ran(result.exit_code, result.stdout, result.stderr)


def run_process(*args: str) -> Ran:
    """The installed entry point, in a subprocess."""
    done = subprocess.run(
        [*CLI, "hash", *args], capture_output=True, text=True, timeout=120, check=False
    )
    return Ran(done.returncode, done.stdout, done.stderr)


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    header = json.dumps({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}).encode()
    lora = tmp_path / "jane_roe_v1.safetensors"
    lora.write_bytes(struct.pack("<Q", len(header)) + header + bytes(range(16)))
    ckpt = tmp_path / "model.ckpt"
    ckpt.write_bytes(os.urandom(3 * 1024 * 1024))  # over 2 MiB: has an autov1
    return {"lora": lora, "ckpt": ckpt}


def test_json_output(files: dict[str, Path]) -> None:
    result = run_process(str(files["lora"]), str(files["ckpt"]), "--format", "json")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    records = json.loads(result.stdout)
    assert [r["path"] for r in records] == [str(files["lora"]), str(files["ckpt"])]
    for record, path in zip(records, (files["lora"], files["ckpt"]), strict=True):
        assert set(record) == {"path", "size", "hashes", "error"}
        assert record["error"] is None
        assert record["size"] == path.stat().st_size
        assert list(record["hashes"]) == list(HASH_NAMES)
        assert record["hashes"] == hash_file(path).to_json()
    lora_data = files["lora"].read_bytes()
    assert records[0]["hashes"]["sha256"] == hashlib.sha256(lora_data).hexdigest()
    assert records[0]["hashes"]["autov3"] == hashlib.sha256(lora_data[-16:]).hexdigest()
    assert records[0]["hashes"]["autov1"] is None
    assert records[1]["hashes"]["autov1"] is not None
    assert records[1]["hashes"]["autov3"] is None


def test_table_output(files: dict[str, Path]) -> None:
    result = run(str(files["lora"]), str(files["ckpt"]))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    lora_hashes = hash_file(files["lora"])
    size = files["lora"].stat().st_size
    assert lines[0] == f"{files['lora']}  ({size:,} bytes)"
    assert lines[1:7] == [
        f"  sha256  {lora_hashes.sha256}",
        "  autov1  -",
        f"  autov2  {lora_hashes.autov2}",
        f"  autov3  {lora_hashes.autov3}",
        f"  blake3  {lora_hashes.blake3}",
        f"  crc32   {lora_hashes.crc32}",
    ]
    assert lines[7] == ""
    assert lines[8].startswith(str(files["ckpt"]))
    assert f"  autov1  {hash_file(files['ckpt']).autov1}" in lines


def test_unreadable_file_is_one_line_and_the_rest_go_on(
    files: dict[str, Path], tmp_path: Path
) -> None:
    missing = tmp_path / "gone.safetensors"
    folder = tmp_path / "folder.safetensors"
    folder.mkdir()
    result = run(str(missing), str(files["lora"]), str(folder), "--format", "json")
    assert result.returncode == 0
    assert result.stderr.splitlines() == [
        f"error: couldn't hash {missing}: No such file or directory; check the path",
        f"error: couldn't hash {folder}: Is a directory; pass a file, not a directory",
    ]
    records = json.loads(result.stdout)
    assert [r["hashes"] is None for r in records] == [True, False, True]
    assert records[0]["error"] == (
        f"couldn't hash {missing}: No such file or directory; check the path"
    )

    table = run(str(missing), str(files["lora"]))
    assert table.returncode == 0
    assert str(missing) not in table.stdout  # errors go to stderr only
    assert table.stdout.startswith(str(files["lora"]))


def test_nothing_hashed_exits_2(tmp_path: Path) -> None:
    result = run(str(tmp_path / "a"), str(tmp_path / "b"))
    assert result.returncode == 2
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 2


def test_no_arguments_is_a_usage_error() -> None:
    result = run()
    assert result.returncode == 2


def test_hash_is_listed_in_help() -> None:
    result = CliRunner().invoke(cli_app(), ["--help"])
    assert result.exit_code == 0
    assert " hash " in result.stdout


def hash_as_nobody(path: Path) -> str:
    """Root reads anything: hash in a forked child that dropped to nobody first."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        code = 1
        try:
            os.close(read_end)
            os.setgid(65534)
            os.setuid(65534)
            os.write(write_end, str(hash_path_or_error(path)).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        message = pipe.read().decode()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    return message


def test_permission_denied() -> None:
    folder = Path(tempfile.mkdtemp())
    try:
        folder.chmod(0o755)
        path = folder / "private.safetensors"
        path.write_bytes(b"x" * 10)
        path.chmod(0)
        message = hash_as_nobody(path) if os.geteuid() == 0 else str(hash_path_or_error(path))
        assert message == (
            f"couldn't hash {path}: Permission denied; "
            "grant read permission or run as a user who has it"
        )
    finally:
        shutil.rmtree(folder)


def _documented_keys(heading_prefix: str) -> list[list[str]]:
    """The first-column keys of each table in the docs/records.md section with that heading."""
    docs = Path(__file__).resolve().parents[2] / "docs" / "records.md"
    section = docs.read_text().split(f"## {heading_prefix}", 1)[1].split("\n## ", 1)[0]
    tables: list[list[str]] = []
    current: list[str] = []
    for line in section.splitlines():
        if line.startswith("| `"):
            current.append(line.split("`")[1])
        elif current:
            tables.append(current)
            current = []
    if current:
        tables.append(current)
    return tables


def test_records_doc_matches_the_output(files: dict[str, Path]) -> None:
    hashes_keys, cli_keys = _documented_keys("Hashes")
    assert hashes_keys == list(HASH_NAMES)
    record = json.loads(run(str(files["lora"]), "--format", "json").stdout)[0]
    assert cli_keys == list(record)
    assert list(record["hashes"]) == hashes_keys


def test_a_pipe_reports_the_bytes_it_read(tmp_path: Path) -> None:
    data = os.urandom(12345)
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    writer = subprocess.Popen(["dd", f"of={fifo}", "status=none"], stdin=subprocess.PIPE)
    proc = subprocess.Popen(
        [*CLI, "hash", "--format", "json", str(fifo)], stdout=subprocess.PIPE, text=True
    )
    assert writer.stdin is not None
    writer.stdin.write(data)
    writer.stdin.close()
    writer.wait(timeout=30)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0
    [record] = json.loads(out)
    assert record["size"] == len(data)
    assert record["hashes"]["sha256"] == hashlib.sha256(data).hexdigest()


def test_devices_are_refused(tmp_path: Path) -> None:
    result = run_process("/dev/zero")
    assert result.returncode == 2
    assert result.stderr == (
        "error: couldn't hash /dev/zero: not a regular file (a device or socket); "
        "pass a regular file\n"
    )
