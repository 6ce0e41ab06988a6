"""The evidence seam: uniform items that detectors score and verdicts cite."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Evidence:
    """One piece of text a detector may fire on, and where it was found.

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
