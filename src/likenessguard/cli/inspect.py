"""``likenessguard inspect FILE``: everything the readers learned about one model file.

A reviewer deciding on a report wants one screen: what the weights are and why
the tool thinks so, the hashes to look the file up by, what the trainer wrote
in its metadata (its training tags often name the person depicted), and
anything alarming (an ``unsafe-pickle`` import, a header that lies). The file
is never executed; ``--format json`` gives the same as one JSON document.

Exit codes: 0 when at least one artifact was read, 2 when nothing could be
(the errors say why).
"""

from __future__ import annotations

import json
import os
import sys
from collections import Counter
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from likenessguard.artifacts.base import Artifact
from likenessguard.artifacts.open import read_artifacts
from likenessguard.cli.exit_codes import ExitCode

#: Metadata values longer than this are cut in the table view (JSON keeps them whole).
MAX_SHOWN_VALUE = 160


class InspectFormat(StrEnum):
    TABLE = "table"
    JSON = "json"


def top_tags(decoded: Mapping[str, Any], limit: int = 20) -> list[tuple[str, int]]:
    """Training tags by count, summed over kohya dataset folders (``ss_tag_frequency``).

    Bad shapes (a string, non-numeric counts) are skipped: metadata is
    uploader-controlled and only evidence.
    """
    freq = decoded.get("ss_tag_frequency")
    counts: Counter[str] = Counter()
    if isinstance(freq, dict):
        for folder in freq.values():
            if not isinstance(folder, dict):
                continue
            for tag, count in folder.items():
                if isinstance(count, int | float) and not isinstance(count, bool):
                    counts[str(tag).strip()] += int(count)
    return counts.most_common(limit)


def _hashes(artifact: Artifact, path: Path) -> tuple[dict[str, str | None] | None, str | None]:
    """The six hashes of the file behind ``artifact``, or why there are none."""
    try:
        from likenessguard.hashing.file_hashes import hash_file
    except ImportError:
        return None, "hashes unavailable: the hashing module is not installed"
    if artifact.member is not None and path.is_file():
        return None, f"hashes are of the whole archive: run 'likenessguard hash {path}'"
    target = path / artifact.member if artifact.member is not None else path
    if not target.is_file():
        return None, "hashes unavailable: not a regular file"
    try:
        return hash_file(target, data_offset=artifact.data_offset).to_json(), None
    except (OSError, ValueError) as exc:
        return None, f"hashes unavailable: {exc}"


def artifact_record(artifact: Artifact, path: Path, *, with_hashes: bool = True) -> dict[str, Any]:
    """The JSON form of one inspected artifact (documented in docs/records.md)."""
    ident = artifact.identity
    hashes, hash_note = _hashes(artifact, path) if with_hashes else (None, None)
    return {
        "path": artifact.path,
        "member": artifact.member,
        "size": artifact.size,
        "format": artifact.format.value,
        "kind": ident.kind.value,
        "algo": ident.algo,
        "base_family": ident.base_family.value,
        "key_scheme": ident.key_scheme.value,
        "rank": ident.rank,
        "alpha": ident.alpha,
        "modules": ident.modules,
        "dtype": ident.dtype,
        "tensors": len(artifact.tensors),
        "data_offset": artifact.data_offset,
        "reasons": list(ident.reasons),
        "hashes": hashes,
        "hash_note": hash_note,
        "metadata": dict(artifact.decoded),
        "top_tags": [{"tag": tag, "count": count} for tag, count in top_tags(artifact.decoded)],
        "findings": [f.to_json() for f in artifact.findings],
        "warnings": list(artifact.warnings),
        "errors": list(artifact.errors),
    }


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    text = text.replace("\n", " ")
    return text if len(text) <= MAX_SHOWN_VALUE else text[: MAX_SHOWN_VALUE - 1] + "…"


def _print(console: Console, record: dict[str, Any]) -> None:
    title = escape(record["path"]) + (f" [dim]({escape(record['member'])})[/dim]"
                                      if record["member"] else "")  # fmt: skip
    console.print(f"[bold]{title}[/bold]  {record['size']:,} bytes, {record['format']}")
    for message in record["errors"]:
        console.print(f"[red]error:[/red] {escape(message)}")
    for finding in record["findings"]:
        console.print(
            f"[bold red]{finding['severity']} {escape(finding['code'])}:[/bold red] "
            f"{escape(finding['message'])}"
        )
    kind = record["kind"] + (f" ({record['algo']})" if record["algo"] else "")
    ident = Table.grid(padding=(0, 2))
    ident.add_column(style="bold")
    ident.add_column()
    rows = [
        ("kind", kind),
        ("base family", record["base_family"]),
        ("key scheme", record["key_scheme"]),
        ("rank / alpha", f"{record['rank'] or '-'} / {record['alpha'] or '-'}"),
        ("modules", str(record["modules"])),
        ("dtype", record["dtype"] or "-"),
        ("tensors", str(record["tensors"])),
    ]
    for label, value in rows:
        ident.add_row(label, escape(str(value)))
    console.print(ident)
    if record["reasons"]:
        console.print("[bold]why[/bold]")
        for reason in record["reasons"]:
            console.print(f"  - {escape(reason)}")
    if record["hashes"]:
        console.print("[bold]hashes[/bold]")
        for name, value in record["hashes"].items():
            console.print(f"  {name:<7} {value or '-'}")
    elif record["hash_note"]:
        console.print(f"[dim]{escape(record['hash_note'])}[/dim]")
    if record["top_tags"]:
        console.print("[bold]top training tags[/bold]")
        tags = Table("tag", "count", box=None, padding=(0, 2), show_edge=False)
        for item in record["top_tags"]:
            tags.add_row(escape(item["tag"]), str(item["count"]))
        console.print(tags)
    meta = {k: v for k, v in record["metadata"].items() if k != "ss_tag_frequency"}
    if meta:
        console.print("[bold]metadata[/bold]")
        table = Table("key", "value", box=None, padding=(0, 2), show_edge=False)
        for key in sorted(meta):
            table.add_row(escape(key), escape(_short(meta[key])))
        console.print(table)
    for message in record["warnings"]:
        console.print(f"[yellow]warning:[/yellow] {escape(message)}")
    console.print()


def inspect_command(
    file: Annotated[
        Path,
        typer.Argument(
            help="A model file, a zip of them, or a diffusers/PEFT folder.", metavar="FILE"
        ),
    ],
    output_format: Annotated[
        InspectFormat,
        typer.Option("--format", "-f", help="table for people, json for scripts."),
    ] = InspectFormat.TABLE,
    no_hash: Annotated[
        bool, typer.Option("--no-hash", help="Skip hashing (faster on large checkpoints).")
    ] = False,
) -> None:
    """Show what FILE is and why: identity with reasons, hashes, metadata, training tags.

    The file is read without executing anything in it (pickles are walked, not loaded).
    """
    path = Path(os.path.abspath(file)) if file.exists() or file.is_symlink() else file
    records = [artifact_record(a, path, with_hashes=not no_hash) for a in read_artifacts(path)]
    if output_format is InspectFormat.JSON:
        sys.stdout.write(json.dumps(records, indent=2, ensure_ascii=False, default=str) + "\n")
    else:
        out = Console(highlight=False, soft_wrap=True)
        for record in records:
            _print(out, record)
    if all(record["errors"] for record in records):
        raise typer.Exit(ExitCode.USAGE)


def register(app: typer.Typer) -> None:
    app.command("inspect")(inspect_command)
