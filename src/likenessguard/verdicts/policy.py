"""The policy: thresholds, weights and severity rules, from YAML, validated with clear errors.

Platforms differ (a hub that allows adult content still bans sexual models of
real people), so everything a trust-and-safety team tunes lives in a YAML file.
The packaged ``default_policy.yaml`` is the documented default. Validation
names the exact key and what to do; the fixed severity order (critical > high
> medium) cannot be weakened by a policy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from likenessguard.errors import ConfigError
from likenessguard.verdicts.base import Label, Severity

DEFAULT_WEIGHTS: dict[str, dict[str, float]] = {
    "real_person": {
        "model": 1.0,
        "registry": 0.97,
        "name_list": 0.75,
        "likeness_recipe": 0.8,
    },
    "sexual": {
        "model": 1.0,
        "explicit_tag_share": 0.25,
        "explicit_tag_floor": 0.85,
        "porn_base_floor": 0.0,
    },
    "minor_risk": {
        "strong": 0.9,
        "age": 0.95,
        "weak": 0.3,
        "faint": 0.15,
        "description_factor": 0.5,
        "adult_factor": 0.5,
    },
}

# The order no policy may weaken: (labels that fired) -> minimum severity.
FIXED_MINIMUMS: tuple[tuple[frozenset[Label], Severity], ...] = (
    (frozenset({Label.MINOR_RISK, Label.SEXUAL}), Severity.CRITICAL),
    (frozenset({Label.MINOR_RISK, Label.REAL_PERSON}), Severity.CRITICAL),
    (frozenset({Label.REAL_PERSON, Label.SEXUAL}), Severity.HIGH),
    (frozenset({Label.REAL_PERSON}), Severity.MEDIUM),
)


@dataclass(frozen=True)
class SeverityRule:
    severity: Severity
    all: frozenset[Label]

    def to_json(self) -> dict[str, Any]:
        return {"severity": self.severity.label, "all": sorted(str(x) for x in self.all)}


# The default rules (the same as default_policy.yaml), used when a file omits `severity`.
DEFAULT_SEVERITY: tuple[SeverityRule, ...] = (
    *(SeverityRule(s, ls) for ls, s in FIXED_MINIMUMS),
    SeverityRule(Severity.MEDIUM, frozenset({Label.MINOR_RISK})),
    SeverityRule(Severity.LOW, frozenset({Label.SEXUAL})),
)


@dataclass(frozen=True)
class Policy:
    """A validated policy. Build with :func:`load_policy` / :func:`default_policy`."""

    thresholds: Mapping[Label, float]
    weights: Mapping[str, Mapping[str, float]]
    severity_rules: tuple[SeverityRule, ...]
    max_cited: int = 8
    source: str = "default"
    raw: Mapping[str, Any] = field(default_factory=dict)

    def threshold(self, label: Label) -> float:
        return self.thresholds[label]

    def weight(self, label: str, key: str) -> float:
        return self.weights[label][key]

    def severity_for(self, fired: set[Label] | frozenset[Label]) -> Severity:
        """The first matching rule's severity (none when no rule matches)."""
        for rule in self.severity_rules:
            if rule.all <= fired:
                return rule.severity
        return Severity.NONE

    def to_json(self) -> dict[str, Any]:
        return {
            "version": 1,
            "source": self.source,
            "thresholds": {str(k): v for k, v in self.thresholds.items()},
            "weights": {k: dict(v) for k, v in self.weights.items()},
            "severity": [r.to_json() for r in self.severity_rules],
            "evidence": {"max_cited": self.max_cited},
        }


def _num(where: str, value: Any, lo: float, hi: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{where} must be a number between {lo} and {hi}, got {value!r}")
    if not lo <= float(value) <= hi:
        raise ConfigError(f"{where} is {value}: it must be between {lo} and {hi}")
    return float(value)


def _keys(where: str, data: Any, allowed: Sequence[str]) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where} must be a mapping, got {type(data).__name__}")
    for k in data:
        if k not in allowed:
            raise ConfigError(f"{where}: unknown key {k!r} (allowed: {', '.join(allowed)})")
    return data


