"""The likeness recipe: how a LoRA of one real person is made, read from its own evidence.

The learned model knows the names it was trained on; a person it never saw
(a private individual, a fictional name in a fixture, anyone not famous) is
invisible to it and to the real-person name list. But the way such a LoRA is
made is the same for everyone: a personal name ("Jane Roe") in the title or
output name, trained with the kohya/DreamBooth recipe of one rare trigger plus
a person class (``10_jnrw woman``), on photographs ("trained on 40 photos",
tags like realistic/portrait/person). Any one of these alone is common in
style and concept LoRAs; a personal name together with the recipe or the
photographic cues is the signature of a likeness model.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import pairwise

from likenessguard.evidence.base import Evidence
from likenessguard.verdicts import lexicon
from likenessguard.verdicts.features import evidence_words

PERSON_CLASSES = frozenset(
    ["woman", "man", "girl", "boy", "person", "lady", "guy", "1girl", "1boy", "female", "male"]
)
PHOTO_TAGS = frozenset(
    [
        "realistic",
        "photorealistic",
        "photo",
        "photograph",
        "photography",
        "portrait",
        "person",
        "real person",
        "realperson",
        "likeness",
        "lookalike",
        "look alike",
        "face",
        "headshot",
    ]
)
NAME_SIGNALS = frozenset(["title", "name"])
# Words that follow a first name in titles without being a surname ("Anna style").
MODEL_WORDS = (
    PERSON_CLASSES
    | PHOTO_TAGS
    | frozenset(
        [
            "lora",
            "lycoris",
            "locon",
            "loha",
            "lokr",
            "dora",
            "xl",
            "sdxl",
            "sd15",
            "sd1",
            "sd2",
            "flux",
            "pony",
            "wan",
            "style",
            "styles",
            "portraits",
            "model",
            "photos",
            "face",
            "body",
            "final",
            "test",
            "concept",
            "pose",
            "poses",
            "dress",
            "outfit",
            "hair",
            "eyes",
            "art",
            "embedding",
            "embeddings",
            "textual",
            "inversion",
            "checkpoint",
            "merge",
            "mix",
            "version",
            "edition",
            "the",
            "and",
            "for",
            "with",
            "lookalike",
            "cosplay",
            "fan",
        ]
    )
)
# Bounded, linear patterns (no nested quantifiers): safe on hostile text.
_DATASET_DIR = re.compile(r"^\s*\d{1,5}_(\S{1,64})\s+(\S{1,32})\s*$")
_PHOTO_PHRASE = re.compile(
    r"\b(?:trained on \d{1,5} (?:photos|pictures|images) of|trained on \d{1,5} photos"
    r"|photos of (?:her|him)|likeness of|lookalike|look-alike|real person)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class LikenessSignals:
    """Which parts of the recipe were seen, and the evidence that showed each."""

    name: Evidence | None = None
    recipe: Evidence | None = None
    photo: Evidence | None = None

    @property
    def cited(self) -> tuple[Evidence, ...]:
        return tuple(e for e in (self.name, self.recipe, self.photo) if e is not None)

    def score(self, weight: float) -> float:
        """``weight`` for a personal name with the recipe or photographic cues, else 0."""
        if self.name is not None and (self.recipe is not None or self.photo is not None):
            return weight
        return 0.0


def _personal_name(ev: Evidence) -> bool:
    words = evidence_words(ev)[:12]
    first, last, stop = lexicon.census_first(), lexicon.census_last(), lexicon.NOT_NAMES
    for a, b in pairwise(words):
        if a in stop or b in stop or not (a.isalpha() and b.isalpha()) or len(b) < 2:
            continue
        # Surnames outside the census top 20,000 (Mustermann, Nurk) are still
        # surnames: after a known first name, any word that is not model vocabulary.
        if a in first and (b in last or (len(b) >= 3 and b not in MODEL_WORDS)):
            return b not in PERSON_CLASSES
    return False


def _recipe(ev: Evidence) -> bool:
    if ev.signal == "dataset-dir":
        m = _DATASET_DIR.match(ev.text)
        return bool(m and m.group(2).casefold() in PERSON_CLASSES)
    if ev.signal == "trigger":
        words = ev.text.casefold().split()
        return len(words) == 2 and words[1] in PERSON_CLASSES and words[0] not in PERSON_CLASSES
    return False


def _photo(ev: Evidence) -> bool:
    if ev.signal == "tag":
        return ev.text.strip().casefold() in PHOTO_TAGS
    if ev.signal in ("description", "title") and len(ev.text) <= 20_000:
        return _PHOTO_PHRASE.search(ev.text) is not None
    return False


def likeness_signals(evidence: tuple[Evidence, ...]) -> LikenessSignals:
    """Find the first evidence item for each part of the likeness recipe."""
    name = recipe = photo = None
    for ev in evidence:
        # A full checkpoint is a base for many people, not one person's adapter:
        # personal names in its title are usually the merger's or a style's.
        if ev.signal == "type" and ev.text.strip().casefold() == "checkpoint":
            return LikenessSignals()
        if (
            name is None
            and ev.signal in NAME_SIGNALS
            and len(ev.text) <= 512
            and _personal_name(ev)
        ):
            name = ev
        elif recipe is None and _recipe(ev):
            recipe = ev
        elif photo is None and _photo(ev):
            photo = ev
        if name is not None and recipe is not None and photo is not None:
            break
    return LikenessSignals(name, recipe, photo)
