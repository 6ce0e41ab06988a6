"""The unit of scan work: one target in, its records out, in whichever worker runs it.

This module is what a worker process imports, so it stays light: no database,
no console. :func:`scan_target` never raises for bad input or a failing
analyzer; every problem becomes a line in the record's ``errors``, which is how
one broken file never stops a scan.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from likenessguard.artifacts.base import Artifact, ByteSource, Format
from likenessguard.banks.base import Match
from likenessguard.hashing.base import FileHashes
from likenessguard.pipeline.base import AnalysisResult, Analyzer, ScanContext, ScanTarget
from likenessguard.pipeline.executors.base import describe_exception
from likenessguard.store.records import Location, ScanRecord
from likenessguard.verdicts.base import Verdict


@dataclass(frozen=True)
class ScanOptions:
    """How each target is processed; shipped once to each worker with the function.

    Attributes:
        hash_files: compute all six hashes (``--no-hash`` turns this off).
        analyzers: judges run on every artifact, in order (see ``pipeline.base.Analyzer``).
        keep_tensors: keep the tensor table on returned artifacts. Off by default:
            records never serialise it and shipping ~700 entries per file back
            from a worker process is pure overhead.
    """

    hash_files: bool = True
    analyzers: tuple[Analyzer, ...] = field(default_factory=tuple)
    keep_tensors: bool = False


def member_uri(uri: str, member: str | None) -> str:
    """The catalog URI of an archive member: ``uri#member`` (member percent-encoded)."""
    return uri if member is None else f"{uri}#{quote(member, safe='/')}"


def error_record(target: ScanTarget, message: str) -> ScanRecord:
    """A record that says the target could not be processed, and why."""
    return ScanRecord(
        path=target.display,
        size=target.size,
        location=target.location,
        errors=(message,),
    )


def data_offset_of(artifacts: Sequence[Artifact]) -> int | None:
    # AutoV3 hashes tensor data only, so the hasher needs where it starts; only a
    # plain (non-member) safetensors file has one that applies to the whole file.
    if len(artifacts) == 1:
        a = artifacts[0]
        if a.format is Format.SAFETENSORS and a.member is None and a.ok:
            return a.data_offset
    return None


def _merge(results: Sequence[tuple[str, AnalysisResult]]) -> dict[str, Any]:
    verdict: Verdict | None = None
    matches: list[Match] = []
    fingerprint: str | None = None
    extra: dict[str, Any] = {}
    warnings: list[str] = []
    errors: list[str] = []
    for _name, res in results:
        if res.verdict is not None and (verdict is None or res.verdict.severity > verdict.severity):
            verdict = res.verdict
        matches.extend(res.matches)
        if fingerprint is None:
            fingerprint = res.fingerprint
        extra.update(res.extra)
        warnings.extend(res.warnings)
        errors.extend(res.errors)
    return {
        "verdict": verdict,
        "matches": tuple(matches),
        "fingerprint": fingerprint,
        "extra": extra,
        "warnings": tuple(warnings),
        "errors": tuple(errors),
    }


def _analyze(
    options: ScanOptions,
    artifact: Artifact,
    hashes: FileHashes | None,
    location: Location,
    context: ScanContext,
) -> dict[str, Any]:
    results: list[tuple[str, AnalysisResult]] = []
    for analyzer in options.analyzers:
        name = getattr(analyzer, "name", type(analyzer).__name__)
        try:
            results.append((name, analyzer.analyze(artifact, hashes, location, context)))
        except Exception as exc:
            message = f"analyzer {name} failed on {artifact.path}: {describe_exception(exc)}"
            results.append((name, AnalysisResult(errors=(message,))))
    return _merge(results)


def _member_hashes(
    target: ScanTarget, artifact: Artifact
) -> tuple[FileHashes | None, tuple[str, ...]]:
    """The member's own hashes; none for members the reader rejected (bombs, damage)."""
    if not artifact.ok or artifact.member is None:
        return None, ()
    try:
        return target.hash_member(artifact.member), ()
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        return None, (f"couldn't hash {artifact.member} in {target.display}: {reason}",)


def _member_context(
    stack: ExitStack, target: ScanTarget, member: str, context: ScanContext
) -> ScanContext:
    """The context whose ``source`` holds the member's tensors (a folder's weights file)."""
    try:
        opened = target.open_member(member)
        if opened is None:
            return context
        return dataclasses.replace(context, source=stack.enter_context(opened))
    except (OSError, ValueError):
        # Reading the member already worked or reported why; without its bytes
        # the analyzers see no tensor data (no fingerprint), as for a failed open.
        return dataclasses.replace(context, source=None)


def scan_target(options: ScanOptions, target: ScanTarget) -> tuple[ScanRecord, ...]:
    """Read, hash and analyze one target; return one record per artifact it holds.

    Never raises for anything the file or an analyzer does: a failure to read
    becomes a record with ``errors`` naming the path.
    """
    try:
        artifacts = target.read()
    except OSError as exc:
        reason = exc.strerror or describe_exception(exc)
        return (error_record(target, f"couldn't read {target.display}: {reason}; it was skipped"),)
    except Exception as exc:
        return (
            error_record(
                target,
                f"reading {target.display} failed unexpectedly ({describe_exception(exc)}); "
                "it was skipped: please report this file to the likenessguard maintainers",
            ),
        )
    if not artifacts:
        return (
            ScanRecord(
                path=target.display,
                size=target.size,
                location=target.location,
                warnings=(f"{target.display} holds no model artifact",),
            ),
        )

    hashes: FileHashes | None = None
    hash_errors: tuple[str, ...] = ()
    if options.hash_files:
        try:
            hashes = target.hash(data_offset_of(artifacts))
        except OSError as exc:
            reason = exc.strerror or describe_exception(exc)
            hash_errors = (f"couldn't hash {target.display}: {reason}",)
        except ValueError as exc:
            hash_errors = (f"couldn't hash {target.display}: {exc}",)

    records: list[ScanRecord] = []
    with ExitStack() as stack:
        source: ByteSource | None = None
        if options.analyzers:
            try:
                source = stack.enter_context(target.open())
            except OSError:
                source = None  # analyzers see no bytes; reading already reported why
        context = ScanContext(target=target, source=source, known_hashes=target.known_hashes)
        for artifact in artifacts:
            uri = member_uri(target.uri, artifact.member)
            location = dataclasses.replace(target.location, uri=uri)
            own_hashes, own_errors = hashes, hash_errors
            if artifact.member is not None and options.hash_files:
                own_hashes, own_errors = _member_hashes(target, artifact)
            own_context = context
            if artifact.member is not None and options.analyzers and artifact.ok:
                own_context = _member_context(stack, target, artifact.member, context)
            merged = _analyze(options, artifact, own_hashes, location, own_context)
            kept = artifact if options.keep_tensors else dataclasses.replace(artifact, tensors=())
            records.append(
                ScanRecord(
                    path=target.display,
                    size=artifact.size or target.size,
                    location=location,
                    artifact=kept,
                    hashes=own_hashes,
                    verdict=merged["verdict"],
                    matches=merged["matches"],
                    fingerprint=merged["fingerprint"],
                    extra=merged["extra"],
                    warnings=merged["warnings"],
                    errors=own_errors + merged["errors"],
                )
            )
    return tuple(records)
