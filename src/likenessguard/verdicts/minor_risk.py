"""The ``minor_risk`` detector: does anything suggest the model depicts minors?

Rules, not a learned model: the listing data has no minor label to learn
from, and this label must have no blind spots on the phrasings reviewers know
(tests hold a hand-built corpus with recall 1.0). Three kinds of signal:

- strong terms (``loli``, ``child``, ``preteen``, ``middle school`` ...) in a
  name, tag, trigger or prompt fire alone;
- an age under 18 (``13yo``, ``age 12``, ``15 years old``, ``14 y.o.``) fires alone,
  anywhere; ages are read before leetspeak folding so digits stay digits;
- weaker terms (``petite``, ``school uniform``, ``flat chest`` ...) and faint
  ones (``girl``, ``cute``, ``school``) add up; adult terms next to them
  (``mature``, ``milf``) halve them.

Terms found only in descriptions count for less (descriptions say "no
children" and "minor fixes"). Negative prompts are never read.
Severity escalates: minor_risk with sexual or real_person is critical.
"""

from __future__ import annotations

from functools import lru_cache

from likenessguard.evidence.base import Evidence
from likenessguard.evidence.normalize import normalize
from likenessguard.verdicts import lexicon
from likenessguard.verdicts.base import Facts, Label, LabelResult
from likenessguard.verdicts.features import evidence_words
from likenessguard.verdicts.policy import Policy

FAINT = frozenset(
    [
        "girl",
        "boy",
        "cute",
        "innocent",
        "student",
        "students",
        "school",
        "small",
        "tiny",
        "backpack",
        "pigtails",
        "twintails",
        "classroom",
        "son",
        "daughter",
        "lollipop",
    ]
)
# Weaker terms count once per concept: "school uniform" and "serafuku" are one signal.
WEAK_GROUPS = {
    "uniform": (
        "school uniform",
        "serafuku",
        "schoolgirl",
        "school girl",
        "schoolboy",
        "randoseru",
    ),
    "body": ("petite", "flat chest", "flat chested", "small breasts"),
    "youth": (
        "young",
        "younger",
        "youthful",
        "childlike",
        "babyface",
        "baby face",
        "aged down",
        "age regression",
    ),
    "family": ("little sister", "imouto", "stepdaughter", "niece"),
    "setting": ("high school", "high schooler", "highschool", "teddy bear"),
}
GROUP_OF = {term: group for group, terms in WEAK_GROUPS.items() for term in terms}
ADULT = lexicon.PhraseSet.of(
    [
        "young woman",
        "young women",
        "young man",
        "young lady",
        "young adult",
        "woman",
        "women",
        "lady",
        "mature",
        "milf",
        "adult",
        "adults",
        "mother",
        "mom",
        "wife",
        "middle aged",
        "old woman",
        "grown up",
    ]
)
SKIP_SIGNALS = frozenset({"negative-prompt", "hash", "type", "base-model"})
AGE_WORDS = frozenset({"yo", "yr", "yrs", "year", "years", "y"})
PRE_AGE = frozenset({"age", "aged", "ages"})
NUMBER_WORDS = {
    w: n
    for n, w in enumerate(
        [
            "zero",
            "one",
            "two",
            "three",
            "four",
            "five",
            "six",
            "seven",
            "eight",
            "nine",
            "ten",
            "eleven",
            "twelve",
            "thirteen",
            "fourteen",
            "fifteen",
            "sixteen",
            "seventeen",
        ]
    )
}
# Terms in scripts written without spaces are matched as substrings of the text.
UNSPACED_STRONG = tuple(t for t in lexicon.MINOR_STRONG if not t.isascii())


def _split_num(tok: str) -> tuple[int | None, str]:
    i = 0
    while i < len(tok) and tok[i].isdigit() and i < 3:
        i += 1
    if i == 0 or (i == len(tok) and i > 2):
        return None, tok
    return int(tok[:i]), tok[i:]


