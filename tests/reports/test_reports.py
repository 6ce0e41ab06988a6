"""Every report format renders the same records faithfully: JSONL, JSON, SARIF 2.1.0, table."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from likenessguard.artifacts.base import Artifact, BaseFamily, Finding, Format, Identity, Kind
from likenessguard.banks.base import Match
from likenessguard.evidence.base import Evidence
from likenessguard.hashing.base import FileHashes
from likenessguard.reports.base import ReportFormat, make_report
from likenessguard.reports.jsonl import JsonlReport
from likenessguard.reports.sarif import RULES, SARIF_VERSION
from likenessguard.store.records import Location, ScanRecord
from likenessguard.verdicts.base import Label, LabelResult, Severity, Verdict

SHA = "ab" * 32


def _record(name: str, **kwargs: Any) -> ScanRecord:
    findings = kwargs.pop("findings", ())
    errors = kwargs.pop("errors", ())
    artifact = Artifact(
        path=f"/m/{name}",
        size=10,
        format=Format.SAFETENSORS,
        identity=Identity(kind=Kind.LORA, base_family=BaseFamily.SDXL),
        findings=findings,
        errors=errors,
    )
    hashes = FileHashes(SHA, None, SHA[:10], None, "cd" * 32, "01020304")
    return ScanRecord(
        path=f"/m/{name}",
        size=10,
        location=Location(uri=f"file:///m/{name}"),
        artifact=artifact,
        hashes=hashes,
        **kwargs,
    )


def _records() -> list[ScanRecord]:
    ev = Evidence("safetensors-metadata", "ss_output_name", "Jane Roe", "name")
    sexual = Evidence("safetensors-metadata", "ss_tag_frequency", "explicit", "tag", 40)
    verdict = Verdict(
        Severity.HIGH,
        {
            Label.REAL_PERSON: LabelResult(0.93, True, (ev,)),
            Label.SEXUAL: LabelResult(0.81, True, (sexual,)),
            Label.MINOR_RISK: LabelResult(0.02, False),
        },
        subject="jane-roe",
    )
    return [
        _record("clean.safetensors"),
        _record("person.safetensors", verdict=verdict),
        _record("evil.ckpt", findings=(Finding("unsafe-pickle", "imports os.system"),)),
        _record(
            "copy.safetensors",
            matches=(
                Match("banned", {"id": 7, "name": "old upload", "reason": "likeness"}, "sha256"),
            ),
        ),
        _record("broken.safetensors", errors=("header is truncated; re-download it",)),
    ]


def test_jsonl_streams_one_parseable_line_per_record() -> None:
    out = io.StringIO()
    report = JsonlReport(out)
    records = _records()
    for i, rec in enumerate(records, 1):
        report.add(rec.to_json())
        # Streamed: the line is there before the next record exists.
        assert out.getvalue().count("\n") == i
    report.close()
    lines = out.getvalue().splitlines()
    assert [json.loads(line) for line in lines] == [r.to_json() for r in records]


def test_json_is_one_array_sorted_by_path() -> None:
    out = io.StringIO()
    report = make_report("json", out)
    for rec in _records():
        report.add(rec.to_json())
    report.close()
    data = json.loads(out.getvalue())
    assert [d["path"] for d in data] == sorted(r.path for r in _records())
    assert data == sorted((r.to_json() for r in _records()), key=lambda d: d["path"])


def _sarif(records: list[ScanRecord]) -> dict[str, Any]:
    out = io.StringIO()
    report = make_report(ReportFormat.SARIF, out)
    for rec in records:
        report.add(rec.to_json())
    report.close()
    return json.loads(out.getvalue())  # type: ignore[no-any-return]


def test_sarif_has_the_2_1_0_essentials() -> None:
    log = _sarif(_records())
    assert log["version"] == SARIF_VERSION == "2.1.0"
    assert log["$schema"].endswith("sarif-2.1.0.json")
    (run,) = log["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "likenessguard"
    assert driver["version"]
    rule_ids = [r["id"] for r in driver["rules"]]
    assert len(rule_ids) == len(set(rule_ids))
    for rule in driver["rules"]:
        assert rule["shortDescription"]["text"]
        assert rule["defaultConfiguration"]["level"] in {"none", "note", "warning", "error"}
    fingerprints = set()
    for result in run["results"]:
        assert result["ruleId"] in rule_ids
        assert rule_ids[result["ruleIndex"]] == result["ruleId"]
        assert result["level"] in {"none", "note", "warning", "error"}
        assert result["message"]["text"]
        (loc,) = result["locations"]
        assert loc["physicalLocation"]["artifactLocation"]["uri"].startswith("file:///m/")
        fingerprints.add(result["partialFingerprints"]["likenessguard/v1"])
    assert len(fingerprints) == len(run["results"])


def test_sarif_has_one_result_per_finding_label_match_and_error() -> None:
    results = _sarif(_records())["runs"][0]["results"]
    got = sorted(
        (
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"][10:],
            r["ruleId"],
            r["level"],
        )
        for r in results
    )
    assert got == [
        ("broken.safetensors", "likenessguard/unreadable", "warning"),
        ("copy.safetensors", "likenessguard/bank-match", "error"),
        ("evil.ckpt", "likenessguard/unsafe-pickle", "error"),
        ("person.safetensors", "likenessguard/real-person", "error"),
        ("person.safetensors", "likenessguard/sexual", "error"),
    ]
    person = next(r for r in results if r["ruleId"] == "likenessguard/real-person")
    assert '"Jane Roe"' in person["message"]["text"]
    assert "jane-roe" in person["message"]["text"]
    assert person["properties"]["severity"] == "high"
    assert person["properties"]["sha256"] == SHA
    copy = next(r for r in results if r["ruleId"] == "likenessguard/bank-match")
    assert "banned:old upload" in copy["message"]["text"]


def test_sarif_is_stable_whatever_the_input_order() -> None:
    records = _records()
    assert _sarif(records) == _sarif(list(reversed(records)))
    assert {r.id for r in RULES.values()} <= {
        r["id"] for r in _sarif([])["runs"][0]["tool"]["driver"]["rules"]
    }


def test_table_puts_the_most_severe_first(monkeypatch: pytest.MonkeyPatch) -> None:
    # A narrow COLUMNS from the caller's terminal would wrap the paths this test looks for.
    monkeypatch.delenv("COLUMNS", raising=False)
    out = io.StringIO()
    report = make_report("table", out, color=False)
    for rec in _records():
        report.add(rec.to_json())
    report.close()
    text = out.getvalue()
    order = [text.index(n) for n in ("evil.ckpt", "person.safetensors", "clean.safetensors")]
    assert order == sorted(order)
    assert "critical" in text
    assert "real_person, sexual" in text
    assert "banned:old upload (sha256)" in text
    assert "header is truncated" in text
    assert "\x1b[" not in text  # no colour codes when told so


def test_empty_table_says_so() -> None:
    out = io.StringIO()
    report = make_report("table", out, color=False)
    report.close()
    assert out.getvalue().strip() == "no model files found"


def test_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError):
        make_report("xml", io.StringIO())
