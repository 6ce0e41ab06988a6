"""Functions and analyzers pipeline tests run in worker processes (light: workers import it)."""

from __future__ import annotations

import os
from typing import Any

from likenessguard.artifacts.base import Artifact
from likenessguard.evidence.base import Evidence
from likenessguard.hashing.base import FileHashes
from likenessguard.pipeline.base import AnalysisResult, ScanContext
from likenessguard.store.records import Location
from likenessguard.verdicts.base import Label, LabelResult, Severity, Verdict


def square_or_fail(n: int) -> int:
    if n % 7 == 3:
        raise ValueError(f"no  luck\nwith {n}")
    return n * n


def die_on_five(n: int) -> int:
    if n == 5:
        os._exit(13)  # a worker killed mid-item, as a native crash would
    return n + 100


class CountingPickles:
    """A callable that counts how often it is pickled (shipping cost to workers)."""

    pickles = 0

    def __reduce__(self) -> tuple[Any, ...]:
        CountingPickles.pickles += 1
        return (CountingPickles, ())

    def __call__(self, n: int) -> int:
        return -n


class NameAnalyzer:
    """A complete analyzer: flags artifacts whose kohya output name is on a list."""

    name = "names"

    def __init__(self, names: set[str]) -> None:
        self.names = names

    def analyze(
        self,
        artifact: Artifact,
        hashes: FileHashes | None,
        location: Location,
        context: ScanContext,
    ) -> AnalysisResult:
        output = str(artifact.metadata.get("ss_output_name", ""))
        if output not in self.names:
            return AnalysisResult(extra={"names_checked": True})
        evidence = Evidence("safetensors-metadata", "ss_output_name", output, "name")
        verdict = Verdict(
            Severity.MEDIUM,
            {Label.REAL_PERSON: LabelResult(0.9, True, (evidence,))},
            subject=output,
        )
        return AnalysisResult(verdict=verdict, extra={"names_checked": True})


class BrokenAnalyzer:
    """An analyzer with a bug: the scan must record it and go on."""

    name = "broken"

    def analyze(
        self,
        artifact: Artifact,
        hashes: FileHashes | None,
        location: Location,
        context: ScanContext,
    ) -> AnalysisResult:
        raise ZeroDivisionError("division by zero")
