"""Protected people and how their names are found in evidence text.

A subject is a person who asked for protection (through a takedown request) or
whom a platform imported from a list: a display name, aliases, social handles
and transliterations. Matching runs on normalised text
(:mod:`likenessguard.evidence.normalize`) so full-width letters, homoglyphs,
leetspeak and separators do not hide a name, and it is deliberately strict
about single words: a subject called "Jane Roe" must not fire on every "Jane".

Three ways to match, strongest first:

- phrase: every word of a name appears in order in the text (``jane roe``);
- compact: the name without spaces is inside the text without spaces, for
  handles and run-together file names (``janeroe_official``, ``JaneRoeV2``);
- fuzzy: a window of the text as long as the name scores at least
  ``fuzzy_threshold`` with ``rapidfuzz.fuzz.ratio`` (typos, one swapped letter).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from rapidfuzz import fuzz, process

from likenessguard.evidence.base import Evidence
from likenessguard.evidence.normalize import camel_split, normalize

# Names shorter than this (after normalisation, spaces removed) never match
# compactly or fuzzily: "ann" is inside too many words.
MIN_COMPACT = 7
MIN_FUZZY = 8
# Match results remembered per registry (cleared when full).
CACHE_ITEMS = 50_000


@dataclass(frozen=True, slots=True)
class Subject:
    """One protected person. ``id`` is stable (``subj_`` + 12 hex) and ships in verdicts."""

    id: str
    name: str
    aliases: tuple[str, ...] = ()
    handles: tuple[str, ...] = ()
    source: str = "manual"
    note: str | None = None

    def all_names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases, *self.handles)

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "name": self.name,
            "aliases": list(self.aliases),
            "handles": list(self.handles),
            "source": self.source,
            "note": self.note,
        }


def subject_id(name: str) -> str:
    """A stable id for a subject from its normalised name (same person, same id).

    >>> subject_id("Jane Roe") == subject_id("JANE  roe")
    True
    """
    key = normalize(name).encode()
    return "subj_" + hashlib.sha256(key).hexdigest()[:12]


@dataclass(frozen=True, slots=True)
class RegistryHit:
    """A subject's name found in one evidence item."""

    subject: Subject
    evidence: Evidence
    matched: str
    how: str
    score: float


@dataclass(frozen=True, slots=True)
class _Key:
    subject: Subject
    text: str
    words: tuple[str, ...]
    compact: str
    handle: bool


def _prepare(ev: Evidence) -> str:
    text = ev.text
    if ev.signal in ("name", "title", "trigger", "handle", "dataset-dir", "version"):
        text = camel_split(text)
    return normalize(text)


@dataclass
class Registry:
    """An in-memory set of subjects with a matcher over evidence.

    Build it with ``Registry(subjects)``; :func:`likenessguard.store.registry.load_registry`
    builds one from the catalog.
    """

    subjects: Sequence[Subject] = ()
    fuzzy_threshold: float = 92.0
    _keys: list[_Key] = field(default_factory=list, init=False, repr=False)
    _phrases: dict[tuple[str, ...], list[_Key]] = field(
        default_factory=dict, init=False, repr=False
    )
    _fuzzy: list[str] = field(default_factory=list, init=False, repr=False)
    _fuzzy_keys: list[_Key] = field(default_factory=list, init=False, repr=False)
    _cache: dict[tuple[str, str], list[tuple[Subject, str, str, float]]] = field(
        default_factory=dict, init=False, repr=False
    )

    def __post_init__(self) -> None:
        for s in self.subjects:
            for n, raw in enumerate(s.all_names()):
                text = normalize(raw.lstrip("@"))
                if not text:
                    continue
                handle = n >= 1 + len(s.aliases)
                key = _Key(s, text, tuple(text.split()), text.replace(" ", ""), handle)
                self._keys.append(key)
                self._phrases.setdefault(key.words, []).append(key)
                if len(key.compact) >= MIN_FUZZY and (len(key.words) >= 2 or handle):
                    self._fuzzy.append(key.text)
                    self._fuzzy_keys.append(key)
        self._lengths = sorted({len(k.words) for k in self._keys})
        self._compact_keys = [
            (k.compact, k)
            for k in self._keys
            if len(k.compact) >= MIN_COMPACT and (len(k.words) >= 2 or k.handle)
        ]
        self._fuzzy_lengths = sorted({len(k.words) for k in self._fuzzy_keys})

    def __len__(self) -> int:
        return len(self.subjects)

    def get(self, subject_id: str) -> Subject | None:
        return next((s for s in self.subjects if s.id == subject_id), None)

    def match(self, evidence: Iterable[Evidence]) -> list[RegistryHit]:
        """Every (subject, evidence) hit, best per pair, strongest first."""
        if not self._keys:
            return []
        best: dict[tuple[str, int], RegistryHit] = {}
        for idx, ev in enumerate(evidence):
            if ev.signal in ("negative-prompt", "hash"):
                continue
            for hit in self._match_one(ev):
                k = (hit.subject.id, idx)
                if k not in best or best[k].score < hit.score:
                    best[k] = hit
        return sorted(best.values(), key=lambda h: -h.score)

    def _match_one(self, ev: Evidence) -> list[RegistryHit]:
        # Names and tags repeat across artifacts: remember what short texts matched.
        if len(ev.text) > 512:
            return self._match_uncached(ev)
        key = (ev.text, ev.signal)
        cached = self._cache.get(key)
        if cached is None:
            if len(self._cache) >= CACHE_ITEMS:
                self._cache.clear()
            cached = [(h.subject, h.matched, h.how, h.score) for h in self._match_uncached(ev)]
            self._cache[key] = cached
        return [RegistryHit(s, ev, m, how, score) for s, m, how, score in cached]

    def _match_uncached(self, ev: Evidence) -> list[RegistryHit]:
        text = _prepare(ev)
        if not text:
            return []
        words = text.split()
        hits: list[RegistryHit] = []
        found: set[str] = set()
        for n in self._lengths:
            for i in range(len(words) - n + 1):
                for key in self._phrases.get(tuple(words[i : i + n]), ()):
                    # A one-word name (a mononym or a bare first name) only counts
                    # when it is the whole text or a handle: "jane" alone is no one.
                    if (
                        n == 1
                        and not key.handle
                        and len(words) > 2
                        and len(key.compact) < MIN_COMPACT
                    ):
                        continue
                    if key.subject.id not in found:
                        found.add(key.subject.id)
                        hits.append(
                            RegistryHit(key.subject, ev, " ".join(words[i : i + n]), "phrase", 1.0)
                        )
        compact_text = text.replace(" ", "")
        if len(compact_text) >= MIN_COMPACT:
            for compact, key in self._compact_keys:
                if compact in compact_text and key.subject.id not in found:
                    found.add(key.subject.id)
                    hits.append(RegistryHit(key.subject, ev, compact, "compact", 0.95))
        if self._fuzzy and len(words) <= 2000 and len(compact_text) >= MIN_FUZZY - 1:
            for n in self._fuzzy_lengths:
                for i in range(len(words) - n + 1):
                    window = " ".join(words[i : i + n])
                    got = process.extractOne(
                        window, self._fuzzy, scorer=fuzz.ratio, score_cutoff=self.fuzzy_threshold
                    )
                    if got is None:
                        continue
                    key = self._fuzzy_keys[got[2]]
                    if key.subject.id in found or len(key.words) != n:
                        continue
                    found.add(key.subject.id)
                    hits.append(
                        RegistryHit(key.subject, ev, window, "fuzzy", round(got[1] / 100, 4))
                    )
        return hits
