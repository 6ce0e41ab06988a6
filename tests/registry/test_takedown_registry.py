"""Only an accepted takedown protects anyone: a pending or rejected request changes
no verdict in a real scan, in the guard, or in a registry re-match."""

from __future__ import annotations

from pathlib import Path

import pytest
from argon2 import PasswordHasher, profiles

from likenessguard.pipeline.judge import VerdictAnalyzer
from likenessguard.pipeline.scanner import Scanner
from likenessguard.registry.base import subject_id
from likenessguard.registry.sealing import Sealer, generate_key
from likenessguard.store import review
from likenessguard.store.db import open_catalog
from likenessguard.store.registry import list_subjects, load_registry, search_subject
from likenessguard.testing import kohya_metadata, make_lora, make_model_card
from likenessguard.verdicts.guard import check_prompt

SEALER = Sealer([generate_key()])


def _scan_subject(url: str, root: Path) -> str | None:
    scanner = Scanner(None, hash_files=False, analyzers=[VerdictAnalyzer(db_url=url)])
    (entry,) = list(scanner.scan_paths([root]))
    subject = entry.record["verdict"]["subject"]
    return str(subject) if subject else None


@pytest.fixture
def lora(tmp_path: Path) -> Path:
    repo = tmp_path / "models" / "mary-major"
    make_lora(
        repo / "m4ry_m4jor.safetensors",
        "sd1",
        metadata=kohya_metadata(
            output_name="m4ry_m4jor", base_model="sd1", tags={"nude": 30, "1girl": 30}
        ),
    )
    make_model_card(repo, title="A LoRA", tags=["person"])
    return repo


def test_pending_and_rejected_requests_change_no_verdict_accepted_ones_do(
    catalog_url: str, lora: Path
) -> None:
    previous = review.use_password_hasher(PasswordHasher.from_parameters(profiles.CHEAPEST))
    engine = open_catalog(catalog_url)
    try:
        reviewer = review.create_user(engine, "rita", "correct horse battery staple")
        sid = subject_id("Mary Major")
        for _ in range(2):
            review.create_takedown(
                engine, sealer=SEALER, names=["Mary Major"], contact="x@y.z", relation="agent"
            )
        first, second = review.list_takedowns(engine, SEALER)
        prompt = "photo of mary major, nude"
        # pending: the scan, the guard and a re-match do not know the person
        assert _scan_subject(catalog_url, lora) is None
        assert check_prompt(prompt, registry=load_registry(engine)).blocked is False
        assert search_subject(engine, sid) == []
        review.reject_takedown(engine, first.id, reviewer)
        assert list_subjects(engine) == [] and _scan_subject(catalog_url, lora) is None
        # accepted: every path sees them
        review.accept_takedown(engine, SEALER, second.id, reviewer)
        assert [s.id for s in list_subjects(engine)] == [sid]
        assert list_subjects(engine)[0].source == "takedown"
        assert _scan_subject(catalog_url, lora) == sid
        assert check_prompt(prompt, registry=load_registry(engine)).blocked is True
        actions = [e.action for e in review.audit_log(engine)]
        assert "takedown.accept" in actions and "takedown.reject" in actions
    finally:
        engine.dispose()
        review.use_password_hasher(previous)
