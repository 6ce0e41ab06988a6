"""Gathering what sits next to a model file, and running every extractor over it.

A LoRA downloaded by a hub client rarely travels alone: the repo's README.md,
a ``<stem>.civitai.info`` written by a downloader, an A1111 ``<stem>.json``
and ``<stem>*.png`` previews carry the names, tags and prompts that its
metadata may lack. Reads are bounded so a folder of junk costs little.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from likenessguard.artifacts.base import Artifact, FileSource
from likenessguard.evidence.base import Evidence, EvidenceContext, Extractor
from likenessguard.evidence.image_text import ImageTextExtractor, read_png_text
from likenessguard.evidence.listing import ListingExtractor, SidecarExtractor
from likenessguard.evidence.metadata import MetadataExtractor
from likenessguard.evidence.model_card import ModelCardExtractor
from likenessguard.evidence.names import NameExtractor

MAX_CARD = 256 * 1024
MAX_SIDECAR = 4 * 1024 * 1024
MAX_PREVIEWS = 8
# Evidence beyond this many items adds nothing a reviewer can read.
MAX_EVIDENCE = 1200

DEFAULT_EXTRACTORS: tuple[Extractor, ...] = (
    NameExtractor(),
    MetadataExtractor(),
    ModelCardExtractor(),
    ListingExtractor(),
    SidecarExtractor(),
    ImageTextExtractor(),
)


def extract_all(
    context: EvidenceContext, extractors: Sequence[Extractor] = DEFAULT_EXTRACTORS
) -> tuple[Evidence, ...]:
    """Every evidence item of ``context``, de-duplicated, in extractor order."""
    seen: set[tuple[str, str, str, str]] = set()
    out: list[Evidence] = []
    for ex in extractors:
        try:
            items: Iterable[Evidence] = ex.extract(context)
        except (ValueError, TypeError, KeyError, AttributeError, RecursionError):
            # An extractor bug on odd input must not lose the other extractors' evidence.
            continue
        for ev in items:
            key = (ev.source, ev.field, ev.text, ev.signal)
            if key not in seen:
                seen.add(key)
                out.append(ev)
            if len(out) >= MAX_EVIDENCE:
                return tuple(out)
    return tuple(out)


def _read_text(path: Path, limit: int) -> str | None:
    try:
        if not path.is_file() or path.stat().st_size > limit:
            return None
        return path.read_text("utf-8", errors="replace")
    except OSError:
        return None


def _read_json(path: Path) -> Any:
    text = _read_text(path, MAX_SIDECAR)
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def _read_artifact(path: Path) -> Artifact | None:
    if path.suffix.lower() != ".safetensors" or not path.is_file():
        return None
    from likenessguard.artifacts.safetensors import read_safetensors

    try:
        with FileSource(path) as src:
            return read_safetensors(src, str(path))
    except OSError:
        return None


def collect_local_context(
    path: str | Path, artifact: Artifact | None = None, *, read_artifact: bool = True
) -> EvidenceContext:
    """Build the context of a local model file from the file and its neighbours.

    Looks for ``README.md`` in the file's folder (or its parent, a repo root),
    ``<stem>.civitai.info``, ``<stem>.json`` and up to 8 ``<stem>*.png``
    previews. When ``artifact`` is not given and ``read_artifact`` is true, a
    ``.safetensors`` header is read (header only).
    """
    p = Path(path)
    if artifact is None and read_artifact:
        artifact = _read_artifact(p)
    folder = p.parent
    card = None
    for cand in (folder / "README.md", folder.parent / "README.md"):
        card = _read_text(cand, MAX_CARD)
        if card is not None:
            break
    sidecars: dict[str, Any] = {}
    for cand in (p.with_suffix(".civitai.info"), p.with_suffix(".json")):
        data = _read_json(cand)
        if isinstance(data, dict):
            sidecars[cand.name] = data
    images: dict[str, dict[str, str]] = {}
    pngs = [folder / n for n in _pngs(folder) if n.startswith(p.stem)][:MAX_PREVIEWS]
    for png in pngs:
        chunks = read_png_text(png)
        if chunks:
            images[png.name] = chunks
    repo = folder.name if folder.name else None
    return EvidenceContext(
        artifact=artifact,
        file_name=p.name,
        repo_name=repo,
        card_text=card,
        sidecars=sidecars,
        image_texts=images,
    )


def _pngs(folder: Path) -> tuple[str, ...]:
    """The sorted ``*.png`` names in ``folder``, listed once per folder state.

    Scanning a folder of N models looks for previews N times: listing it each time
    would cost N^2; the listing is cached and refreshed when the folder changes.
    """
    try:
        mtime = folder.stat().st_mtime_ns
    except OSError:
        return ()
    return _pngs_cached(str(folder), mtime)


@lru_cache(maxsize=64)
def _pngs_cached(folder: str, _mtime_ns: int) -> tuple[str, ...]:
    try:
        with os.scandir(folder) as it:
            return tuple(sorted(e.name for e in it if e.name.lower().endswith(".png")))
    except OSError:
        return ()
