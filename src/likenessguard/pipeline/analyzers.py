"""Which analyzers a scan runs: the one place that wires verdicts and banks into scanning.

The scanner knows analyzers only through the ``Analyzer`` protocol; this
module is where concrete ones are chosen from settings and ``--bank`` names,
so the ``scan`` command, crawls and webhook workers all judge files the same way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from likenessguard.errors import UsageError
from likenessguard.pipeline.base import Analyzer
from likenessguard.pipeline.judge import VerdictAnalyzer
from likenessguard.pipeline.match import BankMatcher
from likenessguard.store.banks import list_banks
from likenessguard.store.catalog import Catalog


def build_analyzers(
    settings: Mapping[str, str],
    banks: Sequence[str] = (),
    *,
    catalog: Catalog | None = None,
    fingerprint: bool = True,
) -> list[Analyzer]:
    """The analyzers for a scan, in the order they run.

    Every scan is judged (real person, sexual, minor risk) with the policy from
    settings and the protected-person registry in the catalog. Bank matching
    runs against the banks named in ``banks``, or against every bank in the
    catalog when none are named: a platform wants every upload checked against
    every ban, and an old upload is caught later by ``rematch`` anyway.

    Args:
        settings: resolved settings (``config.load_settings``); ``policy`` names a policy file.
        banks: bank names from ``--bank``; each must exist in the catalog.
        catalog: the catalog scanned into; it holds the registry and the banks.
        fingerprint: compute weight fingerprints (reads tensor data; a header-only
            ``--no-hash`` scan turns it off).

    Returns:
        The analyzer list to hand to ``Scanner(analyzers=...)``.

    Raises:
        UsageError: a named bank does not exist, or banks were named without a catalog.
    """
    db_url = catalog.engine.url.render_as_string(hide_password=False) if catalog else None
    analyzers: list[Analyzer] = [VerdictAnalyzer(settings.get("policy") or None, db_url)]
    if db_url is None or catalog is None:
        if banks:
            raise UsageError("--bank needs a catalog: pass --db URL (or set LIKENESSGUARD_DB)")
        return analyzers
    known = {b.name for b in list_banks(catalog.engine)}
    missing = [b for b in banks if b not in known]
    if missing:
        listed = ", ".join(sorted(known)) or "none yet"
        raise UsageError(
            f"no bank named {', '.join(map(repr, missing))} in the catalog (banks: {listed}); "
            "create one with 'likenessguard bank create NAME' or 'bank import NAME FILE --create'"
        )
    # Fingerprints are kept for every artifact (mirrors and rematch use them)
    # even when no bank exists yet; hashes alone need a bank to be worth matching.
    if known or fingerprint:
        analyzers.append(BankMatcher(db_url, tuple(banks), fingerprint=fingerprint))
    return analyzers
