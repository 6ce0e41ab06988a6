"""Coverage-guided fuzz target for the safetensors parser (atheris, when installed).

Not collected by pytest (the name does not start with ``test_``); the CI fuzz is
the hypothesis property in test_safetensors.py. Run by hand:

    pip install atheris
    python tests/artifacts/fuzz_safetensors.py -atheris_runs=100000

The invariant: any bytes and any declared size give an Artifact with at most
one single-line error, and never an exception.
"""

from __future__ import annotations

import sys

from likenessguard.artifacts.base import BytesSource
from likenessguard.artifacts.open import read_source
from likenessguard.artifacts.safetensors import parse_safetensors_header


def check(data: bytes) -> None:
    size = int.from_bytes(data[:4], "little") if len(data) >= 4 else len(data)
    body = data[4:]
    for declared in (len(body), max(size, len(body))):
        artifact = parse_safetensors_header(body, declared, "fuzz.safetensors")
        assert len(artifact.errors) <= 1
        assert all("\n" not in e for e in artifact.errors)
    artifact = read_source(BytesSource(body, "fuzz.safetensors"), "fuzz.safetensors")
    assert len(artifact.errors) <= 1


def main() -> None:
    import atheris  # type: ignore[import-not-found]

    atheris.Setup(sys.argv, check)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
