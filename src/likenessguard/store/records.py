"""ScanRecord: the one record a scan produces per artifact (documented in docs/records.md).

It is plain data (no SQLAlchemy here) so reports, the web app and hubs can
share it; the catalog stores its JSON form and indexes the columns it filters on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from likenessguard.artifacts.base import Artifact, Finding
from likenessguard.banks.base import Match
from likenessguard.hashing.base import FileHashes
from likenessguard.verdicts.base import Severity, Verdict


@dataclass(frozen=True, slots=True)
class Location:
    """Where an artifact lives. ``uri`` is its stable identity in the catalog.

    Local files: ``uri`` is ``file://`` + absolute path. Hub files:
    ``hf://org/name@<commit>/path`` or ``civitai://model/<id>/version/<vid>/<file>``.
    """

    uri: str
    hub: str = "local"
    repo: str | None = None
    revision: str | None = None
    url: str | None = None

    def to_json(self) -> dict[str, str | None]:
        return {
            "uri": self.uri,
            "hub": self.hub,
            "repo": self.repo,
            "revision": self.revision,
            "url": self.url,
        }


@dataclass(frozen=True)
class ScanRecord:
    """One artifact's scan result: identity, hashes, verdict, matches and problems."""

    path: str
    size: int
    location: Location
    artifact: Artifact | None = None
    hashes: FileHashes | None = None
    verdict: Verdict | None = None
    matches: tuple[Match, ...] = ()
    fingerprint: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()

    @property
    def severity(self) -> Severity:
        return self.verdict.severity if self.verdict else Severity.NONE

    @property
    def findings(self) -> tuple[Finding, ...]:
        return self.artifact.findings if self.artifact else ()

    def all_warnings(self) -> tuple[str, ...]:
        return (self.artifact.warnings if self.artifact else ()) + self.warnings

    def all_errors(self) -> tuple[str, ...]:
        return (self.artifact.errors if self.artifact else ()) + self.errors

    def to_json(self) -> dict[str, Any]:
        """The JSONL record; keys are a public contract (docs/records.md)."""
        a = self.artifact
        ident = a.identity if a else None
        out: dict[str, Any] = {
            "path": self.path,
            "size": self.size,
            "format": str(a.format) if a else None,
            "kind": str(ident.kind) if ident else None,
            "base_family": str(ident.base_family) if ident else None,
            "key_scheme": str(ident.key_scheme) if ident else None,
            "rank": ident.rank if ident else None,
            "alpha": ident.alpha if ident else None,
            "modules": ident.modules if ident else 0,
            "dtype": ident.dtype if ident else None,
            "identity_reasons": list(ident.reasons) if ident else [],
            "member": a.member if a else None,
            "location": self.location.to_json(),
            "hashes": self.hashes.to_json() if self.hashes else None,
            "metadata": dict(a.decoded) if a else {},
            "verdict": self.verdict.to_json() if self.verdict else None,
            "matches": [m.to_json() for m in self.matches],
            "fingerprint": self.fingerprint,
            "findings": [f.to_json() for f in self.findings],
            "warnings": list(self.all_warnings()),
            "errors": list(self.all_errors()),
        }
        out.update(self.extra)
        return out
