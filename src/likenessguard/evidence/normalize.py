"""Text normalisation so that obfuscation does not hide a name or a word.

Uploaders evade word lists with full-width letters, accents, zero-width
characters, Cyrillic/Greek lookalikes, leetspeak and separators inside names
(``c_h_a_r_l_i``, ``ch.ar.li``). Every detector and the registry match on the
output of :func:`normalize`, never on raw text. Everything here is a single
pass over the input (translate tables and token loops, no backtracking regex),
so hostile 100k-character strings cost linear time.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

# Characters that render as nothing and are used to split words invisibly.
_INVISIBLE = dict.fromkeys(
    map(
        ord,
        "\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u200b\u200c\u200d\u200e\u200f"
        "\u202a\u202b\u202c\u202d\u202e\u2060\u2061\u2062\u2063\u2064\u206a\u206b\u206c"
        "\u206d\u206e\u206f\u3164\ufeff\uffa0",
    ),
    None,
)

# Lookalikes that NFKC leaves alone: Cyrillic and Greek letters drawn like Latin ones.
_HOMOGLYPHS = str.maketrans(
    {
        "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o",
        "р": "p", "с": "c", "т": "t", "у": "y", "х": "x", "і": "i", "ї": "i", "ј": "j",
        "ѕ": "s", "ԁ": "d", "ԛ": "q", "ԝ": "w", "һ": "h", "ӏ": "l", "ɡ": "g", "ɑ": "a",
        "α": "a", "β": "b", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o",
        "ρ": "p", "τ": "t", "υ": "u", "χ": "x", "γ": "y", "ϲ": "c", "ω": "w", "μ": "u",
        "ł": "l", "ø": "o", "đ": "d", "ħ": "h", "ı": "i", "ß": "ss", "æ": "ae", "œ": "oe",
        "þ": "th", "ð": "d",
    }
)  # fmt: skip

# Leetspeak: applied only inside tokens that also contain a letter ("ch4rl1" but not "2023").
_LEET = str.maketrans(
    {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"}
)
_LEET_CHARS = frozenset("0134578@$")

# Characters that join a word in the raw text but separate it when obfuscated.
_KEEP = frozenset("@$")


def _strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _tokens(text: str) -> tuple[list[str], list[bool]]:
    """Split on anything that is neither a letter/digit nor a leet symbol (one pass).

    Also returns, per token, whether the separator before it held whitespace:
    ``j.a.n.e r.o.e`` spells two words, ``c h a r l i`` one.
    """
    out: list[str] = []
    spaced: list[bool] = []
    buf: list[str] = []
    saw_space = False
    for ch in text:
        if ch.isalnum() or ch in _KEEP:
            if not buf:
                spaced.append(saw_space)
                saw_space = False
            buf.append(ch)
        else:
            if buf:
                out.append("".join(buf))
                buf = []
            if ch.isspace():
                saw_space = True
    if buf:
        out.append("".join(buf))
    return out, spaced


def _deleet(token: str) -> str:
    if not _LEET_CHARS.intersection(token):
        return token
    if not any(ch.isalpha() for ch in token):
        return token.replace("@", "").replace("$", "")
    return token.translate(_LEET)


def _join_spelled(tokens: list[str], spaced: list[bool]) -> list[str]:
    """Join runs of three or more one-letter tokens: ``c h a r l i`` -> ``charli``.

    A run keeps the kind of separator it started with (spaces or punctuation),
    so ``j.a.n.e r.o.e`` gives ``jane roe``.
    """
    out: list[str] = []
    run: list[str] = []
    kind: bool | None = None

    def flush() -> None:
        out.extend(["".join(run)] if len(run) >= 3 else run)
        run.clear()

    for tok, sp in zip(tokens, spaced, strict=True):
        single = len(tok) == 1 and tok.isalpha()
        if single and run and (kind is None or kind == sp):
            kind = sp
            run.append(tok)
            continue
        if run:
            flush()
        kind = None
        if single:
            run.append(tok)
        else:
            out.append(tok)
    if run:
        flush()
    return out


# Short texts (names, tags, triggers) repeat across detectors and artifacts: cache them.
# Long texts are not cached so a hostile listing cannot fill memory.
CACHE_MAX_LEN = 512
_ASCII_SEP = str.maketrans({c: " " for c in map(chr, range(128)) if not (c.isalnum() or c in "@$")})


def normalize(text: str, *, leet: bool = True) -> str:
    """Fold ``text`` to a canonical lowercase ASCII-ish form with single spaces.

    NFKC, zero-width removal, case-fold, accent stripping, homoglyph folding,
    leetspeak inside words (unless ``leet`` is false: ages like ``13yo`` need the
    digits), every separator to one space, spelled-out letters joined.

    >>> normalize("Ｃｈ４ｒｌｉ_D'Ａmélio")
    'charli d amelio'
    >>> normalize("c.h.a.r.l.i")
    'charli'
    """
    if len(text) <= CACHE_MAX_LEN:
        return _normalize_cached(text, leet)
    return _normalize(text, leet)


@lru_cache(maxsize=1 << 16)
def _normalize_cached(text: str, leet: bool) -> str:
    return _normalize(text, leet)


def _normalize(text: str, leet: bool) -> str:
    if not text:
        return ""
    if text.isascii():
        # Fast path: nothing to fold but case, leetspeak and separators, unless
        # single letters need the spaced/punctuated distinction of the slow path.
        parts = text.lower().translate(_ASCII_SEP).split()
        if not any(len(p) == 1 and p.isalpha() for p in parts):
            if leet:
                parts = [_deleet(p) for p in parts]
            return " ".join(p for p in parts if p)
    text = unicodedata.normalize("NFKC", text).translate(_INVISIBLE).casefold()
    text = _strip_accents(text).translate(_HOMOGLYPHS)
    tokens, spaced = _tokens(text)
    if leet:
        kept = [(t, sp) for t, sp in zip(map(_deleet, tokens), spaced, strict=True) if t]
        tokens = [t for t, _ in kept]
        spaced = [sp for _, sp in kept]
    joined = _join_spelled(tokens, spaced)
    # Short runs left over ("a.b c d") would join on a second pass: join them now,
    # so normalize(normalize(x)) == normalize(x).
    joined = _join_spelled(joined, [True] * len(joined))
    return " ".join(t for t in joined if t)


def compact(text: str) -> str:
    """The normalised text without spaces: ``charli d amelio`` -> ``charlidamelio``.

    Handles and run-together names (``janeroe_official``) match on this form.
    """
    return normalize(text).replace(" ", "")


def words(text: str) -> list[str]:
    """The normalised words of ``text``."""
    return normalize(text).split()


def camel_split(text: str) -> str:
    """Split camelCase and digit boundaries before normalising (``janeRoe_v2`` -> ``jane Roe v 2``).

    Civitai file names are camelCased model names; splitting recovers the words.
    """
    out: list[str] = []
    prev = ""
    for ch in text:
        if prev and (
            (prev.islower() and ch.isupper())
            or (prev.isalpha() and ch.isdigit() and ch not in "01345")
        ):
            out.append(" ")
        out.append(ch)
        prev = ch
    return "".join(out)
