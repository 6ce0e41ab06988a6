"""Bank files in and out: researchers' spreadsheets, JSONL, Civitai API objects.

What people actually share is messy: a CSV of removed models with a ``SHA256``
column, a JSONL dump, the Civitai API's model objects with their
``modelVersions[].files[].hashes`` (``AutoV2``, ``SHA256``, ``CRC32`` ...), or
a shared-data listing with ``versions[].files[].hashes``. All of them become
:class:`BankEntry` records here, validated line by line: a bad line is an
error that names its line number, and nothing is imported unless every line
is good (or the caller asked to skip bad ones).

Exports are CSV or JSONL with every field, fingerprints included, so another
team can import them unchanged.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from likenessguard.banks.base import ENTRY_FIELDS, HASH_LENGTHS, BankEntry, normalize_hash
from likenessguard.errors import BankFileError
from likenessguard.hashing.fingerprint import Fingerprint

#: Column spellings seen in the wild -> entry field (compared lowercased, ``-``/space as ``_``).
ALIASES: Mapping[str, str] = {
    "sha256": "sha256",
    "sha_256": "sha256",
    "sha256_hash": "sha256",
    "hash": "sha256",
    "autov1": "autov1",
    "auto_v1": "autov1",
    "autov2": "autov2",
    "auto_v2": "autov2",
    "autov3": "autov3",
    "auto_v3": "autov3",
    "blake3": "blake3",
    "crc32": "crc32",
    "crc": "crc32",
    "fingerprint": "fingerprint",
    "name": "name",
    "model_name": "name",
    "model": "name",
    "title": "name",
    "file_name": "name",
    "filename": "name",
    "source_url": "source_url",
    "url": "source_url",
    "link": "source_url",
    "source": "source_url",
    "reason": "reason",
    "notes": "reason",
    "subject": "subject",
    "person": "subject",
    "added_by": "added_by",
    "added_at": "added_at",
    "disabled": "disabled",
    "id": "",  # a local id never travels between catalogs
}
_TRUE = {"1", "true", "yes", "y", "disabled", "x"}
CIVITAI_URL = "https://civitai.com"


@dataclass(frozen=True)
class ImportResult:
    """Entries read from a bank file, and the bad lines that were skipped (with ``skip_bad``)."""

    entries: tuple[BankEntry, ...]
    errors: tuple[str, ...] = ()
    rows: int = 0
    skipped_without_hashes: int = 0
    warnings: tuple[str, ...] = field(default_factory=tuple)


def _field(column: str) -> str | None:
    key = column.strip().lower().replace("-", "_").replace(" ", "_")
    return ALIASES.get(key)


def entry_from_mapping(row: Mapping[str, Any], *, default_added_by: str | None = None) -> BankEntry:
    """Build an entry from a mapping with any known column spellings; ValueError if invalid."""
    values: dict[str, Any] = {}
    for column, raw in row.items():
        name = _field(str(column))
        if not name or raw is None or (isinstance(raw, str) and not raw.strip()):
            continue
        if name in values:
            continue  # the first spelling of a field wins
        text = raw if isinstance(raw, bool) else str(raw).strip()
        if name in HASH_LENGTHS:
            values[name] = normalize_hash(name, str(text))
        elif name == "fingerprint":
            Fingerprint.from_text(str(text))  # validates; raises ValueError with the reason
            values[name] = str(text)
        elif name == "disabled":
            values[name] = text if isinstance(text, bool) else str(text).lower() in _TRUE
        elif name == "added_at":
            try:
                values[name] = datetime.fromisoformat(str(text))
            except ValueError:
                raise ValueError(f"added_at {text!r} is not an ISO 8601 date") from None
        else:
            values[name] = str(text)
    if default_added_by and "added_by" not in values:
        values["added_by"] = default_added_by
    entry = BankEntry(**values)
    if not entry.has_signal():
        hashes = ", ".join(HASH_LENGTHS)
        raise ValueError(f"no hash or fingerprint (give at least one of {hashes}, fingerprint)")
    return entry


def _civitai_entries(obj: Mapping[str, Any]) -> Iterator[BankEntry]:
    """Entries from a Civitai model object, model-version object or shared-data listing."""
    model_id = obj.get("id")
    model_name = obj.get("name")
    versions = obj.get("modelVersions") or obj.get("versions")
    if versions is None and "files" in obj:  # a model-version object
        versions = [obj]
        model_id = obj.get("modelId", model_id)
        model_name = (obj.get("model") or {}).get("name") or model_name
    for version in versions or []:
        vid = version.get("id")
        for f in version.get("files") or []:
            hashes = {str(k).lower(): v for k, v in (f.get("hashes") or {}).items() if v}
            if not hashes:
                continue
            url = None
            if model_id is not None:
                url = f"{CIVITAI_URL}/models/{model_id}"
                if vid is not None and version is not obj:
                    url += f"?modelVersionId={vid}"
            name = " / ".join(
                str(p)
                for p in (
                    model_name,
                    version.get("name") if version is not obj else None,
                    f.get("name"),
                )
                if p
            )
            row: dict[str, Any] = {**hashes, "name": name or None, "source_url": url}
            yield entry_from_mapping(row)


def _is_civitai(obj: Mapping[str, Any]) -> bool:
    return (
        "modelVersions" in obj
        or "versions" in obj
        or ("files" in obj and isinstance(obj.get("files"), list))
    )


def _entries_of_object(obj: Any, *, added_by: str | None) -> list[BankEntry]:
    if not isinstance(obj, Mapping):
        raise ValueError(f"expected a JSON object, got {type(obj).__name__}")
    if _is_civitai(obj):
        got = list(_civitai_entries(obj))
        if not got:
            raise ValueError("a Civitai object with no file hashes")
        return [replace(e, added_by=e.added_by or added_by) for e in got]
    return [entry_from_mapping(obj, default_added_by=added_by)]


def parse_bank_text(
    text: str, name: str = "<bank>", *, skip_bad: bool = False, added_by: str | None = None
) -> ImportResult:
    """Parse a bank file's text (format judged from its name and first character).

    Args:
        text: the file's content.
        name: the file name (``.csv``/``.tsv``, ``.jsonl``/``.ndjson``, ``.json``).
        skip_bad: keep going past bad lines (they are returned as ``errors``).
        added_by: ``added_by`` for entries that do not say.

    Raises:
        BankFileError: a bad line and ``skip_bad`` is False (nothing is imported then),
            or the file is not a bank file at all.
    """
    lower = name.lower()
    stripped = text.lstrip("\ufeff").lstrip()
    if lower.endswith((".jsonl", ".ndjson")) or (
        not lower.endswith((".csv", ".tsv", ".json"))
        and stripped.startswith("{")
        and "\n{" in stripped
    ):
        return _parse_jsonl(text, name, skip_bad=skip_bad, added_by=added_by)
    if lower.endswith(".json") or stripped.startswith(("[", "{")):
        return _parse_json(stripped, name, skip_bad=skip_bad, added_by=added_by)
    return _parse_csv(text.lstrip("\ufeff"), name, skip_bad=skip_bad, added_by=added_by)


def _finish(
    entries: list[BankEntry],
    errors: list[tuple[int | None, str]],
    rows: int,
    name: str,
    skip_bad: bool,
) -> ImportResult:
    if errors and not skip_bad:
        line, message = errors[0]
        more = f" (and {len(errors) - 1} more bad lines)" if len(errors) > 1 else ""
        raise BankFileError(
            f"{name}: {message}{more}; nothing was imported: fix the file or pass --skip-bad",
            line=line,
        )
    messages = tuple(f"line {ln}: {msg}" if ln is not None else msg for ln, msg in errors)
    return ImportResult(entries=tuple(entries), errors=messages, rows=rows)


def _parse_csv(text: str, name: str, *, skip_bad: bool, added_by: str | None) -> ImportResult:
    sample = text[:4096]
    try:
        dialect: Any = csv.Sniffer().sniff(sample, delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel_tab if name.lower().endswith(".tsv") else csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    try:
        header = next(reader)
    except StopIteration:
        raise BankFileError(f"{name} is empty", line=1) from None
    known = [c for c in header if _field(c)]
    if not any(_field(c) in HASH_LENGTHS or _field(c) == "fingerprint" for c in known):
        cols = ", ".join(repr(c) for c in header[:10])
        raise BankFileError(
            f"{name}: the header ({cols}) names no hash column; "
            "add a column named sha256, autov2, autov3, blake3, crc32, autov1 or fingerprint",
            line=1,
        )
    entries: list[BankEntry] = []
    errors: list[tuple[int | None, str]] = []
    rows = 0
    for row in reader:
        line = reader.line_num
        if not row or all(not c.strip() for c in row):
            continue
        rows += 1
        if len(row) > len(header):
            errors.append((line, f"{len(row)} fields but the header has {len(header)}"))
            continue
        try:
            entries.append(
                entry_from_mapping(dict(zip(header, row, strict=False)), default_added_by=added_by)
            )
        except ValueError as exc:
            errors.append((line, str(exc)))
    return _finish(entries, errors, rows, name, skip_bad)


def _parse_jsonl(text: str, name: str, *, skip_bad: bool, added_by: str | None) -> ImportResult:
    entries: list[BankEntry] = []
    errors: list[tuple[int | None, str]] = []
    rows = 0
    for line_no, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        rows += 1
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            errors.append((line_no, f"not valid JSON ({exc.msg} at column {exc.colno})"))
            continue
        try:
            entries.extend(_entries_of_object(obj, added_by=added_by))
        except ValueError as exc:
            errors.append((line_no, str(exc)))
    return _finish(entries, errors, rows, name, skip_bad)


def _parse_json(text: str, name: str, *, skip_bad: bool, added_by: str | None) -> ImportResult:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BankFileError(f"{name} is not valid JSON: {exc.msg}", line=exc.lineno) from None
    if isinstance(data, Mapping) and isinstance(data.get("items"), list):
        items = data["items"]  # a Civitai API list response
    elif isinstance(data, Mapping) and isinstance(data.get("entries"), list):
        items = data["entries"]
    elif isinstance(data, list):
        items = data
    else:
        items = [data]
    entries: list[BankEntry] = []
    errors: list[tuple[int | None, str]] = []
    for i, obj in enumerate(items):
        try:
            entries.extend(_entries_of_object(obj, added_by=added_by))
        except ValueError as exc:
            errors.append((None, f"item {i}: {exc}"))
    return _finish(entries, errors, len(items), name, skip_bad)


def read_bank_file(
    path: str | Path, *, skip_bad: bool = False, added_by: str | None = None
) -> ImportResult:
    """Read a bank file from disk (see :func:`parse_bank_text`)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BankFileError(
            f"{p} is not UTF-8 text (byte {exc.start}): export it as UTF-8 CSV"
        ) from None
    except OSError as exc:
        raise BankFileError(f"couldn't read {p}: {exc.strerror or exc}") from None
    return parse_bank_text(text, p.name, skip_bad=skip_bad, added_by=added_by)


