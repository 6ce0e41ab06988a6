"""``judge``: evidence -> detectors -> policy -> one :class:`Verdict`.

The one entry point the scanner, ``explain``, ``classify-listings``, the guard
and the evaluation share, so what is measured is exactly what ships.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from likenessguard.evidence.base import Evidence, EvidenceContext
from likenessguard.evidence.context import extract_all
from likenessguard.evidence.normalize import normalize
from likenessguard.registry.base import Registry
from likenessguard.verdicts.base import Facts, Label, LabelResult, Severity, Verdict
from likenessguard.verdicts.features import ALL, featurize_groups
from likenessguard.verdicts.minor_risk import MinorRiskDetector
from likenessguard.verdicts.model import TextModels, shipped_models
from likenessguard.verdicts.policy import Policy, default_policy
from likenessguard.verdicts.real_person import RealPersonDetector
from likenessguard.verdicts.sexual import SexualDetector

# Title words that say nothing about what a model depicts.
GENERIC = frozenset(
    [
        "lora",
        "loras",
        "lycoris",
        "locon",
        "loha",
        "lokr",
        "dora",
        "model",
        "models",
        "checkpoint",
        "ckpt",
        "v",
        "version",
        "final",
        "new",
        "test",
        "untitled",
        "my",
        "embedding",
        "embeddings",
        "ti",
        "textual",
        "inversion",
        "safetensors",
        "sdxl",
        "sd",
        "xl",
        "flux",
        "pony",
        "merge",
        "mix",
        "beta",
        "alpha",
        "epoch",
        "step",
        "steps",
        "last",
        "output",
        "trained",
        "training",
        "file",
        "upload",
        "reupload",
        "copy",
        "backup",
        "unknown",
        "default",
    ]
)

_SHIPPED = object()


def _is_generic_title(text: str) -> bool:
    return not any(
        len(w) >= 3 and w.isalpha() and w not in GENERIC for w in normalize(text).split()
    )


def choose_condition(evidence: Sequence[Evidence]) -> str:
    """``full`` when tags, a description or a meaningful title are present, else ``disguised``.

    A re-upload under a generic name (``lora_v2``) keeps only triggers, file
    names and prompts; the disguised model was trained on exactly that view.
    """
    for ev in evidence:
        if ev.signal == "tag":
            return "full"
        if ev.signal == "description" and len(ev.text.split()) >= 5:
            return "full"
        if ev.signal == "title" and not _is_generic_title(ev.text):
            return "full"
    return "disguised"


def judge_evidence(
    evidence: Sequence[Evidence],
    policy: Policy | None = None,
    registry: Registry | None = None,
    *,
    models: TextModels | Any | None = _SHIPPED,
) -> Verdict:
    """Judge a list of evidence items (see :func:`judge`)."""
    policy = policy or default_policy()
    tm: TextModels | None = shipped_models() if models is _SHIPPED else models
    ev = tuple(evidence)
    hits = tuple(registry.match(ev)) if registry is not None and len(registry) else ()
    groups = featurize_groups(ev)
    facts = Facts(ev, groups[ALL], choose_condition(ev), hits, groups)
    labels: dict[Label, LabelResult] = {
        Label.REAL_PERSON: RealPersonDetector(policy, tm).detect(facts),
        Label.SEXUAL: SexualDetector(policy, tm).detect(facts),
        Label.MINOR_RISK: MinorRiskDetector(policy).detect(facts),
    }
    fired = {label for label, r in labels.items() if r.fired}
    severity = policy.severity_for(fired) if fired else Severity.NONE
    subject = hits[0].subject.id if hits and labels[Label.REAL_PERSON].fired else None
    return Verdict(severity, labels, subject)


def judge(
    context: EvidenceContext,
    policy: Policy | None = None,
    registry: Registry | None = None,
    *,
    models: TextModels | Any | None = _SHIPPED,
) -> Verdict:
    """The verdict on one artifact or listing.

    Args:
        context: what was seen (artifact metadata, names, card, listing, sidecars, previews).
        policy: thresholds, weights and severity rules (default: the packaged policy).
        registry: protected people; a hit makes ``real_person`` fire and sets ``Verdict.subject``.
        models: the learned models (default: the shipped ones; ``None``: rules only).

    Example::

        verdict = judge(collect_local_context("jane_roe_v2.safetensors"))
        verdict.severity, verdict.labels[Label.REAL_PERSON].evidence
    """
    return judge_evidence(extract_all(context), policy, registry, models=models)


def judge_listing(
    record: Mapping[str, Any],
    policy: Policy | None = None,
    registry: Registry | None = None,
    *,
    models: TextModels | Any | None = _SHIPPED,
) -> Verdict:
    """The verdict on a listing (dev-data shape, raw Civitai API object, or a request text)."""
    return judge(EvidenceContext(listing=record), policy, registry, models=models)


# Bounds of the evidence stored with each scan record (``extra["evidence"]``):
# enough to re-judge against a new registry subject without re-reading files.
STORED_TAGS = 60
STORED_ITEMS = 150
STORED_DESCRIPTION = 300


def compact_evidence(evidence: Sequence[Evidence]) -> list[dict[str, str | int]]:
    """A bounded JSON list of evidence for the catalog (top tags, clipped descriptions)."""
    tags = sorted((e for e in evidence if e.signal == "tag"), key=lambda e: -e.count)[:STORED_TAGS]
    keep_tags = set(map(id, tags))
    out: list[dict[str, str | int]] = []
    for e in evidence:
        if e.signal == "tag" and id(e) not in keep_tags:
            continue
        item = e
        if e.signal == "description" and len(e.text) > STORED_DESCRIPTION:
            item = Evidence(e.source, e.field, e.text[:STORED_DESCRIPTION], e.signal, e.count)
        out.append(item.to_json())
        if len(out) >= STORED_ITEMS:
            break
    return out


def evidence_from_json(items: Any) -> list[Evidence]:
    """Evidence items back from stored JSON; malformed items are skipped."""
    out: list[Evidence] = []
    if not isinstance(items, list):
        return out
    for it in items:
        if not isinstance(it, Mapping):
            continue
        try:
            out.append(
                Evidence(
                    str(it["source"]),
                    str(it["field"]),
                    str(it["text"]),
                    str(it["signal"]),
                    int(it.get("count", 1)),
                )
            )
        except (KeyError, TypeError, ValueError):
            continue
    return out


def rejudge_record(
    record: Mapping[str, Any],
    registry: Registry | None,
    policy: Policy | None = None,
    *,
    models: TextModels | Any | None = _SHIPPED,
) -> Verdict | None:
    """Judge a stored scan record again from its stored evidence (e.g. after a registry change).

    Returns None when the record holds no evidence (scanned without the verdict analyzer).
    Scores can differ slightly from the scan's: only the bounded stored evidence is used.
    """
    items = evidence_from_json(record.get("evidence"))
    if not items:
        return None
    return judge_evidence(items, policy, registry, models=models)
