"""The hand-built corpus through the full judge: labels, subjects, severities, citations."""

from __future__ import annotations

import pytest

from likenessguard.registry.base import Registry, Subject, subject_id
from likenessguard.verdicts.base import Label
from likenessguard.verdicts.judge import judge_listing
from tests.verdicts.corpus import CASES, REGISTRY, Case


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry(
        [
            Subject(subject_id(r["name"]), r["name"], tuple(r["aliases"]), tuple(r["handles"]))
            for r in REGISTRY
        ]  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case(case: Case, registry: Registry) -> None:
    v = judge_listing(case.record, registry=registry)
    fired = {str(k) for k, r in v.labels.items() if r.fired}
    assert case.fired <= fired, (
        f"{case.id}: expected {sorted(case.fired)} to fire, got {sorted(fired)}"
    )
    assert not (case.not_fired & fired), f"{case.id}: {sorted(case.not_fired & fired)} fired"
    if case.severity:
        assert v.severity.label == case.severity
    if case.subject:
        assert v.subject == subject_id(case.subject)
    # Every fired label cites evidence, quoted as found in the record.
    for label, r in v.labels.items():
        if r.fired:
            assert r.evidence, f"{case.id}: {label} fired without evidence"
            assert all(0.0 <= r.score <= 1.0 for r in v.labels.values())


def test_minor_risk_recall_is_one(registry: Registry) -> None:
    minor = [c for c in CASES if "minor_risk" in c.fired]
    assert len(minor) >= 15
    hits = sum(
        judge_listing(c.record, registry=registry).labels[Label.MINOR_RISK].fired for c in minor
    )
    assert hits / len(minor) == 1.0


def test_registry_citation_quotes_the_obfuscated_text(registry: Registry) -> None:
    v = judge_listing(CASES[0].record, registry=registry)
    cited = v.labels[Label.REAL_PERSON].evidence
    assert cited[0].text == "J4NE R0E v2" and cited[0].field == "name"
