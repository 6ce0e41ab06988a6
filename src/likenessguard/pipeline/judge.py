"""The verdict analyzer: plugs evidence, detectors, policy and registry into a scan.

It satisfies :class:`likenessguard.pipeline.base.Analyzer`. It is picklable
(``--jobs N`` ships it to workers): the policy is parsed and the registry read
lazily, once per process. Each record gets the verdict and, under
``extra["evidence"]``, a bounded list of the evidence it saw, so a subject
added to the registry later can be searched for across the whole catalog
without reading any file again (``likenessguard.store.registry.search_subject``).
"""

from __future__ import annotations

import os
from typing import Any

from likenessguard.artifacts.base import Artifact
from likenessguard.errors import LikenessGuardError
from likenessguard.evidence.base import EvidenceContext
from likenessguard.evidence.context import collect_local_context, extract_all
from likenessguard.hashing.base import FileHashes
from likenessguard.pipeline.base import AnalysisResult, ScanContext
from likenessguard.pipeline.once import Once
from likenessguard.registry.base import Registry
from likenessguard.store.records import Location
from likenessguard.verdicts.judge import compact_evidence, judge_evidence
from likenessguard.verdicts.policy import Policy, default_policy, load_policy


class VerdictAnalyzer:
    """Judges each artifact; see the module docstring.

    Args:
        policy_path: a policy YAML file (default: the packaged policy).
        db_url: a catalog to read the protected-person registry from (optional).
        registry: an in-memory registry to use instead of ``db_url``.
        neighbours: read README/sidecars/previews next to local files.
    """

    name = "verdicts"

    def __init__(
        self,
        policy_path: str | None = None,
        db_url: str | None = None,
        *,
        registry: Registry | None = None,
        neighbours: bool = True,
    ) -> None:
        self.policy_path = policy_path
        self.db_url = db_url
        self.neighbours = neighbours
        self._policy: Once[Policy] = Once()
        self._registry: Once[Registry | None] = Once()
        if registry is not None:
            self._registry.set(registry)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        if not self.db_url:
            # An in-memory registry has no catalog to be reloaded from: ship it.
            shipped: Once[Registry | None] = Once()
            shipped.set(self.registry())
            state["_registry"] = shipped
        return state

    def policy(self) -> Policy:
        """The policy, parsed once per process."""
        return self._policy.get(
            lambda: load_policy(self.policy_path) if self.policy_path else default_policy()
        )

    def registry(self) -> Registry | None:
        """The protected-person registry, read once per process (thread-safe)."""
        return self._registry.get(self._load_registry)

    def _load_registry(self) -> Registry | None:
        if not self.db_url:
            return None
        from likenessguard.store.db import open_catalog
        from likenessguard.store.registry import load_registry

        engine = open_catalog(self.db_url)
        try:
            return load_registry(engine)
        finally:
            engine.dispose()

    def context_for(self, artifact: Artifact, location: Location) -> EvidenceContext:
        path = artifact.path
        if location.hub == "local" and self.neighbours and os.path.exists(path):
            return collect_local_context(path, artifact, read_artifact=False)
        return EvidenceContext(
            artifact=artifact,
            file_name=os.path.basename(artifact.member or path),
            repo_name=location.repo,
        )

    def analyze(
        self,
        artifact: Artifact,
        hashes: FileHashes | None,
        location: Location,
        context: ScanContext,
    ) -> AnalysisResult:
        try:
            evidence = extract_all(self.context_for(artifact, location))
            verdict = judge_evidence(evidence, self.policy(), self.registry())
        except LikenessGuardError as exc:
            return AnalysisResult(errors=(f"verdicts: {exc}",))
        return AnalysisResult(verdict=verdict, extra={"evidence": compact_evidence(evidence)})
