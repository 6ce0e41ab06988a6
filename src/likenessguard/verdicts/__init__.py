"""Detectors and policy: real-person likeness, sexual intent, minor risk, and severity.

The public surface: :func:`judge` (an :class:`~likenessguard.evidence.base.EvidenceContext`
to a :class:`Verdict`), :func:`judge_listing`, :func:`judge_evidence`,
:func:`rejudge_record`, :func:`check_prompt` (the generation-time guard),
:func:`load_policy` / :func:`default_policy`.
"""

from likenessguard.verdicts.base import Detector, Facts, Label, LabelResult, Severity, Verdict
from likenessguard.verdicts.guard import GuardResult, check_prompt
from likenessguard.verdicts.judge import judge, judge_evidence, judge_listing, rejudge_record
from likenessguard.verdicts.policy import Policy, default_policy, load_policy

__all__ = [
    "Detector",
    "Facts",
    "GuardResult",
    "Label",
    "LabelResult",
    "Policy",
    "Severity",
    "Verdict",
    "check_prompt",
    "default_policy",
    "judge",
    "judge_evidence",
    "judge_listing",
    "load_policy",
    "rejudge_record",
]