def ages(text: str) -> list[int]:
    """Ages stated in ``text``: ``13yo``, ``age 12``, ``15 years old``, ``14-year-old``."""
    ws = normalize(text, leet=False).split()
    out: list[int] = []
    for i, w in enumerate(ws):
        n, rest = _split_num(w)
        if n is None and w in NUMBER_WORDS:
            n, rest = NUMBER_WORDS[w], ""
        if n is None:
            continue
        nxt = ws[i + 1] if i + 1 < len(ws) else ""
        nxt2 = ws[i + 2] if i + 2 < len(ws) else ""
        if (
            rest in ("yo", "yrs", "yr", "y")
            or (rest in ("years", "year") and nxt in ("old", "o"))
            or (
                not rest
                and (
                    nxt == "yo"
                    or (nxt == "y" and nxt2 == "o")
                    or (nxt in ("years", "year", "yrs", "yr") and nxt2 in ("old", "o"))
                )
            )
            or (not rest and i > 0 and ws[i - 1] in PRE_AGE)
        ):
            out.append(n)
    return out


def _item(text: str, signal: str) -> tuple[tuple[str, ...], bool, tuple[str, ...], bool]:
    """(strong terms, states an age under 18, weaker terms, adult terms present) of one item."""
    words = evidence_words(Evidence("", "", text, signal))
    s_terms = lexicon.minor_strong().find(words)
    if not text.isascii():
        s_terms += [t for t in UNSPACED_STRONG if t in text]
    if signal == "description":
        s_terms = [t for t in s_terms if t not in ("minor", "minors", "jk", "kid", "kids")]
    young = any(0 < a < 18 for a in ages(text))
    return tuple(s_terms), young, tuple(lexicon.minor_weak().find(words)), bool(ADULT.find(words))


_item_cached = lru_cache(maxsize=1 << 15)(_item)


def item_minor_terms(ev: Evidence) -> tuple[tuple[str, ...], bool, tuple[str, ...], bool]:
    # Short items (tags, names) repeat across artifacts: cache them.
    return _item_cached(ev.text, ev.signal) if len(ev.text) <= 512 else _item(ev.text, ev.signal)


class MinorRiskDetector:
    label = Label.MINOR_RISK

    def __init__(self, policy: Policy) -> None:
        self.policy = policy

    def detect(self, facts: Facts) -> LabelResult:
        w = self.policy.weights["minor_risk"]
        best_strong = 0.0
        groups: dict[str, float] = {}
        faint = 0.0
        adult = False
        cited: list[tuple[float, Evidence]] = []
        for ev in facts.evidence:
            if ev.signal in SKIP_SIGNALS:
                continue
            factor = w["description_factor"] if ev.signal == "description" else 1.0
            s_terms, young_age, w_terms, has_adult = item_minor_terms(ev)
            item = 0.0
            if s_terms:
                item = max(item, w["strong"] * factor)
            if young_age:
                item = max(item, w["age"])
            best_strong = max(best_strong, item)
            for t in w_terms:
                g = GROUP_OF.get(t)
                if g is not None:
                    groups[g] = max(groups.get(g, 0.0), w["weak"] * factor)
                elif t in FAINT or t not in GROUP_OF:
                    faint = max(faint, w["faint"] * factor)
            if has_adult:
                adult = True
            if item > 0 or w_terms:
                cited.append((item + 0.01 * len(w_terms), ev))
        # Faint terms (girl, cute, school) only add to a weaker concept, never alone.
        weak_sum = (sum(groups.values()) + (faint if groups else 0.0)) * (
            w["adult_factor"] if adult else 1.0
        )
        score = min(1.0, max(best_strong, min(0.85, weak_sum)))
        fired = score >= self.policy.threshold(self.label)
        if not fired:
            return LabelResult(round(score, 4), False)
        cited.sort(key=lambda t: -t[0])
        return LabelResult(
            round(score, 4), True, tuple(ev for _, ev in cited[: self.policy.max_cited])
        )
