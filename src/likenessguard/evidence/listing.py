"""Hub listings and downloader sidecars as evidence (Civitai shapes).

Accepts the dev-data record shape (``versions[]``, ``images[].prompt``), raw
Civitai API model objects (``modelVersions[]``, ``images[].meta.prompt``,
``tags`` as strings or ``{"name"}`` objects), ``*.civitai.info`` sidecars
(one model *version* object with a ``model`` member) and the A1111 LoRA
sidecar ``*.json`` (``activation text``, ``description``, ``sd version``).

Labels or flags a platform assigned (``nsfw``, ``poi``) are never evidence:
they are what the detectors are measured against.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from likenessguard.evidence._util import as_text, dicts, strip_html, texts
from likenessguard.evidence.base import Evidence, EvidenceContext

MAX_VERSIONS = 20
MAX_IMAGES = 12


def _prompt(image: Mapping[str, Any]) -> str | None:
    meta = image.get("meta")
    if isinstance(meta, dict):
        return as_text(meta.get("prompt"))
    return as_text(image.get("prompt"))


def _version(source: str, v: Mapping[str, Any], out: list[Evidence]) -> None:
    def add(field: str, value: Any, signal: str) -> None:
        t = as_text(value)
        if t:
            out.append(Evidence(source, field, t, signal))

    add("versions.name", v.get("name"), "version")
    add("versions.baseModel", v.get("baseModel"), "base-model")
    for w in texts(v.get("trainedWords"), 50):
        out.append(Evidence(source, "trainedWords", w, "trigger"))
    desc = as_text(v.get("description"))
    if desc:
        add("versions.description", strip_html(desc), "description")
    for f in dicts(v.get("files"), 20):
        add("files.name", f.get("name"), "name")
    for img in dicts(v.get("images"), MAX_IMAGES):
        add("images.prompt", _prompt(img), "prompt")


def listing_evidence(record: Mapping[str, Any], source: str = "listing") -> list[Evidence]:
    """Evidence from one listing record in any of the accepted shapes."""
    out: list[Evidence] = []

    def add(field: str, value: Any, signal: str) -> None:
        t = as_text(value)
        if t:
            out.append(Evidence(source, field, t, signal))

    if "activation text" in record or "sd version" in record:  # A1111 LoRA sidecar
        for w in str(record.get("activation text") or "").split(",")[:50]:
            add("activation text", w, "trigger")
        add("description", record.get("description"), "description")
        add("notes", record.get("notes"), "description")
        add("sd version", record.get("sd version"), "base-model")
        return out

    model = record.get("model")
    if isinstance(model, dict) and ("trainedWords" in record or "files" in record):
        # A civitai.info sidecar: a version object, with its model's name and tags inside.
        add("model.name", model.get("name"), "title")
        add("model.type", model.get("type"), "type")
        for t in texts(model.get("tags")):
            out.append(Evidence(source, "model.tags", t, "tag"))
        if isinstance(model.get("description"), str):
            add("model.description", strip_html(model["description"]), "description")
        _version(source, record, out)
        return out

    add("name", record.get("name"), "title")
    # Bounty / request texts ("make a LoRA of <person>, full body").
    add("text", record.get("text"), "request")
    add("type", record.get("type"), "type")
    for t in texts(record.get("tags")):
        out.append(Evidence(source, "tags", t, "tag"))
    if isinstance(record.get("description"), str):
        add("description", strip_html(record["description"]), "description")
    creator = record.get("creator")
    if isinstance(creator, dict):
        add("creator.username", creator.get("username"), "handle")
    versions = record.get("versions", record.get("modelVersions"))
    for v in dicts(versions, MAX_VERSIONS):
        _version(source, v, out)
    return out


class ListingExtractor:
    """Emits evidence from the context's listing record."""

    name = "listing"

    def extract(self, context: EvidenceContext) -> list[Evidence]:
        if not isinstance(context.listing, Mapping):
            return []
        return listing_evidence(context.listing)


class SidecarExtractor:
    """Emits evidence from downloader sidecars (``*.civitai.info``, ``*.json``)."""

    name = "sidecar"

    def extract(self, context: EvidenceContext) -> list[Evidence]:
        out: list[Evidence] = []
        for _name, data in list(context.sidecars.items())[:8]:
            if isinstance(data, Mapping):
                out.extend(listing_evidence(data, source="sidecar"))
        return out
