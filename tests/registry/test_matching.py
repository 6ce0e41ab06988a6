"""Registry matching: robust to obfuscation, strict about first names, bounded on hostile text."""

from __future__ import annotations

import time

import pytest

from likenessguard.evidence.base import Evidence
from likenessguard.registry.base import Registry, Subject, subject_id

REG = Registry(
    [
        Subject(subject_id("Jane Roe"), "Jane Roe", ("Джейн Роу",), ("@janeroe_official",)),
        Subject(subject_id("Mary Elizabeth Major"), "Mary Elizabeth Major"),
        Subject(subject_id("Zed"), "Zed"),
    ]
)


def hits(text: str, signal: str = "name") -> list[tuple[str, str]]:
    return [(h.subject.name, h.how) for h in REG.match([Evidence("x", "f", text, signal)])]


@pytest.mark.parametrize(
    "text",
    [
        "Jane Roe",
        "JANE_ROE_v2",
        "j4ne r0e",
        "Jаnе Rое",
        "janeRoe.safetensors",
        "j a n e r o e",
        "Ｊａｎｅ Ｒｏｅ",
        "Джейн Роу",
        "janeroe_official",
        "the jane-roe lora",
    ],
)
def test_obfuscated_names_match(text: str) -> None:
    assert hits(text)[0][0] == "Jane Roe"


def test_typos_match_fuzzily() -> None:
    assert hits("mary elizabet major") == [("Mary Elizabeth Major", "fuzzy")]


@pytest.mark.parametrize(
    "text",
    ["Jane", "photo of jane smith", "jane doe", "roe deer in a forest", "mary major"],
)
def test_partial_names_do_not_match(text: str) -> None:
    assert not [h for h in hits(text) if h[0] != "Zed"]


def test_mononym_only_matches_alone() -> None:
    assert hits("Zed") == [("Zed", "phrase")]
    assert hits("zed is dead baby, a long description of a thing") == []


def test_negative_prompts_and_hashes_are_ignored() -> None:
    assert hits("jane roe", "negative-prompt") == []


def test_hostile_text_is_bounded() -> None:
    start = time.perf_counter()
    REG.match([Evidence("x", "f", "jane " * 20_000, "description")])
    REG.match([Evidence("x", "f", "a" * 200_000, "name")])
    assert time.perf_counter() - start < 5.0


def test_empty_registry_matches_nothing() -> None:
    assert Registry([]).match([Evidence("x", "f", "Jane Roe", "name")]) == []
