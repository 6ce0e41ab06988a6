"""Normalisation: obfuscations fold to one text, properties hold, hostile input stays linear."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from likenessguard.evidence.normalize import camel_split, compact, normalize


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Jane Roe", "jane roe"),
        ("JANE_ROE", "jane roe"),
        ("jane-roe", "jane roe"),
        ("j.a.n.e r.o.e", "jane roe"),
        ("c_h_a_r_l_i", "charli"),
        ("Ｊａｎｅ　Ｒｏｅ", "jane roe"),  # full-width
        ("Jáne Rôe", "jane roe"),  # accents
        ("Ja\u200bne R\u200doe", "jane roe"),  # zero-width
        ("Jаnе Rое", "jane roe"),  # Cyrillic а, е, о
        ("j4n3 r0e", "jane roe"),  # leetspeak
        ("M@ry M4j0r", "mary major"),
        ("versi0n 2023", "version 2023"),  # digits alone stay digits
    ],
)
def test_obfuscations_fold(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


def test_ages_keep_digits_without_leet() -> None:
    assert normalize("13yo", leet=False) == "13yo"
    assert normalize("13yo") != "13yo"


def test_compact_and_camel_split() -> None:
    assert compact("Jane Roe") == "janeroe"
    assert normalize(camel_split("janeRoe_v2.safetensors")) == "jane roe v 2 safetensors"


@given(st.text(max_size=200))
@settings(max_examples=200, deadline=None)
def test_idempotent_and_clean(text: str) -> None:
    once = normalize(text)
    assert normalize(once) == once
    assert "  " not in once and once == once.strip()
    assert once == once.casefold()


@given(st.text(alphabet=st.characters(whitelist_categories=("Ll", "Lu")), min_size=1, max_size=40))
@settings(max_examples=200, deadline=None)
def test_invisible_characters_never_change_the_result(text: str) -> None:
    spaced = "\u200b".join(text)
    assert normalize(spaced) == normalize(text)


@given(st.from_regex(r"[a-z]{3,12}( [a-z]{3,12}){0,3}", fullmatch=True))
@settings(max_examples=200, deadline=None)
def test_fullwidth_and_case_invariance(text: str) -> None:
    fullwidth = "".join(chr(ord(c) + 0xFEE0) if "a" <= c <= "z" else c for c in text)
    assert normalize(fullwidth.upper()) == normalize(text) == text


HOSTILE = [
    "a." * 50_000,
    "a_" * 50_000,
    "\u200b" * 100_000,
    "1" * 100_000,
    "<" * 100_000,
    "é" * 100_000,
    ("a " * 50_000),
    "x" * 100_000,
]


@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_strings_are_linear(text: str) -> None:
    start = time.perf_counter()
    normalize(text)
    camel_split(text)
    assert time.perf_counter() - start < 1.0
