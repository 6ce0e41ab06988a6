"""SARIF 2.1.0: scan results in the format code-scanning dashboards and CI gates read.

Each reader finding, fired verdict label, bank match and read error becomes
one SARIF ``result`` with a stable ``ruleId`` (``likenessguard/unsafe-pickle``,
``likenessguard/real-person``, ``likenessguard/bank-match``,
``likenessguard/unreadable``...), a level from the record's effective
severity, and the artifact's URI as its location, so a platform can gate
uploads in CI and see why in GitHub code scanning or any SARIF viewer.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TextIO

from likenessguard import __version__
from likenessguard.reports.base import severity_of, sort_key
from likenessguard.verdicts.base import Severity

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_VERSION = "2.1.0"
INFORMATION_URI = "https://github.com/likenessguard/likenessguard"


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    name: str
    short: str
    full: str
    level: str

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "shortDescription": {"text": self.short},
            "fullDescription": {"text": self.full},
            "defaultConfiguration": {"level": self.level},
            "helpUri": f"{INFORMATION_URI}/blob/main/docs/records.md",
        }


RULES: dict[str, Rule] = {
    r.id: r
    for r in (
        Rule(
            "likenessguard/unsafe-pickle",
            "UnsafePickle",
            "Loading this checkpoint would run code embedded in it.",
            "The pickle imports callables outside the allow-list of tensor rebuilders; "
            "loading it with torch.load would execute them. It was never unpickled.",
            "error",
        ),
        Rule(
            "likenessguard/real-person",
            "RealPerson",
            "The model reproduces an identifiable real person.",
            "Evidence from names, training tags, dataset folders or the card points to a real "
            "person's likeness; see the cited evidence.",
            "warning",
        ),
        Rule(
            "likenessguard/sexual",
            "Sexual",
            "The model is made for sexual content.",
            "Explicit vocabulary or an explicit share of training tags was found.",
            "warning",
        ),
        Rule(
            "likenessguard/minor-risk",
            "MinorRisk",
            "The model carries minor-risk signals.",
            "Age terms, school settings or child-associated descriptors were found; "
            "combined with sexual or real-person signals this is critical.",
            "error",
        ),
        Rule(
            "likenessguard/bank-match",
            "BankMatch",
            "The file matches an entry of a ban bank.",
            "An exact hash or a weight fingerprint matched a bank entry: this is a copy "
            "(possibly disguised) of a model that was banned.",
            "error",
        ),
        Rule(
            "likenessguard/unreadable",
            "Unreadable",
            "The file could not be fully read, so it was not fully checked.",
            "The file is truncated, corrupt, hostile or unreadable; the message says which "
            "and what to do.",
            "warning",
        ),
        Rule(
            "likenessguard/finding",
            "Finding",
            "A reader reported a security-relevant finding.",
            "See the message for the reader's finding.",
            "warning",
        ),
    )
}

# How effective severity maps to SARIF levels for content results.
LEVELS: dict[Severity, str] = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.NONE: "note",
}


def _rule_for_finding(code: str) -> Rule:
    rule_id = f"likenessguard/{code}"
    if rule_id in RULES:
        return RULES[rule_id]
    return Rule(
        rule_id,
        "".join(part.capitalize() for part in code.replace("_", "-").split("-")) or "Finding",
        f"Reader finding: {code}.",
        "A reader reported this security-relevant finding; see the message.",
        "warning",
    )


def _uri(record: Mapping[str, Any]) -> str:
    location = record.get("location") or {}
    return str(location.get("url") or location.get("uri") or record.get("path") or "")


def _evidence_text(result: Mapping[str, Any], limit: int = 3) -> str:
    quotes = []
    for ev in (result.get("evidence") or ())[:limit]:
        quotes.append(f'{ev.get("source")}/{ev.get("field")}: "{ev.get("text")}"')
    return "; ".join(quotes)


def _fingerprint(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


def record_results(record: Mapping[str, Any], rules: dict[str, Rule]) -> list[dict[str, Any]]:
    """The SARIF results of one record; rules used are added to ``rules``."""
    uri = _uri(record)
    sev = severity_of(record)
    level = LEVELS[sev]
    sha = (record.get("hashes") or {}).get("sha256")
    base_props: dict[str, Any] = {"severity": sev.label}
    if sha:
        base_props["sha256"] = sha
    if record.get("member"):
        base_props["member"] = record["member"]
    out: list[dict[str, Any]] = []

    def add(rule: Rule, lvl: str, text: str, key: str, **props: Any) -> None:
        rules.setdefault(rule.id, rule)
        out.append(
            {
                "ruleId": rule.id,
                "level": lvl,
                "message": {"text": text},
                "locations": [{"physicalLocation": {"artifactLocation": {"uri": uri}}}],
                "partialFingerprints": {
                    "likenessguard/v1": _fingerprint(rule.id, str(record.get("location")), key)
                },
                "properties": {**base_props, **props},
            }
        )

    for finding in record.get("findings") or ():
        code = str(finding.get("code") or "finding")
        rule = _rule_for_finding(code)
        finding_sev = Severity.CRITICAL if code == "unsafe-pickle" else sev
        add(rule, LEVELS[finding_sev], str(finding.get("message")), code)
    verdict = record.get("verdict") or {}
    labels = (verdict.get("labels") or {}) if isinstance(verdict, Mapping) else {}
    for name in sorted(labels):
        result = labels[name]
        if not result.get("fired"):
            continue
        rule = RULES.get(f"likenessguard/{name.replace('_', '-')}") or _rule_for_finding(name)
        why = _evidence_text(result)
        score = float(result.get("score", 0.0))
        text = f"{name} fired (score {score:.2f})" + (f": {why}" if why else "")
        if verdict.get("subject"):
            text += f"; subject {verdict['subject']}"
        add(rule, level, text, name, score=score)
    for match in record.get("matches") or ():
        if match.get("negative"):
            continue
        entry = match.get("entry") or {}
        name = entry.get("name") or entry.get("id") or "?"
        text = (
            f"matches {match.get('bank')}:{name} by {match.get('method')} "
            f"(similarity {float(match.get('similarity', 1.0)):.2f})"
        )
        if entry.get("reason"):
            text += f"; banned for: {entry['reason']}"
        add(
            RULES["likenessguard/bank-match"],
            "error",
            text,
            f"{match.get('bank')}/{entry.get('id')}/{match.get('method')}",
            bank=match.get("bank"),
            method=match.get("method"),
            similarity=match.get("similarity"),
        )
    for i, error in enumerate(record.get("errors") or ()):
        add(RULES["likenessguard/unreadable"], "warning", str(error), f"error{i}")
    return out


class SarifReport:
    """Collects records and writes one SARIF 2.1.0 log with a single run."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.records: list[Mapping[str, Any]] = []

    def add(self, record: Mapping[str, Any]) -> None:
        self.records.append(record)

    def document(self) -> dict[str, Any]:
        """The SARIF log as a dict (what ``close`` writes)."""
        rules: dict[str, Rule] = {}
        results: list[dict[str, Any]] = []
        for record in sorted(self.records, key=sort_key):
            results.extend(record_results(record, rules))
        # Every built-in rule is declared so dashboards know them before they fire.
        for rule_id, rule in RULES.items():
            rules.setdefault(rule_id, rule)
        ordered = sorted(rules.values(), key=lambda r: r.id)
        index = {r.id: i for i, r in enumerate(ordered)}
        for result in results:
            result["ruleIndex"] = index[result["ruleId"]]
        return {
            "$schema": SARIF_SCHEMA,
            "version": SARIF_VERSION,
            "runs": [
                {
                    "tool": {
                        "driver": {
                            "name": "likenessguard",
                            "version": __version__,
                            "semanticVersion": __version__,
                            "informationUri": INFORMATION_URI,
                            "rules": [r.to_json() for r in ordered],
                        }
                    },
                    "results": results,
                    "columnKind": "unicodeCodePoints",
                }
            ],
        }

    def close(self) -> None:
        json.dump(self.document(), self.out, ensure_ascii=False, indent=2)
        self.out.write("\n")
        self.out.flush()
