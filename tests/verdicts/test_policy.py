"""Policy loading and validation: exact, actionable errors; the fixed severity order."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from likenessguard.errors import ConfigError
from likenessguard.verdicts.base import Label, Severity
from likenessguard.verdicts.policy import (
    default_policy,
    default_policy_text,
    load_policy,
    parse_policy,
)


def test_default_policy_is_valid_and_documented() -> None:
    p = default_policy()
    assert p.thresholds[Label.REAL_PERSON] == 0.5
    assert p.severity_for({Label.MINOR_RISK, Label.SEXUAL}) is Severity.CRITICAL
    assert p.severity_for({Label.MINOR_RISK, Label.REAL_PERSON}) is Severity.CRITICAL
    assert p.severity_for({Label.REAL_PERSON, Label.SEXUAL}) is Severity.HIGH
    assert p.severity_for({Label.REAL_PERSON}) is Severity.MEDIUM
    assert p.severity_for({Label.MINOR_RISK}) is Severity.MEDIUM
    assert p.severity_for({Label.SEXUAL}) is Severity.LOW
    assert p.severity_for(set()) is Severity.NONE
    # Every weight key in code is in the shipped YAML (with its comment).
    data = yaml.safe_load(default_policy_text())
    for label, weights in p.weights.items():
        assert set(data["weights"][label]) == set(weights)
    assert (Path(__file__).parents[2] / "docs/policy.md").read_text().count("weights.") >= 10


BASE = [
    {"severity": "critical", "all": ["minor_risk", "sexual"]},
    {"severity": "critical", "all": ["minor_risk", "real_person"]},
]


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        (
            {"thresholds": {"real_person": 1.5}},
            "p.yaml: thresholds.real_person is 1.5: it must be between 0.0 and 1.0",
        ),
        (
            {"thresholds": {"realperson": 0.5}},
            "p.yaml: thresholds: unknown key 'realperson' "
            "(allowed: real_person, sexual, minor_risk)",
        ),
        ({"weights": {"sexual": {"modle": 1}}}, "p.yaml: weights.sexual: unknown key 'modle'"),
        (
            {"weights": {"minor_risk": {"strong": "high"}}},
            "p.yaml: weights.minor_risk.strong must be a number between 0.0 and 1.0, got 'high'",
        ),
        (
            {"severity": [{"severity": "urgent", "all": ["sexual"]}]},
            "p.yaml: severity[0]: unknown severity 'urgent'",
        ),
        (
            {"severity": [{"severity": "low", "all": ["sexy"]}]},
            "p.yaml: severity[0]: unknown label 'sexy'",
        ),
        ({"severity": []}, "p.yaml: severity must be a non-empty list"),
        ({"version": 2}, "p.yaml: version 2 is not supported (use version: 1)"),
        ({"colour": "red"}, "p.yaml: unknown key 'colour'"),
        (
            {"evidence": {"max_cited": 0}},
            "p.yaml: evidence.max_cited must be an integer from 1 to 100, got 0",
        ),
        (
            {
                "severity": [
                    *BASE,
                    {"severity": "high", "all": ["real_person", "sexual"]},
                    {"severity": "low", "all": ["real_person"]},
                ]
            },
            "p.yaml: severity rules rank real_person as low, below medium: "
            "the severity order is fixed",
        ),
        (
            {
                "severity": [
                    *BASE,
                    {"severity": "medium", "all": ["real_person"]},
                    {"severity": "high", "all": ["real_person", "sexual"]},
                ]
            },
            "rank real_person + sexual as medium, below high",
        ),
    ],
)
def test_validation_errors_name_the_key(doc: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_policy(doc, "p.yaml")
    assert message in str(err.value)


def test_load_policy_file_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("thresholds:\n  sexual: [0.5\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml:\d+: not valid YAML"):
        load_policy(bad)
    with pytest.raises(ConfigError, match="couldn't read policy file"):
        load_policy(tmp_path / "missing.yaml")
    good = tmp_path / "strict.yaml"
    good.write_text("thresholds: {sexual: 0.3}\n")
    p = load_policy(good)
    assert p.thresholds[Label.SEXUAL] == 0.3
    assert p.thresholds[Label.REAL_PERSON] == 0.5  # defaults fill the rest
    assert p.severity_for({Label.REAL_PERSON, Label.SEXUAL}) is Severity.HIGH


def test_policy_thresholds_change_verdicts() -> None:
    from likenessguard.verdicts.judge import judge_listing

    record = {"name": "Look", "versions": [{"images": [{"prompt": "petite"}]}]}
    strict = parse_policy({"thresholds": {"minor_risk": 0.3}}, "strict")
    assert judge_listing(record, strict, models=None).labels[Label.MINOR_RISK].fired
    assert not judge_listing(record, models=None).labels[Label.MINOR_RISK].fired


def test_omitted_severity_rules_are_the_default_rules() -> None:
    p = parse_policy({"thresholds": {"sexual": 0.4}}, "x")
    assert [r.to_json() for r in p.severity_rules] == [
        r.to_json() for r in default_policy().severity_rules
    ]
