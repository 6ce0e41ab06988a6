"""Model cards (Hugging Face README.md) as evidence: YAML front matter and body.

The front matter is parsed with ``yaml.safe_load`` only (never a loader that
can build objects), after a size bound, and a broken block is skipped, not fatal.
"""

from __future__ import annotations

from typing import Any

import yaml

from likenessguard.evidence._util import as_text, clip, dicts, texts
from likenessguard.evidence.base import Evidence, EvidenceContext

SOURCE = "model-card"
MAX_FRONT_MATTER = 64 * 1024
MAX_BODY = 6000


def split_front_matter(text: str) -> tuple[dict[str, Any], str]:
    """Return (front matter mapping, body). Missing or malformed front matter gives ``{}``."""
    if not text.startswith("---"):
        return {}, text
    end = text.find("\n---", 3)
    if end < 0 or end > MAX_FRONT_MATTER:
        return {}, text
    block = text[3:end]
    body = text[end + 4 :].lstrip("-\r\n")
    try:
        data = yaml.safe_load(block)
    except yaml.YAMLError:
        return {}, body
    return (data if isinstance(data, dict) else {}), body


class ModelCardExtractor:
    """Emits tags, base model, instance prompt, widget prompts, title and body of a card."""

    name = "model-card"

    def extract(self, context: EvidenceContext) -> list[Evidence]:
        if not context.card_text:
            return []
        front, body = split_front_matter(context.card_text)
        out: list[Evidence] = []

        def add(field: str, value: Any, signal: str) -> None:
            t = as_text(value)
            if t:
                out.append(Evidence(SOURCE, field, t, signal))

        for t in texts(front.get("tags")):
            out.append(Evidence(SOURCE, "tags", t, "tag"))
        for b in texts(front.get("base_model"), 10):
            out.append(Evidence(SOURCE, "base_model", b, "base-model"))
        add("instance_prompt", front.get("instance_prompt"), "trigger")
        add("model_name", front.get("model_name"), "title")
        widget = front.get("widget")
        for w in dicts(widget, 20):
            add("widget.text", w.get("text"), "prompt")
        for line in body.splitlines()[:40]:
            if line.startswith("# "):
                add("title", line[2:], "title")
                break
        body = clip(body.strip(), MAX_BODY)
        if body:
            out.append(Evidence(SOURCE, "body", body, "description"))
        return out
