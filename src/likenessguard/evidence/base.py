"""The evidence seam: uniform items that detectors score and verdicts cite."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import msgspec

from likenessguard.artifacts.base import Artifact


class Evidence(msgspec.Struct, frozen=True, gc=False):
    """One piece of text a detector may fire on, and where it was found.

    A msgspec struct rather than a dataclass: a LoRA yields an item per
    training tag (often over a hundred), and a struct is built in C.

    Attributes:
        source: where it was read: ``file-name``, ``repo-name``, ``safetensors-metadata``,
            ``model-card``, ``listing``, ``sidecar``, ``image-text``, ``gguf-metadata``.
        field: the exact field (``ss_tag_frequency``, ``trainedWords``, ``parameters``...).
        text: the text as found (never normalised: reviewers see what the uploader wrote).
        signal: what kind of text it is: ``name``, ``trigger``, ``tag``, ``dataset-dir``,
            ``caption``, ``prompt``, ``description``, ``base-model``, ``title``, ``handle``.
        count: how often it occurs (training-tag counts), 1 otherwise.
    """

    source: str
    field: str
    text: str
    signal: str
    count: int = 1

    def to_json(self) -> dict[str, str | int]:
        return {
            "source": self.source,
            "field": self.field,
            "text": self.text,
            "signal": self.signal,
            "count": self.count,
        }


@dataclass(frozen=True)
class EvidenceContext:
    """Everything a scanner saw about one artifact or listing, before extraction.

    All parts are optional: a hub listing has no artifact, a bare local file has
    no listing. Sizes are bounded by whoever builds the context
    (:func:`likenessguard.evidence.context.collect_local_context`).

    Attributes:
        artifact: the parsed model file (its metadata is read; never its weights).
        file_name: the artifact's file name (``janeRoe_v2.safetensors``).
        repo_name: the hub repo or folder name (``someone/jane-roe-lora``).
        card_text: a model card (README.md with optional YAML front matter).
        listing: a Civitai-style listing record (dev-data shape or raw API model object).
        sidecars: downloader sidecars as parsed JSON (``*.civitai.info``, ``*.json``), by file name.
        image_texts: preview images' embedded text chunks, by image name then chunk key.
    """

    artifact: Artifact | None = None
    file_name: str | None = None
    repo_name: str | None = None
    card_text: str | None = None
    listing: Mapping[str, Any] | None = None
    sidecars: Mapping[str, Any] = field(default_factory=dict)
    image_texts: Mapping[str, Mapping[str, str]] = field(default_factory=dict)


@runtime_checkable
class Extractor(Protocol):
    """Turns one part of an :class:`EvidenceContext` into :class:`Evidence` items."""

    name: str

    def extract(self, context: EvidenceContext) -> list[Evidence]:
        """Return the evidence found; must not raise on malformed input.

        Implementations skip values of the wrong type, bound how much they emit
        (a hostile file may hold millions of tags) and never normalise ``text``:
        reviewers must see what the uploader wrote.
        """
        ...
