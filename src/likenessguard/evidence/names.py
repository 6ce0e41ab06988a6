"""File and repo names as evidence: re-uploads keep a person's name in the file name."""

from __future__ import annotations

from likenessguard.evidence._util import clip
from likenessguard.evidence.base import Evidence, EvidenceContext


class NameExtractor:
    """Emits the artifact's file name and its repo/folder name."""

    name = "names"

    def extract(self, context: EvidenceContext) -> list[Evidence]:
        out: list[Evidence] = []
        if context.file_name:
            out.append(Evidence("file-name", "file_name", clip(context.file_name, 512), "name"))
        if context.repo_name:
            out.append(Evidence("repo-name", "repo_name", clip(context.repo_name, 512), "name"))
        return out
