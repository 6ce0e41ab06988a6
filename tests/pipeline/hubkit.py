"""Shared helpers for crawl tests: a sha256 bank and a card-reading judge, as real Analyzers."""

from __future__ import annotations

from collections.abc import Mapping

from likenessguard.artifacts.base import Artifact
from likenessguard.banks.base import Match
from likenessguard.evidence.base import Evidence
from likenessguard.hashing.base import FileHashes
from likenessguard.hubs.http import Politeness
from likenessguard.pipeline.base import AnalysisResult, ScanContext
from likenessguard.store.records import Location
from likenessguard.verdicts.base import Label, LabelResult, Severity, Verdict

FAST = Politeness(rate=0, concurrency=8, backoff=0.01, max_backoff=0.05)


class Sha256Bank:
    """Exact sha256 bank matching, from computed hashes or the hub's stored ones."""

    name = "sha256-bank"

    def __init__(self, banned: Mapping[str, str]) -> None:
        self.banned = {k.lower(): v for k, v in banned.items()}

    def analyze(
        self,
        artifact: Artifact,
        hashes: FileHashes | None,
        location: Location,
        context: ScanContext,
    ) -> AnalysisResult:
        sha = (hashes.sha256 if hashes else None) or context.known_hashes.get("sha256")
        if sha and sha.lower() in self.banned:
            entry = {"id": self.banned[sha.lower()], "sha256": sha.lower()}
            return AnalysisResult(matches=(Match("test", entry, "sha256"),))
        return AnalysisResult()


class CardJudge:
    """Flags files whose model card names a protected (fictional) person: medium severity."""

    name = "card-judge"

    def __init__(self, names: tuple[str, ...] = ("Jane Roe",)) -> None:
        self.names = names

    def analyze(
        self,
        artifact: Artifact,
        hashes: FileHashes | None,
        location: Location,
        context: ScanContext,
    ) -> AnalysisResult:
        card = getattr(context.target, "card", None) or ""
        for name in self.names:
            if name in card:
                ev = Evidence(source="model-card", field="body", text=name, signal="name")
                result = LabelResult(score=0.9, fired=True, evidence=(ev,))
                return AnalysisResult(
                    verdict=Verdict(Severity.MEDIUM, {Label.REAL_PERSON: result}, subject=name)
                )
        return AnalysisResult()
