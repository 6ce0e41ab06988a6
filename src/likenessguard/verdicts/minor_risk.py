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
ADULT = lexicon.PhraseSet.of(
    [
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


class MinorRiskDetector:
    label = Label.MINOR_RISK

    def __init__(self, policy: Policy) -> None:
        self.policy = policy

    def detect(self, facts: Facts) -> LabelResult:
        w = self.policy.weights["minor_risk"]
        strong = lexicon.minor_strong()
        weak = lexicon.minor_weak()
        best_strong = 0.0
        weak_terms: dict[str, float] = {}
        adult = False
        cited: list[tuple[float, Evidence]] = []
        for ev in facts.evidence:
            if ev.signal in SKIP_SIGNALS:
                continue
            factor = w["description_factor"] if ev.signal == "description" else 1.0
            words = evidence_words(ev)
            s_terms = strong.find(words)
            if not ev.text.isascii():
                s_terms += [t for t in UNSPACED_STRONG if t in ev.text]
            if ev.signal == "description":
                s_terms = [t for t in s_terms if t not in ("minor", "minors", "jk", "kid", "kids")]
            item = 0.0
            if s_terms:
                item = max(item, w["strong"] * factor)
            young_ages = [a for a in ages(ev.text) if 0 < a < 18]
            if young_ages:
                item = max(item, w["age"])
            best_strong = max(best_strong, item)
            w_terms = weak.find(words)
            for t in w_terms:
                val = (w["faint"] if t in FAINT else w["weak"]) * factor
                weak_terms[t] = max(weak_terms.get(t, 0.0), val)
            if ADULT.find(words):
                adult = True
            if item > 0 or w_terms:
                cited.append((item + 0.01 * len(w_terms), ev))
        weak_sum = sum(weak_terms.values()) * (w["adult_factor"] if adult else 1.0)
        score = min(1.0, max(best_strong, min(0.85, weak_sum)))
        fired = score >= self.policy.threshold(self.label)
        if not fired:
            return LabelResult(round(score, 4), False)
        cited.sort(key=lambda t: -t[0])
        return LabelResult(
            round(score, 4), True, tuple(ev for _, ev in cited[: self.policy.max_cited])
        )
