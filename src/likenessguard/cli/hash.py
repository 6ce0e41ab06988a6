"""``likenessguard hash FILE...``: the six hashes a moderator looks a model up by.

The quickest answer to "is this the file that was reported?": paste any of the
printed hashes into Civitai's search or a bank lookup. A file that cannot be
read gets one line on stderr and the others are still hashed; the exit code is
2 only when nothing could be hashed.
"""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

from likenessguard.cli.exit_codes import ExitCode
from likenessguard.hashing.base import HASH_NAMES, FileHashes
from likenessguard.hashing.file_hashes import hash_path_or_error


class HashFormat(StrEnum):
    TABLE = "table"
    JSON = "json"


def _record(path: Path, result: FileHashes | str, size: int) -> dict[str, Any]:
    """The JSON form of one file's result (documented in docs/records.md)."""
    if isinstance(result, str):
        return {"path": str(path), "size": None, "hashes": None, "error": result}
    return {"path": str(path), "size": size, "hashes": result.to_json(), "error": None}


def _hash_one(path: Path, err: Console) -> tuple[FileHashes | str, int]:
    """Hash ``path``; return the result and the bytes read (a pipe's size is known only then)."""
    read = [0]

    def seen(position: int) -> None:
        read[0] = position

    if not err.is_terminal:
        return hash_path_or_error(path, on_progress=seen), read[0]
    try:
        total: int | None = path.stat().st_size or None
    except OSError:
        total = None  # hash_path_or_error says why, in its own words
    columns = (
        TextColumn("hashing {task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
    )
    with Progress(*columns, console=err, transient=True) as progress:
        task = progress.add_task(escape(str(path)), total=total)

        def advance(position: int) -> None:
            read[0] = position
            progress.update(task, completed=position)

        result = hash_path_or_error(path, on_progress=advance)
    return result, read[0]


def _print_table(console: Console, records: list[dict[str, Any]]) -> None:
    """One block per hashed file: the path and size, then one hash per line (easy to grep)."""
    width = max(len(name) for name in HASH_NAMES)
    for record in records:
        if record["hashes"] is None:
            continue
        size = record["size"]
        title = escape(record["path"])
        console.print(f"[bold]{title}[/bold]" + ("" if size is None else f"  ({size:,} bytes)"))
        for name in HASH_NAMES:
            value = record["hashes"][name]
            console.print(f"  {name:<{width}}  {'-' if value is None else value}")
        console.print()


def hash_command(
    files: Annotated[
        list[Path],
        typer.Argument(
            help="Model files to hash (any format; autov3 only for safetensors).",
            metavar="FILE",
        ),
    ],
    output_format: Annotated[
        HashFormat,
        typer.Option("--format", "-f", help="table for people, json for scripts."),
    ] = HashFormat.TABLE,
) -> None:
    """Print sha256, autov1, autov2, autov3, blake3 and crc32 of each FILE, as Civitai shows them.

    Each file is read once. autov1 is '-' (null in JSON) for files under 2 MiB,
    autov3 for anything but safetensors. A CRC-32 that does not match may be
    printed byte-reversed by the other tool.
    """
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    records: list[dict[str, Any]] = []
    for path in files:
        result, size = _hash_one(path, err)
        if isinstance(result, str):
            # The message is one line with no markup to interpret.
            err.print(f"error: {result}", markup=False)
        records.append(_record(path, result, size))

    if output_format is HashFormat.JSON:
        sys.stdout.write(json.dumps(records, indent=2) + "\n")
    else:
        # soft_wrap: a long path or digest is never folded, on a pipe or a narrow terminal.
        out = Console(highlight=False, soft_wrap=True)
        _print_table(out, records)

    if not any(record["hashes"] is not None for record in records):
        raise typer.Exit(ExitCode.USAGE)


def register(app: typer.Typer) -> None:
    app.command("hash")(hash_command)
