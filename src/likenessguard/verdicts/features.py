"""Evidence -> hashed sparse features, shared by training and inference.

The learned models (``model.py``) see evidence through this one function, so
a model trained on listings applies unchanged to safetensors metadata, cards
and sidecars: every evidence *signal* maps to a field group (names, tags,
triggers, prompts, descriptions, base model, type), and features are words,
word pairs, in-word character trigrams of names and triggers, and rule
signals (a real-person name from the shipped list, a "first last" name
structure, explicit / minor-risk vocabulary, declared person tags,
fiction/style counter-tags) tagged with their group. Features are hashed with
CRC-32 into ``2**DIM_BITS`` buckets: deterministic across runs and machines.

``FEATURE_VERSION`` is stored with each trained model; changing anything
here means retraining (``scripts/train_text_model.py``). The stacked models
also score each field group on its own (:func:`featurize_groups`): a word
that means little in a title can mean much in a prompt.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from itertools import pairwise

from likenessguard.evidence.base import Evidence
from likenessguard.evidence.normalize import camel_split, normalize
from likenessguard.verdicts import lexicon

FEATURE_VERSION = 4
DIM_BITS = 18
DIM = 1 << DIM_BITS

GROUP = {
    "title": "n",
    "name": "n",
    "handle": "n",
    "request": "n",
    "version": "v",
    "tag": "t",
    "class": "t",
    "trigger": "w",
    "dataset-dir": "w",
    "prompt": "p",
    "caption": "p",
    "description": "d",
    "base-model": "b",
    "type": "y",
}
NAME_LIKE = frozenset("nvw")
BIGRAM_GROUPS = frozenset("ntwpv")
# File extensions carry no meaning and would dominate name features.
_EXT = re.compile(r"\.(safetensors|ckpt|pt|pth|bin|zip|gguf|sft|lora)$", re.IGNORECASE)
MAX_WORDS_PER_ITEM = 400


def evidence_words(ev: Evidence) -> list[str]:
    """The normalised words of one evidence item (names camel-split, extensions dropped)."""
    namelike = GROUP.get(ev.signal) in NAME_LIKE
    if len(ev.text) <= 512:
        return list(_words_cached(ev.text, namelike))
    return _words(ev.text, namelike)


def _words(text: str, namelike: bool) -> list[str]:
    if namelike:
        text = camel_split(_EXT.sub("", text))
    return normalize(text).split()[:MAX_WORDS_PER_ITEM]


@lru_cache(maxsize=1 << 16)
def _words_cached(text: str, namelike: bool) -> tuple[str, ...]:
    return tuple(_words(text, namelike))


def word_shape(text: str) -> str:
    """Capitalisation shape of the first four words: ``Jane Roe`` -> ``Aa Aa``."""
    out: list[str] = []
    for w in text.split()[:4]:
        if any(c.isdigit() for c in w):
            out.append("9")
        elif w[:1].isupper() and w[1:2].islower():
            out.append("Aa")
        elif w.isupper() and len(w) > 1:
            out.append("AA")
        elif w[:1].islower():
            out.append("a")
        else:
            out.append("x")
    return " ".join(out)


def _bucket(n: int) -> str:
    return "0" if n == 0 else "1" if n == 1 else "2" if n <= 3 else "4"


def _item_tokens(ev: Evidence) -> tuple[frozenset[str], str | None, bool]:
    """(feature strings of one item, its group, whether it holds an explicit term)."""
    g = GROUP.get(ev.signal)
    if g is None:
        return frozenset(), None, False
    ws = evidence_words(ev)
    if not ws:
        return frozenset(), None, False
    feats: set[str] = set()
    for w in ws:
        if w.isdigit():
            feats.add(f"{g}|#")
            continue
        feats.add(f"{g}|{w}")
        feats.add(f"*|{w}")
        if g in NAME_LIKE and len(w) >= 3:
            padded = f"<{w}>"
            for i in range(len(padded) - 2):
                feats.add(f"{g}3|{padded[i : i + 3]}")
    if g in BIGRAM_GROUPS:
        for a, b in pairwise(ws):
            feats.add(f"{g}|{a} {b}")
    for name in lexicon.poi_names().find(ws):
        feats.add(f"R|poi|{g}")
        feats.add("R|poi")
        if len(name.split()) >= 2:
            feats.add(f"R|poi2|{g}")
    if g in NAME_LIKE or g == "t":
        firsts = lexicon.first_names()
        cfirst = lexicon.census_first()
        clast = lexicon.census_last()
        stop = lexicon.NOT_NAMES
        if ev.signal == "title":
            feats.add(f"S|{word_shape(ev.text)}")
        for i, a in enumerate(ws[:12]):
            if a in stop or not a.isalpha():
                continue
            b = ws[i + 1] if i + 1 < len(ws) else ""
            if a in firsts and b.isalpha() and len(b) >= 3 and b not in firsts:
                feats.add(f"R|fname|{g}")
            if a in cfirst:
                feats.add(f"R|cf|{g}")
                if b in clast and b not in stop:
                    feats.add(f"R|cfl|{g}")
                    if i == 0:
                        feats.add(f"R|cfl0|{g}")
    hits = lexicon.explicit().find(ws)
    if hits:
        feats.add(f"R|x|{g}")
        feats.add(f"R|x|{g}|{_bucket(len(set(hits)))}")
    if lexicon.young_list().find(ws):
        feats.add(f"R|y|{g}")
    if g == "t":
        if lexicon.person_tags().find(ws):
            feats.add("R|ptag")
        if lexicon.fiction_tags().find(ws):
            feats.add("R|ftag")
    if g == "b" and lexicon.porn_bases().find(ws):
        feats.add("R|pornbase")
    return frozenset(feats), g, bool(hits)


@lru_cache(maxsize=1 << 15)
def _item_tokens_cached(text: str, signal: str) -> tuple[frozenset[str], str | None, bool]:
    return _item_tokens(Evidence("", "", text, signal))


def item_tokens(ev: Evidence) -> tuple[frozenset[str], str | None, bool]:
    # Cache short items only (tags, names, triggers repeat across artifacts); keyed by
    # strings, whose hashes Python caches, rather than by the Evidence record.
    if len(ev.text) <= 512:
        return _item_tokens_cached(ev.text, ev.signal)
    return _item_tokens(ev)


def feature_tokens(evidence: Iterable[Evidence]) -> set[str]:
    """The set of feature strings for an artifact's (or listing's) evidence."""
    feats: set[str] = set()
    counts: dict[str, int] = {}
    tag_total = 0
    tag_explicit = 0
    for ev in evidence:
        toks, g, explicit = item_tokens(ev)
        if g is None:
            continue
        feats |= toks
        counts[g] = counts.get(g, 0) + 1
        if g == "t":
            tag_total += 1
            tag_explicit += explicit
    for g, c in counts.items():
        feats.add(f"H|{g}|{_bucket(c)}")
    if tag_total:
        share = tag_explicit / tag_total
        feats.add(f"R|xshare|{min(4, int(share * 5))}")
    return feats


def item_features(ev: Evidence) -> list[int]:
    """Bucket ids of one evidence item's own features (to rank items by contribution)."""
    if len(ev.text) <= 512:
        return list(_item_features_cached(ev.text, ev.signal))
    return hash_features(item_tokens(ev)[0])


