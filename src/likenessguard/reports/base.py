"""The report seam: every output format consumes record JSON one record at a time.

Reports take the JSON form of records (``ScanRecord.to_json()``), not live
objects, so the same code renders a scan as it runs and records read back from
the catalog (``likenessguard findings``). Streaming formats (JSONL) write each
record as it arrives; whole-document formats (JSON, SARIF, the table) collect
and write on ``close``.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any, Protocol, TextIO

from likenessguard.store.catalog import record_severity
from likenessguard.verdicts.base import Severity


class ReportFormat(StrEnum):
    """Output formats of ``scan`` and ``findings`` (the ``--format`` values ship)."""

    TABLE = "table"
    JSON = "json"
    JSONL = "jsonl"
    SARIF = "sarif"


class Report(Protocol):
    """A sink for record JSON.

    ``add`` is called once per record in the order records are produced (which
    with ``--jobs`` > 1 is not stable); reports that write a whole document
    sort on ``close`` so their output does not depend on that order.
    """

    def add(self, record: Mapping[str, Any]) -> None:
        """Take one record; streaming reports write it now."""
        ...

    def close(self) -> None:
        """Write whatever was collected and flush the stream; call exactly once."""
        ...


def sort_key(record: Mapping[str, Any]) -> tuple[str, str]:
    """Stable order for whole-document reports: by path, then archive member."""
    return (str(record.get("path") or ""), str(record.get("member") or ""))


def severity_of(record: Mapping[str, Any]) -> Severity:
    """The effective severity (verdict, unsafe-pickle, bank matches) of a record's JSON."""
    return record_severity(record)


def fired_labels(record: Mapping[str, Any]) -> list[str]:
    """Names of the verdict labels that fired, in a fixed order."""
    verdict = record.get("verdict") or {}
    labels = verdict.get("labels") or {} if isinstance(verdict, Mapping) else {}
    return sorted(name for name, result in labels.items() if result.get("fired"))


def make_report(fmt: ReportFormat | str, out: TextIO, **options: Any) -> Report:
    """The report for ``--format`` writing to ``out``.

    Options: ``title`` (table heading), ``color`` (table: force or disable colour).
    """
    fmt = ReportFormat(fmt)
    if fmt is ReportFormat.JSONL:
        from likenessguard.reports.jsonl import JsonlReport

        return JsonlReport(out)
    if fmt is ReportFormat.JSON:
        from likenessguard.reports.jsonl import JsonReport

        return JsonReport(out)
    if fmt is ReportFormat.SARIF:
        from likenessguard.reports.sarif import SarifReport

        return SarifReport(out)
    from likenessguard.reports.table import TableReport

    return TableReport(out, title=options.get("title"), color=options.get("color"))
