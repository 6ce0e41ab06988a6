"""The likeness recipe fires on a person nobody's name list knows, and only on the recipe."""

from __future__ import annotations

from likenessguard.evidence.base import Evidence
from likenessguard.verdicts.base import Label
from likenessguard.verdicts.judge import judge_evidence
from likenessguard.verdicts.likeness import likeness_signals

NAME = Evidence("safetensors-metadata", "ss_output_name", "jane_roe_xl", "name")
RECIPE = Evidence("safetensors-metadata", "ss_dataset_dirs", "10_jnrw woman", "dataset-dir")
PHOTO = Evidence("safetensors-metadata", "ss_tag_frequency", "photorealistic", "tag", 35)
CAPTION_BG = Evidence("safetensors-metadata", "ss_tag_frequency", "simple background", "tag", 5)


def _fired(*evidence: Evidence) -> bool:
    return judge_evidence(tuple(evidence)).labels[Label.REAL_PERSON].fired


def test_personal_name_with_the_recipe_fires_and_cites_each_part() -> None:
    signals = likeness_signals((NAME, RECIPE, PHOTO))
    assert signals.cited == (NAME, RECIPE, PHOTO)
    result = judge_evidence((NAME, RECIPE, PHOTO, CAPTION_BG)).labels[Label.REAL_PERSON]
    assert result.fired
    assert NAME in result.evidence and RECIPE in result.evidence


def test_no_part_alone_is_enough() -> None:
    assert likeness_signals((NAME,)).score(0.8) == 0.0
    assert likeness_signals((RECIPE, PHOTO)).score(0.8) == 0.0
    # The rules alone: what the learned model makes of a bare recipe is its own
    # measured call (the stacked models put this pair near their threshold).
    verdict = judge_evidence((RECIPE, PHOTO), models=None)
    assert not verdict.labels[Label.REAL_PERSON].fired


def test_style_and_concept_names_are_not_personal_names() -> None:
    style = Evidence("safetensors-metadata", "ss_output_name", "watercolor_style_xl", "name")
    concept = Evidence("model-card", "title", "Woman in red dress", "title")
    assert likeness_signals((style, RECIPE, PHOTO)).name is None
    assert likeness_signals((concept, RECIPE, PHOTO)).name is None


def test_declared_fiction_vetoes_but_training_captions_do_not() -> None:
    anime = Evidence("model-card", "tags", "anime", "tag")
    assert not _fired(NAME, RECIPE, PHOTO, anime)
    # "simple background" in training captions must not read as a declared scenery LoRA.
    assert _fired(NAME, RECIPE, PHOTO, CAPTION_BG)


def test_checkpoints_are_not_one_persons_adapter() -> None:
    checkpoint = Evidence("listing", "type", "Checkpoint", "type")
    assert likeness_signals((checkpoint, NAME, RECIPE, PHOTO)).score(0.8) == 0.0


def test_hostile_text_is_linear() -> None:
    import time

    long = Evidence("model-card", "body", "trained on 1 " * 1_500, "description")
    start = time.perf_counter()
    likeness_signals((long, NAME))
    assert time.perf_counter() - start < 1.0