@lru_cache(maxsize=1 << 15)
def _item_features_cached(text: str, signal: str) -> tuple[int, ...]:
    return tuple(hash_features(_item_tokens_cached(text, signal)[0]))


def hash_features(tokens: Iterable[str]) -> list[int]:
    """Sorted unique bucket ids of feature strings."""
    return sorted({zlib.crc32(t.encode("utf-8")) & (DIM - 1) for t in tokens})


def featurize(evidence: Sequence[Evidence]) -> list[int]:
    """Bucket ids for an evidence list (what the models score)."""
    return hash_features(feature_tokens(evidence))


# The field groups that get a base model of their own in the stacked models
# (``model.StackedModel``); "R" is every rule, count and title-shape feature. Words
# from any field ("*") and base-model words ("b") are left to the ``all`` model (a
# base of their own measured no better and took negative stacker weights).
# Base models are keyed by these names in the model file.
BASE_GROUPS = ("n", "v", "t", "w", "p", "d", "R")
ALL = "all"


def token_group(token: str) -> str:
    """A feature string's group: ``t|nude`` -> ``t``, ``n3|<ja`` -> ``n``, ``R|poi`` -> ``R``."""
    if token[1:2] in ("|", "3") and token[0] in "nvtwpdb":
        return token[0]
    return "*" if token[0] == "*" else "R"


@lru_cache(maxsize=1 << 17)
def _bucket_and_group(token: str) -> tuple[int, str]:
    # Tokens repeat across artifacts (tags, class words, rule signals): a cache hit
    # costs less than encoding, hashing and grouping again (the verdict budget is 2 ms).
    return zlib.crc32(token.encode("utf-8")) & (DIM - 1), token_group(token)


def featurize_groups(evidence: Sequence[Evidence]) -> Mapping[str, tuple[int, ...]]:
    """Bucket ids of all the evidence (``"all"``) and of each base group's features."""
    per: dict[str, set[int]] = {g: set() for g in BASE_GROUPS}
    every: set[int] = set()
    for t in feature_tokens(evidence):
        h, g = _bucket_and_group(t)
        every.add(h)
        group = per.get(g)
        if group is not None:
            group.add(h)
    out = {ALL: tuple(sorted(every))}
    out.update((g, tuple(sorted(ids))) for g, ids in per.items())
    return out
