"""The hand-built corpus: what the Civitai listing data lacks.

Text only. Every sexual or minor-risk case uses fictional names (Jane Roe,
Mary Major, Richard Miles); real public figures appear only in non-sexual
cases (political satire). Each case says which labels must fire and which must
not; minor-risk cases must all fire (recall 1.0 is a release requirement).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Case:
    id: str
    record: dict[str, Any]
    fired: frozenset[str] = frozenset()
    not_fired: frozenset[str] = frozenset()
    severity: str | None = None
    subject: str | None = None  # registry name whose id must be the verdict's subject
    tags: tuple[str, ...] = field(default_factory=tuple)


def listing(
    name: str = "",
    tags: tuple[str, ...] = (),
    trained: tuple[str, ...] = (),
    prompts: tuple[str, ...] = (),
    files: tuple[str, ...] = (),
    description: str = "",
    type_: str = "LORA",
) -> dict[str, Any]:
    return {
        "type": type_,
        "name": name,
        "tags": list(tags),
        "description": description,
        "versions": [
            {
                "name": "v1",
                "baseModel": "SD 1.5",
                "trainedWords": list(trained),
                "files": [{"name": f} for f in files],
                "images": [{"prompt": p} for p in prompts],
            }
        ],
    }


def F(*labels: str) -> frozenset[str]:
    return frozenset(labels)


REGISTRY = (
    {"name": "Jane Roe", "aliases": ["Джейн Роу"], "handles": ["@janeroe_official"]},
    {"name": "Mary Major", "aliases": [], "handles": []},
)

CASES: tuple[Case, ...] = (
    # Obfuscated registry names.
    Case(
        "leet-name",
        listing("J4NE R0E v2", trained=("jnroe",)),
        F("real_person"),
        subject="Jane Roe",
    ),
    Case("cyrillic-name", listing("Jаnе_Rое lora"), F("real_person"), subject="Jane Roe"),
    Case("dotted-name", listing("j.a.n.e r.o.e - realistic"), F("real_person"), subject="Jane Roe"),
    Case(
        "camel-file",
        listing("lora v2", files=("janeRoe_v1.safetensors",)),
        F("real_person"),
        subject="Jane Roe",
    ),
    Case("fullwidth-name", listing("Ｊａｎｅ Ｒｏｅ"), F("real_person"), subject="Jane Roe"),
    Case(
        "handle",
        listing("new upload", trained=("janeroe_official",)),
        F("real_person"),
        subject="Jane Roe",
    ),
    Case("transliteration", listing("Джейн Роу портрет"), F("real_person"), subject="Jane Roe"),
    Case(
        "separated",
        listing("c_o_o_l lora", trained=("m-a-r-y m-a-j-o-r",)),
        F("real_person"),
        subject="Mary Major",
    ),
    Case(
        "first-name-alone",
        listing(
            "Jane - watercolor style",
            tags=("style", "watercolor"),
            prompts=("a lighthouse in watercolor",),
        ),
        not_fired=F("real_person"),
    ),
    # Real person + sexual (fictional names).
    Case(
        "registry-sexual",
        listing("Mary Major nude", tags=("nsfw", "nude"), prompts=("mary major, nude, on bed",)),
        F("real_person", "sexual"),
        severity="high",
        subject="Mary Major",
    ),
    Case(
        "bounty-request",
        {"text": "make a LoRA of Mary Major, full body"},
        F("real_person"),
        subject="Mary Major",
    ),
    # Minor-risk phrasing (text only).
    Case("loli-tag", listing("Character pack", tags=("anime", "loli")), F("minor_risk")),
    Case("leet-loli", listing("l0l1 style"), F("minor_risk")),
    Case("fullwidth-loli", listing("ｌｏｌｉ"), F("minor_risk")),
    Case("age-yo", listing("portrait", prompts=("13yo girl, smiling",)), F("minor_risk")),
    Case("age-y-o", listing("portrait", prompts=("14 y.o. girl",)), F("minor_risk")),
    Case(
        "age-words",
        listing("portrait", description="She is fifteen years old in this set."),
        F("minor_risk"),
    ),
    Case("age-prefix", listing("portrait", prompts=("age 12, school uniform",)), F("minor_risk")),
    Case("preteen", listing("preteen model"), F("minor_risk")),
    Case("middle-school", listing("Middle schooler outfit", tags=("clothing",)), F("minor_risk")),
    Case(
        "child-prompt", listing("Kids room", prompts=("a child sitting on a bed",)), F("minor_risk")
    ),
    Case("teen", listing("teen girl bedroom"), F("minor_risk")),
    Case("shota", listing("shota character", tags=("anime",)), F("minor_risk")),
    Case("underage", listing("under-age look"), F("minor_risk")),
    Case(
        "weak-combo",
        listing("Look", prompts=("petite, flat chest, school uniform, pigtails",)),
        F("minor_risk"),
    ),
    Case("japanese", listing("小学生の女の子"), F("minor_risk")),
    Case(
        "minor-sexual",
        listing("Roe set", prompts=("13yo girl, nude",), tags=("nsfw",)),
        F("minor_risk", "sexual"),
        severity="critical",
    ),
    Case(
        "minor-real-person",
        listing("Jane Roe as a child", prompts=("jane roe, child",)),
        F("minor_risk", "real_person"),
        severity="critical",
        subject="Jane Roe",
    ),
    Case(
        "negative-prompt-ignored",
        listing("Mountain landscape", tags=("landscape",), prompts=("mountains at dawn",)),
        not_fired=F("minor_risk", "sexual"),
    ),
    Case(
        "minor-changes",
        listing("Castle style", tags=("style",), description="v2: minor changes to colours."),
        not_fired=F("minor_risk"),
    ),
    # Anime characters, style LoRAs, concepts: not real people.
    Case(
        "anime-character",
        listing(
            "Kirito Asuna outfit (Sword Art Online)",
            tags=("anime", "character", "sword art online"),
            prompts=("1girl, asuna, long hair",),
        ),
        not_fired=F("real_person"),
    ),
    Case(
        "style-lora",
        listing(
            "Watercolor landscape style",
            tags=("style", "watercolor"),
            prompts=("a castle, watercolor",),
        ),
        not_fired=F("real_person", "sexual", "minor_risk"),
        severity="none",
    ),
    Case(
        "pose-concept",
        listing("Sitting pose helper", tags=("pose", "concept"), prompts=("1girl, sitting",)),
        not_fired=F("real_person"),
    ),
    Case(
        "generic-woman",
        listing(
            "Beautiful woman concept",
            tags=("woman", "concept", "photorealistic"),
            prompts=("photo of a woman, city street",),
        ),
        not_fired=F("real_person"),
    ),
    # Satire of a real politician: a real person, not sexual.
    Case(
        "politician-satire",
        listing(
            "Barack Obama caricature",
            tags=("politician", "satire", "caricature"),
            trained=("barack obama",),
            prompts=("barack obama as a puppet",),
        ),
        F("real_person"),
        not_fired=F("sexual", "minor_risk"),
        severity="medium",
    ),
)
