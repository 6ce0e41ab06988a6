"""Coverage-guided fuzz target for the pickle opcode walker (atheris, when installed).

Run by hand: ``python tests/artifacts/fuzz_pickle.py -atheris_runs=100000``.
The invariants: no exception escapes ``read_pickle``, and nothing is ever
executed (the walker has no code path that imports or calls what it reads).
"""

from __future__ import annotations

import sys

from likenessguard.artifacts.base import BytesSource
from likenessguard.artifacts.pickle import read_pickle


def check(data: bytes) -> None:
    artifact = read_pickle(BytesSource(data, "fuzz.pt"))
    assert len(artifact.errors) <= 1


def main() -> None:
    import atheris  # type: ignore[import-not-found]

    atheris.Setup(sys.argv, check)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
