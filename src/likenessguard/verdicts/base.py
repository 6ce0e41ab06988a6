"""The verdict seam: labels with scores and cited evidence, and the fixed severity order."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from typing import Any, Protocol, runtime_checkable

from likenessguard.evidence.base import Evidence


class Severity(IntEnum):
    """Review priority. The order is fixed by policy and ships: never reorder.

    critical = minor risk with sexual or real person; high = real person + sexual;
    medium = real person; low = some weaker signal; none = nothing fired.
    """

    NONE = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Severity:
        try:
            return cls[text.strip().upper()]
        except KeyError:
            names = ", ".join(s.label for s in cls)
            raise ValueError(f"unknown severity {text!r}: use one of {names}") from None


class Label(StrEnum):
    REAL_PERSON = "real_person"
    SEXUAL = "sexual"
    MINOR_RISK = "minor_risk"


@dataclass(frozen=True, slots=True)
class LabelResult:
    """One detector's outcome: a score in [0,1], whether it fired, and why."""

    score: float
    fired: bool
    evidence: tuple[Evidence, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "score": round(self.score, 4),
            "fired": self.fired,
            "evidence": [e.to_json() for e in self.evidence],
        }


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the policy concluded about one artifact or listing."""

    severity: Severity
    labels: Mapping[Label, LabelResult] = field(default_factory=dict)
    subject: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "severity": self.severity.label,
            "labels": {str(k): v.to_json() for k, v in self.labels.items()},
            "subject": self.subject,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Verdict:
        labels = {
            Label(k): LabelResult(
                score=float(v["score"]),
                fired=bool(v["fired"]),
                evidence=tuple(Evidence(**e) for e in v.get("evidence", ())),
            )
            for k, v in data.get("labels", {}).items()
        }
        return cls(Severity.parse(data["severity"]), labels, data.get("subject"))

    @property
    def score(self) -> float:
        """The highest label score that fired (0 when none did), for queue ordering."""
        return max((r.score for r in self.labels.values() if r.fired), default=0.0)


@dataclass(frozen=True)
class Facts:
    """What every detector sees about one artifact, computed once by ``judge``.

    Attributes:
        evidence: the evidence items (detectors cite from these).
        features: hashed feature ids of all the evidence (``verdicts.features``).
        condition: ``full`` when a name, tags or description are present,
            ``disguised`` when only triggers, file names and prompts are
            (chooses the learned model; see docs/policy.md).
        registry_hits: protected-person registry matches, strongest first.
        groups: the feature ids again, per field group as the stacked models score
            them (``verdicts.features.featurize_groups``); when empty, the models
            see ``features`` as their ``all`` group only.
    """

    evidence: tuple[Evidence, ...]
    features: tuple[int, ...] = ()
    condition: str = "full"
    registry_hits: tuple[Any, ...] = ()
    groups: Mapping[str, tuple[int, ...]] = field(default_factory=dict)

    def model_input(self) -> Mapping[str, tuple[int, ...]]:
        """What a learned model scores: ``groups``, or ``features`` as the ``all`` group."""
        return self.groups or {"all": self.features}


@runtime_checkable
class Detector(Protocol):
    """Scores one label from :class:`Facts`."""

    label: Label

    def detect(self, facts: Facts) -> LabelResult:
        """Return the label's score in [0, 1], whether it crossed the policy
        threshold, and the evidence items that made it fire (quoted as found).

        Must be deterministic, must not raise on odd evidence, and must cite
        at least one evidence item whenever it fires.
        """
        ...
