"""Training metadata embedded in model files (kohya ``ss_*`` keys, ``modelspec.*``).

This is the richest evidence a scanner has without the listing: the training
tags with their counts say what the images showed, the dataset folders name the
trigger and class (``10_ohwx woman``), and the base checkpoint says what the
model was trained for.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from typing import Any

from likenessguard.evidence._util import MAX_ITEMS, as_text, clip
from likenessguard.evidence.base import Evidence, EvidenceContext

SOURCE = "safetensors-metadata"
# Training-tag evidence keeps the most frequent tags only: they carry the signal,
# and a LoRA trained on 10k captions can declare 50k distinct tags.
MAX_TAGS = 200


def _decoded(meta: Mapping[str, Any], decoded: Mapping[str, Any], key: str) -> Any:
    value = decoded.get(key, meta.get(key))
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def parse_dataset_dir(name: str) -> tuple[int | None, str, str | None]:
    """Split a kohya folder name ``<repeats>_<trigger> <class>`` into its parts.

    >>> parse_dataset_dir("10_ohwx woman")
    (10, 'ohwx', 'woman')
    """
    repeats: int | None = None
    head, sep, rest = name.partition("_")
    if sep and head.isdigit() and len(head) <= 6:
        repeats, name = int(head), rest
    trigger, _, cls = name.strip().rpartition(" ")
    if not trigger:
        return repeats, cls, None
    return repeats, trigger.strip(), cls.strip() or None


def tag_counts(meta: Mapping[str, Any], decoded: Mapping[str, Any]) -> Counter[str]:
    """Training tags summed over every dataset folder (``ss_tag_frequency`` / ``ss_datasets``)."""
    counts: Counter[str] = Counter()
    freq = _decoded(meta, decoded, "ss_tag_frequency")
    sources: list[Any] = [freq]
    datasets = _decoded(meta, decoded, "ss_datasets")
    if isinstance(datasets, list):
        sources.extend(d.get("tag_frequency") for d in datasets[:64] if isinstance(d, dict))
    for src in sources:
        if not isinstance(src, dict):
            continue
        for folder in list(src.values())[:256]:
            if not isinstance(folder, dict):
                continue
            for n, (tag, c) in enumerate(folder.items()):
                if n >= 20000:
                    break
                if isinstance(tag, str) and isinstance(c, (int, float)) and tag.strip():
                    counts[clip(tag.strip(), 200)] += int(c)
    return counts


class MetadataExtractor:
    """Emits names, triggers, classes, tags (with counts) and descriptions from file metadata."""

    name = "metadata"

    def extract(self, context: EvidenceContext) -> list[Evidence]:
        art = context.artifact
        if art is None:
            return []
        meta: Mapping[str, Any] = art.metadata or {}
        dec: Mapping[str, Any] = art.decoded or {}
        out: list[Evidence] = []

        def add(field: str, value: Any, signal: str) -> None:
            text = as_text(value)
            if text:
                out.append(Evidence(SOURCE, field, text, signal))

        add("ss_output_name", _decoded(meta, dec, "ss_output_name"), "name")
        add("modelspec.title", _decoded(meta, dec, "modelspec.title"), "title")
        add("general.name", _decoded(meta, dec, "general.name"), "title")
        add("modelspec.trigger_phrase", _decoded(meta, dec, "modelspec.trigger_phrase"), "trigger")
        add("ss_sd_model_name", _decoded(meta, dec, "ss_sd_model_name"), "base-model")
        add("ss_base_model_version", _decoded(meta, dec, "ss_base_model_version"), "base-model")
        add("ss_training_comment", _decoded(meta, dec, "ss_training_comment"), "description")
        add("modelspec.description", _decoded(meta, dec, "modelspec.description"), "description")
        mtags = _decoded(meta, dec, "modelspec.tags")
        if isinstance(mtags, str):
            for t in mtags.split(",")[:MAX_ITEMS]:
                add("modelspec.tags", t, "tag")

        dirs = _decoded(meta, dec, "ss_dataset_dirs")
        if isinstance(dirs, dict):
            for n, dname in enumerate(dirs):
                if n >= 64 or not isinstance(dname, str):
                    break
                out.append(Evidence(SOURCE, "ss_dataset_dirs", clip(dname, 300), "dataset-dir"))
                _, trigger, cls = parse_dataset_dir(dname)
                add("ss_dataset_dirs", trigger, "trigger")
                if cls:
                    add("ss_dataset_dirs", cls, "class")

        for tag, c in tag_counts(meta, dec).most_common(MAX_TAGS):
            out.append(Evidence(SOURCE, "ss_tag_frequency", tag, "tag", c))
        return out
