"""Evidence: every piece of text a scanner can see about a model, with where it came from."""

from likenessguard.evidence.base import Evidence, EvidenceContext, Extractor
from likenessguard.evidence.context import collect_local_context, extract_all
from likenessguard.evidence.normalize import normalize

__all__ = [
    "Evidence",
    "EvidenceContext",
    "Extractor",
    "collect_local_context",
    "extract_all",
    "normalize",
]
