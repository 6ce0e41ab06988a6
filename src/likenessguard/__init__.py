"""likenessguard: a trust-and-safety scanner for AI model hubs.

It reads model files without executing them, hashes them as Civitai does,
finds copies of banned models, and judges real-person likeness, sexual intent
and minor risk with cited evidence.

The public Python API, for services that embed the scanner::

    from likenessguard import read_artifacts, hash_file, collect_local_context, judge

    artifact = read_artifacts("lora.safetensors")[0]
    hashes = hash_file("lora.safetensors", data_offset=artifact.data_offset)
    verdict = judge(collect_local_context(Path("lora.safetensors"), artifact))
    verdict.severity, verdict.to_json()

Names are imported on first use, so ``import likenessguard`` stays cheap for
the CLI and for workers that need one part only.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    "Artifact": "likenessguard.artifacts.base",
    "Evidence": "likenessguard.evidence.base",
    "FileHashes": "likenessguard.hashing.base",
    "Fingerprint": "likenessguard.hashing.fingerprint",
    "Label": "likenessguard.verdicts.base",
    "Match": "likenessguard.banks.base",
    "ScanRecord": "likenessguard.store.records",
    "Scanner": "likenessguard.pipeline.scanner",
    "Severity": "likenessguard.verdicts.base",
    "Verdict": "likenessguard.verdicts.base",
    "check_prompt": "likenessguard.verdicts.guard",
    "collect_local_context": "likenessguard.evidence.context",
    "fingerprint_artifact": "likenessguard.hashing.fingerprint",
    "hash_file": "likenessguard.hashing.file_hashes",
    "judge": "likenessguard.verdicts.judge",
    "judge_listing": "likenessguard.verdicts.judge",
    "read_artifacts": "likenessguard.artifacts.open",
}

__all__ = [
    "Artifact",
    "Evidence",
    "FileHashes",
    "Fingerprint",
    "Label",
    "Match",
    "ScanRecord",
    "Scanner",
    "Severity",
    "Verdict",
    "__version__",
    "check_prompt",
    "collect_local_context",
    "fingerprint_artifact",
    "hash_file",
    "judge",
    "judge_listing",
    "read_artifacts",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'likenessguard' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
