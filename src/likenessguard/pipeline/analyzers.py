"""Which analyzers a scan runs: the one place that wires verdicts and banks into scanning.

The scanner knows analyzers only through the ``Analyzer`` protocol; this
module is where concrete ones are chosen from settings and ``--bank`` names,
so the ``scan`` command, crawls and webhook workers all judge files the same way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from likenessguard.errors import UsageError
from likenessguard.pipeline.base import Analyzer


def build_analyzers(settings: Mapping[str, str], banks: Sequence[str] = ()) -> list[Analyzer]:
    """The analyzers for a scan, in the order they run.

    Args:
        settings: resolved settings (``config.load_settings``), e.g. the policy file.
        banks: bank names from ``--bank``; matching against them is added here
            when the bank matcher is wired in.

    Returns:
        The analyzer list to hand to ``Scanner(analyzers=...)``. Until the verdict
        and bank analyzers are wired in, it is empty and scans read and hash only.

    Raises:
        UsageError: banks were named but no bank matcher is wired in; refusing
            beats a scan that silently matched nothing.
    """
    analyzers: list[Analyzer] = []
    if banks:
        raise UsageError(
            f"--bank {banks[0]}: bank matching is not wired into scan in this build; "
            "scan without --bank, then match the catalog against the bank"
        )
    return analyzers
