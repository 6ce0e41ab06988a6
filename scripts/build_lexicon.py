"""Build src/likenessguard/verdicts/data/lexicon.json from Civitai's moderation word lists.

Usage: python scripts/build_lexicon.py /path/to/civitai-lists [/path/to/names-0.3.0/names]

The second, optional source is the ``names`` package 0.3.0 from PyPI (MIT; its
files are the 1990 US Census name frequency lists, public domain): first names
and the 20,000 most common last names give the "first last" person-name
structure signal for names no list knows.

The lists (Apache-2.0, civitai/civitai commit ebed661630d3407a6d853981d89c97c31a2a4be0,
src/utils/metadata/lists/) are regular-expression fragments; likenessguard matches
words on normalised text without regexes (linear time on hostile input), so each
entry becomes either a plain word/phrase or a word stem (``\\w*nude\\w*`` ->
stem ``nude``). Entries using other regex features are expanded where trivial
(``thongs?`` -> ``thong``, ``thongs``) and dropped otherwise.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from likenessguard.evidence.normalize import normalize

OUT = Path(__file__).resolve().parents[1] / "src/likenessguard/verdicts/data/lexicon.json"
REGEX_CHARS = set("\\[]()|*+?{}^$.")


def expand(entry: str) -> tuple[list[str], list[str]]:
    """(words, stems) for one list entry."""
    e = entry.strip().strip("|").lower()
    if not e:
        return [], []
    if e.startswith("\\w*") or e.endswith("\\w*"):
        core = e.replace("\\w*", "")
        if core and not REGEX_CHARS & set(core):
            return [], [normalize(core)]
        return [], []
    if e.endswith("?") and not REGEX_CHARS & set(e[:-2]) and e[-2].isalpha():
        return [normalize(e[:-2]), normalize(e[:-1])], []
    if REGEX_CHARS & set(e):
        return [], []
    n = normalize(e)
    return ([n] if n else []), []


def build(src: Path) -> dict[str, object]:
    def load(name: str) -> object:
        return json.loads((src / name).read_text("utf-8"))

    def words_of(entries: object) -> tuple[list[str], list[str]]:
        ws: set[str] = set()
        ss: set[str] = set()
        for e in entries if isinstance(entries, list) else []:
            w, s = expand(str(e))
            ws.update(w)
            ss.update(s)
        return sorted(ws), sorted(ss)

    poi = sorted({normalize(n) for n in load("words-poi.json") if normalize(n)})  # type: ignore[union-attr]
    explicit_w, explicit_s = words_of(
        [*load("words-nsfw.json"), *load("words-nsfw-prompt.json"), *load("blocked-words.json")]  # type: ignore[misc]
    )
    soft_w, _ = words_of(load("words-nsfw-soft.json"))
    young = load("words-young.json")
    young_w, young_s = words_of([*young["adjectives"], *young["nouns"]])  # type: ignore[index]
    whitelist, _ = words_of(load("whitelist-words.json"))
    return {
        "poi_names": poi,
        "explicit_words": explicit_w,
        "explicit_stems": explicit_s,
        "soft_words": soft_w,
        "young_words": young_w,
        "young_stems": young_s,
        "whitelist": whitelist,
    }


def census(folder: Path) -> dict[str, list[str]]:
    def col(name: str, limit: int) -> list[str]:
        lines = (folder / name).read_text("ascii").splitlines()[:limit]
        return [normalize(line.split()[0]) for line in lines if line.strip()]

    first = sorted(set(col("dist.female.first", 10000)) | set(col("dist.male.first", 10000)))
    last = sorted(set(col("dist.all.last", 20000)))
    return {"first_names": first, "last_names": last}


def main() -> None:
    src = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("/work/shared/data/civitai-lists")
    data = build(src)
    if len(sys.argv) > 2:
        data.update(census(Path(sys.argv[2])))
    OUT.write_text(json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n", "utf-8")
    sizes = {k: len(v) for k, v in data.items() if isinstance(v, list)}
    print(f"wrote {OUT} {sizes}")


if __name__ == "__main__":
    main()