def merge_duplicates(entries: Iterable[BankEntry]) -> tuple[list[BankEntry], int]:
    """Merge entries that are the same model (shared sha256/blake3/autov3/fingerprint).

    Returns:
        The merged entries (first-seen order) and how many inputs were folded into others.
    """
    out: list[BankEntry] = []
    by_key: dict[str, int] = {}
    merged = 0
    for entry in entries:
        hits = {by_key[k] for k in entry.identity_keys() if k in by_key}
        if not hits:
            out.append(entry)
            idx = len(out) - 1
        else:
            idx = min(hits)
            out[idx] = out[idx].merged(entry)
            merged += 1
        for k in out[idx].identity_keys():
            by_key[k] = idx
    return out, merged


#: Export columns, in order (``id`` is local to a catalog and not exported).
EXPORT_FIELDS: tuple[str, ...] = tuple(f for f in ENTRY_FIELDS if f != "id")


def write_bank(entries: Iterable[BankEntry], out: TextIO, fmt: str = "csv") -> int:
    """Write entries as ``csv`` or ``jsonl``; return how many were written."""
    n = 0
    if fmt == "jsonl":
        for entry in entries:
            out.write(json.dumps(entry.to_json(), ensure_ascii=False, sort_keys=False) + "\n")
            n += 1
        return n
    if fmt != "csv":
        raise ValueError(f"unknown bank export format {fmt!r}: use csv or jsonl")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(EXPORT_FIELDS)
    for entry in entries:
        data = entry.to_json()
        writer.writerow(["true" if data.get(f) is True else data.get(f, "") for f in EXPORT_FIELDS])
        n += 1
    return n
