"""build_analyzers: every scan is judged; banks are matched, and a wrong bank name is refused."""

from __future__ import annotations

import pytest

from likenessguard.errors import UsageError
from likenessguard.pipeline.analyzers import build_analyzers
from likenessguard.pipeline.judge import VerdictAnalyzer
from likenessguard.pipeline.match import BankMatcher
from likenessguard.store.banks import create_bank
from likenessguard.store.catalog import Catalog


def test_without_a_catalog_scans_are_judged_only() -> None:
    analyzers = build_analyzers({})
    assert [type(a) for a in analyzers] == [VerdictAnalyzer]
    with pytest.raises(UsageError, match="--bank needs a catalog"):
        build_analyzers({}, ["banned"])


def test_banks_are_matched_and_unknown_names_refused(sqlite_url: str) -> None:
    catalog = Catalog.open(sqlite_url)
    try:
        with pytest.raises(UsageError, match=r"no bank named 'nope'.*banks: none yet"):
            build_analyzers({}, ["nope"], catalog=catalog)
        create_bank(catalog.engine, "banned")
        analyzers = build_analyzers({}, ["banned"], catalog=catalog)
        matcher = analyzers[-1]
        assert isinstance(matcher, BankMatcher)
        assert matcher.banks == ("banned",)
        assert matcher.fingerprint
        header_only = build_analyzers({}, catalog=catalog, fingerprint=False)
        assert isinstance(header_only[-1], BankMatcher)
        assert not header_only[-1].fingerprint
    finally:
        catalog.close()


def test_policy_setting_reaches_the_verdict_analyzer(tmp_path: object) -> None:
    (analyzer,) = build_analyzers({"policy": "/etc/custom-policy.yaml"})
    assert isinstance(analyzer, VerdictAnalyzer)
    assert analyzer.policy_path == "/etc/custom-policy.yaml"
