"""JSON Lines and JSON reports: the machine-readable forms of scan records.

JSONL is the scan's native output: one ``ScanRecord.to_json()`` per line,
written and flushed as each record is produced, so a pipeline downstream
(``jq``, a queue, a SIEM) sees results while a long scan runs and a killed
scan still leaves every finished record behind. JSON is the same records as
one sorted array, for tools that want a document.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, TextIO

from likenessguard.reports.base import sort_key


def dumps_line(record: Mapping[str, Any]) -> str:
    """One record as a single JSON line (UTF-8 kept readable, keys in record order)."""
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"))


class JsonlReport:
    """Writes each record as one line, immediately."""

    def __init__(self, out: TextIO) -> None:
        self.out = out

    def add(self, record: Mapping[str, Any]) -> None:
        self.out.write(dumps_line(record) + "\n")
        self.out.flush()

    def close(self) -> None:
        self.out.flush()


class JsonReport:
    """Collects records and writes one JSON array sorted by path."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.records: list[Mapping[str, Any]] = []

    def add(self, record: Mapping[str, Any]) -> None:
        self.records.append(record)

    def close(self) -> None:
        ordered = sorted(self.records, key=sort_key)
        json.dump([dict(r) for r in ordered], self.out, ensure_ascii=False, indent=2)
        self.out.write("\n")
        self.out.flush()
