"""The ``real_person`` detector: does this model reproduce an identifiable real person?

Signals, combined: the protected-person registry (a hit fires and names the
subject), the learned model over every evidence feature (names, triggers,
training tags, prompts; it has learned person-name structure, single-identity
training sets, photographic styles and the counter-signals of anime, style and
concept LoRAs), and full names from the shipped real-person list in names,
titles, triggers and tags. Declared tags such as "celebrity" are features of
the model, never enough alone.
"""

from __future__ import annotations

from functools import lru_cache

from likenessguard.evidence.base import Evidence
from likenessguard.registry.base import RegistryHit
from likenessguard.verdicts import lexicon
from likenessguard.verdicts.base import Facts, Label, LabelResult
from likenessguard.verdicts.cite import rank_by_model
from likenessguard.verdicts.features import GROUP, evidence_words
from likenessguard.verdicts.likeness import likeness_signals
from likenessguard.verdicts.model import TextModels
from likenessguard.verdicts.policy import Policy

NAME_GROUPS = frozenset("nwt")


def name_list_hits(evidence: tuple[Evidence, ...]) -> list[tuple[Evidence, str]]:
    """Evidence items holding a full (two-word or longer) name from the shipped list."""
    out: list[tuple[Evidence, str]] = []
    for ev in evidence:
        if GROUP.get(ev.signal) not in NAME_GROUPS:
            continue
        name = _full_name(ev.text, ev.signal) if len(ev.text) <= 512 else _full_name_raw(ev)
        if name:
            out.append((ev, name))
    return out


def _full_name_raw(ev: Evidence) -> str | None:
    for name in lexicon.poi_names().find(evidence_words(ev)):
        if len(name.split()) >= 2:
            return name
    return None


@lru_cache(maxsize=1 << 15)
def _full_name(text: str, signal: str) -> str | None:
    return _full_name_raw(Evidence("", "", text, signal))


# Training captions (kohya ss_tag_frequency) describe the images, not the model:
# a photo LoRA's captions say "simple background", which must not read as a
# declared "background" (scenery) LoRA. Only declared tags can say "fictional".
TRAINING_CAPTION_FIELDS = frozenset(["ss_tag_frequency"])


def _fiction(evidence: tuple[Evidence, ...]) -> bool:
    return any(
        ev.signal == "tag"
        and ev.field not in TRAINING_CAPTION_FIELDS
        and len(ev.text) <= 512
        and _is_fiction_tag(ev.text)
        for ev in evidence
    )


@lru_cache(maxsize=1 << 15)
def _is_fiction_tag(text: str) -> bool:
    return bool(lexicon.fiction_tags().find(evidence_words(Evidence("", "", text, "tag"))))


class RealPersonDetector:
    label = Label.REAL_PERSON

    def __init__(self, policy: Policy, models: TextModels | None) -> None:
        self.policy = policy
        self.models = models

    def detect(self, facts: Facts) -> LabelResult:
        w = self.policy.weights["real_person"]
        model = self.models.get("real_person", facts.condition) if self.models else None
        score = 0.0
        if model is not None and w["model"] > 0:
            z = model.logit(facts.model_input()) * w["model"]
            score = 1.0 / (1.0 + pow(2.718281828459045, -max(-50.0, min(50.0, z))))
        cited: list[Evidence] = []
        hits: list[RegistryHit] = list(facts.registry_hits)
        if hits:
            score = max(score, w["registry"] * hits[0].score)
            cited.extend(h.evidence for h in hits)
        named = name_list_hits(facts.evidence)
        fiction = _fiction(facts.evidence)
        if named and not fiction:
            score = max(score, w["name_list"])
        cited.extend(ev for ev, _ in named)
        likeness = likeness_signals(facts.evidence)
        recipe_score = 0.0 if fiction else likeness.score(w["likeness_recipe"])
        if recipe_score > 0:
            score = max(score, recipe_score)
            cited.extend(likeness.cited)
        fired = score >= self.policy.threshold(self.label)
        if fired and model is not None:
            cited.extend(rank_by_model(model, facts.evidence, self.policy.max_cited))
        return LabelResult(
            round(score, 4), fired, _dedupe(cited, self.policy.max_cited) if fired else ()
        )


def _dedupe(items: list[Evidence], limit: int) -> tuple[Evidence, ...]:
    out: list[Evidence] = []
    for ev in items:
        if ev not in out:
            out.append(ev)
        if len(out) >= limit:
            break
    return tuple(out)