def parse_policy(data: Any, source: str = "<policy>") -> Policy:
    """Validate a parsed YAML document into a :class:`Policy`; errors name the file and key."""
    top = _keys(
        source,
        data if data is not None else {},
        ("version", "thresholds", "weights", "severity", "evidence"),
    )
    if top.get("version", 1) != 1:
        raise ConfigError(
            f"{source}: version {top.get('version')!r} is not supported (use version: 1)"
        )
    labels = [str(x) for x in Label]
    th_raw = _keys(f"{source}: thresholds", top.get("thresholds", {}), labels)
    thresholds = {
        Label(k): _num(f"{source}: thresholds.{k}", th_raw.get(k, 0.5), 0.0, 1.0) for k in labels
    }
    w_raw = _keys(f"{source}: weights", top.get("weights", {}), labels)
    weights: dict[str, dict[str, float]] = {}
    for label, defaults in DEFAULT_WEIGHTS.items():
        given = _keys(f"{source}: weights.{label}", w_raw.get(label, {}) or {}, tuple(defaults))
        hi = 10.0 if label != "minor_risk" else 1.0
        weights[label] = {
            k: _num(
                f"{source}: weights.{label}.{k}", given.get(k, d), 0.0, 1.0 if k != "model" else hi
            )
            for k, d in defaults.items()
        }
    rules_raw = top.get("severity")
    rules: list[SeverityRule] = []
    if rules_raw is None:
        rules = list(DEFAULT_SEVERITY)
    elif not isinstance(rules_raw, list) or not rules_raw:
        raise ConfigError(f"{source}: severity must be a non-empty list of {{severity, all}} rules")
    else:
        for n, raw_rule in enumerate(rules_raw):
            where = f"{source}: severity[{n}]"
            rule = _keys(where, raw_rule, ("severity", "all"))
            try:
                sev = Severity.parse(str(rule.get("severity", "")))
            except ValueError as exc:
                raise ConfigError(f"{where}: {exc}") from None
            req = rule.get("all")
            if not isinstance(req, list) or not req:
                raise ConfigError(
                    f"{where}: 'all' must be a non-empty list of labels ({', '.join(labels)})"
                )
            for x in req:
                if x not in labels:
                    raise ConfigError(f"{where}: unknown label {x!r} (use {', '.join(labels)})")
            rules.append(SeverityRule(sev, frozenset(Label(x) for x in req)))
    ev = _keys(f"{source}: evidence", top.get("evidence", {}) or {}, ("max_cited",))
    max_cited = ev.get("max_cited", 8)
    if isinstance(max_cited, bool) or not isinstance(max_cited, int) or not 1 <= max_cited <= 100:
        raise ConfigError(
            f"{source}: evidence.max_cited must be an integer from 1 to 100, got {max_cited!r}"
        )
    policy = Policy(thresholds, weights, tuple(rules), max_cited, source, dict(top))
    for fired, minimum in FIXED_MINIMUMS:
        got = policy.severity_for(fired)
        if got < minimum:
            names = " + ".join(sorted(str(x) for x in fired))
            raise ConfigError(
                f"{source}: severity rules rank {names} as {got.label}, below {minimum.label}: "
                "the severity order is fixed; add or reorder a rule"
            )
    return policy


def load_policy(path: str | Path) -> Policy:
    """Load and validate a policy YAML file."""
    p = Path(path)
    try:
        text = p.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"couldn't read policy file {p}: {exc}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{p}:{mark.line + 1}" if mark is not None else str(p)
        raise ConfigError(
            f"{where}: not valid YAML ({getattr(exc, 'problem', exc)}): fix the file"
        ) from None
    return parse_policy(data, str(p))


def default_policy_text() -> str:
    return (
        resources.files("likenessguard.verdicts").joinpath("default_policy.yaml").read_text("utf-8")
    )


_DEFAULT: list[Policy] = []


def default_policy() -> Policy:
    """The packaged default policy (parsed once)."""
    if not _DEFAULT:
        _DEFAULT.append(parse_policy(yaml.safe_load(default_policy_text()), "default_policy.yaml"))
    return _DEFAULT[0]
