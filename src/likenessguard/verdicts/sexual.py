"""The ``sexual`` detector: is the model made for sexual or explicit content?

The learned model scores every feature (explicit vocabulary by field, training
tags, prompts, base checkpoint). Two rule floors cover what listings taught it
less well: the explicit share of a LoRA's training-tag counts (what the
training images actually showed) and base checkpoints built for pornography.
Cited evidence: the items holding explicit terms, most frequent first.
"""

from __future__ import annotations

import math
from functools import lru_cache

from likenessguard.evidence.base import Evidence
from likenessguard.verdicts import lexicon
from likenessguard.verdicts.base import Facts, Label, LabelResult
from likenessguard.verdicts.cite import rank_by_model
from likenessguard.verdicts.features import evidence_words
from likenessguard.verdicts.model import TextModels
from likenessguard.verdicts.policy import Policy

TRAINING_TAG_FIELDS = frozenset({"ss_tag_frequency"})


@lru_cache(maxsize=1 << 15)
def _terms_cached(text: str, signal: str) -> tuple[str, ...]:
    return tuple(lexicon.explicit().find(evidence_words(Evidence("", "", text, signal))))


def explicit_terms(ev: Evidence) -> tuple[str, ...]:
    """Explicit terms in one item (cached for short items, which repeat across artifacts)."""
    if len(ev.text) <= 512:
        return _terms_cached(ev.text, ev.signal)
    return tuple(lexicon.explicit().find(evidence_words(ev)))


def explicit_items(evidence: tuple[Evidence, ...]) -> list[tuple[Evidence, list[str]]]:
    """Evidence items with explicit terms (negative prompts excluded), with the terms."""
    out: list[tuple[Evidence, list[str]]] = []
    for ev in evidence:
        if ev.signal in ("negative-prompt", "hash", "type"):
            continue
        terms = explicit_terms(ev)
        if terms:
            out.append((ev, list(terms)))
    return out


def explicit_tag_share(evidence: tuple[Evidence, ...]) -> float:
    """Estimated share of training images with an explicit tag.

    The most frequent training tag (usually the trigger, in every caption) stands in
    for the number of images; the most frequent explicit tag over it is the share.
    """
    images = 0
    explicit = 0
    for ev in evidence:
        if ev.field in TRAINING_TAG_FIELDS and ev.signal == "tag":
            images = max(images, ev.count)
            if explicit_terms(ev):
                explicit = max(explicit, ev.count)
    return explicit / images if images else 0.0


class SexualDetector:
    label = Label.SEXUAL

    def __init__(self, policy: Policy, models: TextModels | None) -> None:
        self.policy = policy
        self.models = models

    def detect(self, facts: Facts) -> LabelResult:
        w = self.policy.weights["sexual"]
        model = self.models.get("sexual", facts.condition) if self.models else None
        items = explicit_items(facts.evidence)
        score = 0.0
        if model is not None and w["model"] > 0:
            z = model.logit(facts.model_input()) * w["model"]
            score = 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))
        elif items:
            # No model shipped: a plain rule on distinct explicit terms.
            distinct = {t for _, ts in items for t in ts}
            score = min(0.95, 0.3 * len(distinct))
        if explicit_tag_share(facts.evidence) >= w["explicit_tag_share"] > 0:
            score = max(score, w["explicit_tag_floor"])
        if w["porn_base_floor"] > 0:
            bases = lexicon.porn_bases()
            if any(
                ev.signal == "base-model" and bases.find(evidence_words(ev))
                for ev in facts.evidence
            ):
                score = max(score, w["porn_base_floor"])
        fired = score >= self.policy.threshold(self.label)
        if not fired:
            return LabelResult(round(score, 4), False)
        items.sort(key=lambda t: -t[0].count)
        cited = [ev for ev, _ in items]
        if model is not None and len(cited) < self.policy.max_cited:
            cited.extend(
                e
                for e in rank_by_model(model, facts.evidence, self.policy.max_cited)
                if e not in cited
            )
        return LabelResult(round(score, 4), True, tuple(cited[: self.policy.max_cited]))
