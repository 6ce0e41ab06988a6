"""Word lists the detectors match on: shipped data plus curated terms, matched in linear time.

``data/lexicon.json`` is built from Civitai's production moderation lists by
``scripts/build_lexicon.py`` (provenance in ``data/PROVENANCE.md``). The lists
here in code are curated for what those lack: declared real-person tags,
counter-signals (anime, style, concept LoRAs), multilingual explicit basics,
base checkpoints built for pornography, and minor-risk terms in two strengths.
Matching is a dictionary walk over normalised words (no regex), so it is
linear in the text length whatever the input.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any


@dataclass(frozen=True)
class PhraseSet:
    """Phrases (tuples of normalised words) indexed by first word; optional word stems."""

    by_first: dict[str, tuple[tuple[str, ...], ...]]
    stems: tuple[str, ...] = ()
    _stem_set: frozenset[str] = frozenset()
    _stem_lens: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "_stem_set", frozenset(self.stems))
        object.__setattr__(self, "_stem_lens", tuple(sorted({len(s) for s in self.stems})))

    @classmethod
    def of(cls, phrases: Iterable[str], stems: Iterable[str] = ()) -> PhraseSet:
        idx: dict[str, list[tuple[str, ...]]] = {}
        for p in phrases:
            ws = tuple(p.split())
            if ws:
                idx.setdefault(ws[0], []).append(ws)
        return cls(
            {k: tuple(sorted(v, key=len, reverse=True)) for k, v in idx.items()},
            tuple(s for s in stems if len(s) >= 4),
        )

    def find(self, words: Sequence[str]) -> list[str]:
        """Phrases present in ``words`` (longest at each position), in order, with repeats."""
        out: list[str] = []
        n = len(words)
        for i, w in enumerate(words):
            for ph in self.by_first.get(w, ()):
                k = len(ph)
                if k == 1 or (i + k <= n and tuple(words[i : i + k]) == ph):
                    out.append(" ".join(ph))
                    break
            else:
                for k in self._stem_lens:
                    if len(w) >= k and w[:k] in self._stem_set:
                        out.append(w)
                        break
        return out

    def __contains__(self, phrase: str) -> bool:
        ws = tuple(phrase.split())
        return bool(ws) and ws in self.by_first.get(ws[0], ())


@cache
def _data() -> dict[str, Any]:
    text = (
        resources.files("likenessguard.verdicts").joinpath("data/lexicon.json").read_text("utf-8")
    )
    data: dict[str, Any] = json.loads(text)
    return data


# Declared real-person tags: one signal among many, never enough alone.
_PERSON_TAGS = (
    "celebrity",
    "celebrities",
    "celeb",
    "actress",
    "actor",
    "singer",
    "rapper",
    "musician",
    "influencer",
    "instagram",
    "instagram model",
    "youtuber",
    "streamer",
    "twitch",
    "tiktok",
    "tiktoker",
    "onlyfans",
    "politician",
    "president",
    "athlete",
    "footballer",
    "real person",
    "real people",
    "famous",
    "public figure",
    "tv presenter",
    "news anchor",
    "idol",
    "kpop",
    "k pop",
    "pornstar",
    "porn star",
    "adult actress",
    "supermodel",
    "likeness",
    "cosplayer",
    "gravure",
    "gravure idol",
    "personality",
    "tv personality",
    "youtube",
    "comedian",
    "host",
    "celebrity likeness",
)

# Counter-signals: fictional characters, drawn styles, concepts. They lower the
# real-person score; they never clear a registry hit.
_FICTION_TAGS = (
    "anime",
    "manga",
    "cartoon",
    "character",
    "anime character",
    "game character",
    "video game",
    "fictional",
    "fictional character",
    "original character",
    "oc",
    "style",
    "art style",
    "artstyle",
    "concept",
    "pose",
    "poses",
    "clothing",
    "outfit",
    "background",
    "landscape",
    "architecture",
    "building",
    "vehicle",
    "object",
    "tool",
    "hentai",
    "furry",
    "pokemon",
    "genshin impact",
    "genshin",
    "honkai",
    "league of legends",
    "vtuber",
    "chibi",
    "illustration",
    "painting",
    "3d",
    "cgi",
    "animal",
    "monster",
    "creature",
    "fantasy",
    "sci fi",
    "mecha",
    "robot",
    "comic",
    "comics",
    "disney",
    "pixar",
    "marvel",
    "dc",
    "star wars",
    "overwatch",
    "azur lane",
    "blue archive",
    "fate",
    "touhou",
    "hololive",
    "naruto",
    "one piece",
    "game",
    "lineart",
    "pixel art",
    "watercolor",
    "sketch",
    "slider",
    "tool lora",
    "detail",
    "lighting",
)

# Multilingual basics the English lists lack (already normalised).
_EXPLICIT_EXTRA = (
    "nsfw",
    "porn",
    "porno",
    "nude",
    "nudes",
    "nudity",
    "naked",
    "nackt",
    "desnuda",
    "desnudo",
    "nue",
    "nuda",
    "nudo",
    "sesso",
    "sexo",
    "tetas",
    "seins",
    "pechos",
    "pelado",
    "pelada",
    "hentai",
    "ecchi",
    "lewd",
    "explicit",
    "uncensored",
    "sex",
    "pussy",
    "penis",
    "nipples",
    "nipple",
    "areola",
    "areolae",
    "topless",
    "bottomless",
    "cum",
    "cumshot",
    "blowjob",
    "fellatio",
    "cunnilingus",
    "masturbation",
    "masturbating",
    "vagina",
    "vulva",
    "genitals",
    "spread legs",
    "spread pussy",
    "missionary",
    "cowgirl position",
    "doggystyle",
    "paizuri",
    "ahegao",
    "bukkake",
    "gangbang",
    "creampie",
    "anal",
    "dildo",
    "vibrator",
    "bdsm",
    "bondage",
    "erotic",
    "erotica",
    "r18",
    "r 18",
    "xxx",
    "onlyfans",
    "lingerie",
    "see through",
    "pubic hair",
    "completely nude",
    "sexy",
)

# Base checkpoints trained for pornography: a model trained on them is a signal.
PORN_BASES = (
    "biglust",
    "big lust",
    "pornmaster",
    "porn master",
    "uberrealisticporn",
    "uber realistic porn",
    "lustify",
    "pornvision",
    "nsfw",
    "hentai",
    "realporn",
    "sexmix",
    "pornmerge",
    "rpgv",
)

# Minor risk, strong: one of these in a title, tag, trigger or prompt is enough.
MINOR_STRONG = (
    "loli",
    "lolis",
    "lolicon",
    "shota",
    "shotacon",
    "child",
    "children",
    "kid",
    "kids",
    "kiddie",
    "toddler",
    "toddlers",
    "infant",
    "baby girl",
    "little girl",
    "little girls",
    "little boy",
    "little boys",
    "preteen",
    "pre teen",
    "tween",
    "underage",
    "under age",
    "under aged",
    "minor",
    "minors",
    "elementary school",
    "elementary schooler",
    "primary school",
    "middle school",
    "middle schooler",
    "kindergarten",
    "preschool",
    "preschooler",
    "young girl",
    "young boy",
    "prepubescent",
    "pre pubescent",
    "pubescent",
    "schoolchild",
    "jailbait",
    "teen",
    "teens",
    "teenage",
    "teenager",
    "teenagers",
    "young teen",
    "barely legal",
    "jk",
    "joshi kousei",
    "joshikousei",
    "chugakusei",
    "shogakusei",
    "ロリ",
    "ショタ",
    "小学生",
    "中学生",
    "幼女",
    "少女",
)

# Minor risk, weak: two of these together (or one with an age under 18) is enough.
MINOR_WEAK = (
    "young",
    "younger",
    "youthful",
    "petite",
    "small",
    "tiny",
    "flat chest",
    "flat chested",
    "small breasts",
    "school uniform",
    "schoolgirl",
    "school girl",
    "schoolboy",
    "high school",
    "high schooler",
    "highschool",
    "student",
    "students",
    "classroom",
    "school",
    "serafuku",
    "randoseru",
    "backpack",
    "pigtails",
    "twintails",
    "childlike",
    "babyface",
    "baby face",
    "innocent",
    "cute",
    "girl",
    "boy",
    "daughter",
    "son",
    "niece",
    "stepdaughter",
    "little sister",
    "imouto",
    "teddy bear",
    "lollipop",
    "aged down",
    "age regression",
)

# Words that look like age terms in ordinary listing prose.
MINOR_CONTEXT_STOP = ("minor changes", "minor fix", "minor fixes", "minor update", "minor tweaks")


@cache
def poi_names() -> PhraseSet:
    return PhraseSet.of(_data()["poi_names"])


@cache
def first_names() -> frozenset[str]:
    """First words of multi-word real-person names: a "first last" structure signal."""
    return frozenset(n.split()[0] for n in _data()["poi_names"] if len(n.split()) >= 2)


@cache
def explicit() -> PhraseSet:
    d = _data()
    white = set(d["whitelist"])
    words = [w for w in (*d["explicit_words"], *_EXPLICIT_EXTRA) if w not in white]
    return PhraseSet.of(words, d["explicit_stems"])


@cache
def soft() -> PhraseSet:
    return PhraseSet.of(_data()["soft_words"])


@cache
def young_list() -> PhraseSet:
    d = _data()
    return PhraseSet.of(d["young_words"], d["young_stems"])


@cache
def person_tags() -> PhraseSet:
    return PhraseSet.of(_PERSON_TAGS)


@cache
def fiction_tags() -> PhraseSet:
    return PhraseSet.of(_FICTION_TAGS)


@cache
def porn_bases() -> PhraseSet:
    return PhraseSet.of(PORN_BASES)


@cache
def minor_strong() -> PhraseSet:
    return PhraseSet.of(MINOR_STRONG)


@cache
def minor_weak() -> PhraseSet:
    return PhraseSet.of(MINOR_WEAK)


@cache
def census_first() -> frozenset[str]:
    """US Census first names (public domain, via the ``names`` package): name structure."""
    return frozenset(_data().get("first_names", ())) | first_names()


@cache
def census_last() -> frozenset[str]:
    """The 20,000 most common US Census last names."""
    return frozenset(_data().get("last_names", ()))


# Words that are first names in the census but mostly mean something else in listings.
NOT_NAMES = frozenset(
    [
        "style",
        "lora",
        "model",
        "art",
        "girl",
        "boy",
        "woman",
        "man",
        "lady",
        "the",
        "and",
        "of",
        "in",
        "on",
        "by",
        "v",
        "version",
        "love",
        "beauty",
        "angel",
        "star",
        "sky",
        "summer",
        "rose",
        "ruby",
        "jade",
        "amber",
        "crystal",
        "pearl",
        "ivy",
        "holly",
        "may",
        "april",
        "june",
        "dawn",
        "hope",
        "faith",
        "grace",
        "joy",
        "destiny",
        "china",
        "paris",
        "virginia",
        "georgia",
        "sunny",
        "lucky",
        "king",
        "queen",
        "prince",
        "princess",
        "baby",
        "honey",
        "cherry",
        "candy",
        "magic",
        "iron",
        "blue",
        "black",
        "white",
        "red",
        "green",
        "gray",
    ]
)
