"""The generation-time guard: blocks real person + sexual and minor risk + sexual, with reasons."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from likenessguard.registry.base import Registry, Subject, subject_id
from likenessguard.verdicts.guard import check_prompt, lora_names

REG = Registry([Subject(subject_id("Mary Major"), "Mary Major", ("M. Major",), ("@marymajor",))])

STORED: dict[str, list[dict[str, Any]]] = {
    "0123456789abcdef": [
        {
            "path": "/models/mm_v1.safetensors",
            "verdict": {
                "severity": "medium",
                "labels": {"real_person": {"score": 0.9, "fired": True, "evidence": []}},
                "subject": "subj_x",
            },
        }
    ]
}


def lookup(h: str) -> Sequence[Mapping[str, Any]]:
    return [r for k, v in STORED.items() if k.startswith(h.lower()) for r in v]


def test_lora_tag_names() -> None:
    assert lora_names("a <lora:maryMajor_v1:0.8> and <lyco:style:1> <notlora> <lora:") == [
        "maryMajor_v1",
        "style",
    ]
    assert lora_names("<" * 50_000) == []


def test_registry_person_plus_sexual_is_blocked() -> None:
    r = check_prompt("photo of m4ry m4jor, nude, on bed", registry=REG)
    assert r.blocked
    assert r.subject == subject_id("Mary Major")
    assert any("real person" in x and "sexual" in x for x in r.reasons)


def test_person_without_sexual_is_allowed() -> None:
    r = check_prompt("portrait of Mary Major in a garden, oil painting", registry=REG)
    assert not r.blocked and r.labels["real_person"] and not r.labels["sexual"]


def test_sexual_without_person_is_allowed() -> None:
    r = check_prompt("photo of a woman, nude, on bed", registry=REG)
    assert not r.blocked and r.labels["sexual"] and not r.labels["real_person"]


def test_lora_tag_in_prompt_names_the_person() -> None:
    r = check_prompt("<lora:maryMajor_v1:0.8> nude", registry=REG)
    assert r.blocked


def test_referenced_lora_by_hash() -> None:
    r = check_prompt("woman, naked, explicit", ["0123456789AB"], lookup=lookup)
    assert r.blocked
    assert r.loras[0]["real_person"] and r.loras[0]["known"]
    assert any("LoRA 0123456789AB" in x for x in r.reasons)
    unknown = check_prompt("woman, naked", ["fedcba9876543210"], lookup=lookup)
    assert not unknown.blocked and unknown.loras[0]["known"] is False


def test_minor_risk_plus_sexual_always_blocked() -> None:
    r = check_prompt("13yo girl, nude")
    assert r.blocked
    assert "minor-risk" in " ".join(r.reasons)
    assert not check_prompt("13yo girl, riding a bicycle").blocked


def test_guard_result_json() -> None:
    r = check_prompt("m4ry m4jor nude", registry=REG).to_json()
    assert r["blocked"] is True and r["labels"]["real_person"] is True
    assert r["prompt_verdict"]["severity"] in ("high", "critical")
