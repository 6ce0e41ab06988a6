"""Accepting, searching and withdrawing a takedown interleave without leaving anything behind.

Each test forces one interleaving: a thread runs a step up to a hook and waits
there on a ``threading.Event`` while another step commits, then finishes. On
SQLite and on PostgreSQL the end state must hold no registry entry, no request
and no case link for a withdrawn request (the bug in issue #12: a withdrawal
landing while the background search added the person left the subject behind).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine, func, select

from likenessguard.registry.base import subject_id
from likenessguard.store import review
from likenessguard.store.models.review import TakedownCaseRow, TakedownRow
from likenessguard.store.registry import get_subject, list_subjects

from .conftest import SEALER, seed_catalog, seed_users


class Gate:
    """A hook that holds a thread at the named stage until released."""

    def __init__(self, stage: str) -> None:
        self.stage = stage
        self.reached = threading.Event()
        self.release = threading.Event()

    def __call__(self, stage: str) -> None:
        if stage == self.stage:
            self.reached.set()
            assert self.release.wait(20), "the test never released the gate"


def _run(target: Callable[[], object]) -> tuple[threading.Thread, list[object]]:
    out: list[object] = []

    def body() -> None:
        try:
            out.append(target())
        except Exception as exc:  # reported to the test, which asserts on it
            out.append(exc)

    thread = threading.Thread(target=body, daemon=True)
    thread.start()
    return thread, out


def _request(engine: Engine) -> tuple[str, int]:
    receipt = review.create_takedown(
        engine,
        sealer=SEALER,
        names=["Jane Roe"],
        handles=["@janeroe"],
        links=["https://huggingface.co/someone/jane-roe-reup"],
        contact="jane@example.org",
        relation="self",
    )
    (td,) = review.list_takedowns(engine, SEALER)
    return receipt.token, td.id


def _nothing_left(engine: Engine) -> None:
    assert get_subject(engine, subject_id("Jane Roe")) is None
    assert [s.name for s in list_subjects(engine)] == []
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(TakedownRow)).scalar() == 0
        assert conn.execute(select(func.count()).select_from(TakedownCaseRow)).scalar() == 0


def test_withdrawal_while_the_search_runs_leaves_no_link_and_no_subject(
    engine: Engine, tmp_path: Path
) -> None:
    seed_catalog(engine, tmp_path)
    token, td_id = _request(engine)
    review.accept_takedown(engine, SEALER, td_id, seed_users(engine)["reviewer"])
    assert get_subject(engine, subject_id("Jane Roe")) is not None
    gate = Gate("searched")
    # the search has read the catalog and found the models; it waits before writing
    thread, out = _run(lambda: review.process_takedowns(engine, SEALER, pause=gate))
    assert gate.reached.wait(20)
    assert review.withdraw_takedown(engine, token) is True  # commits meanwhile
    gate.release.set()
    thread.join(20)
    assert out == [0]  # the search wrote nothing for the withdrawn request
    _nothing_left(engine)


def test_withdrawal_during_acceptance_removes_the_subject_it_added(
    engine: Engine, tmp_path: Path
) -> None:
    seed_catalog(engine, tmp_path)
    token, td_id = _request(engine)
    reviewer = seed_users(engine)["reviewer"]
    gate = Gate("accepting")
    # the acceptance has claimed the request (status compare-and-set) and waits
    # before adding the person to the registry and committing
    accepting, accepted = _run(
        lambda: review.accept_takedown(engine, SEALER, td_id, reviewer, pause=gate)
    )
    assert gate.reached.wait(20)
    withdrawing, withdrawn = _run(lambda: review.withdraw_takedown(engine, token))
    time.sleep(0.3)
    assert withdrawn == []  # waiting for the acceptance's lock, not past it
    gate.release.set()
    accepting.join(20)
    withdrawing.join(40)
    assert withdrawn == [True]
    # the acceptance committed first; reading the request back afterwards may find it gone
    assert isinstance(accepted[0], review.TakedownRequest | review.StoreError), accepted
    _nothing_left(engine)


def test_acceptance_after_withdrawal_is_refused_and_adds_nobody(
    engine: Engine, tmp_path: Path
) -> None:
    seed_catalog(engine, tmp_path)
    token, td_id = _request(engine)
    reviewer = seed_users(engine)["reviewer"]
    assert review.withdraw_takedown(engine, token) is True
    try:
        review.accept_takedown(engine, SEALER, td_id, reviewer)
    except review.StoreError as exc:
        assert "no longer pending" in str(exc)
    else:
        raise AssertionError("accepted a withdrawn request")
    _nothing_left(engine)


def test_a_request_rejected_while_a_search_runs_gets_nothing(
    engine: Engine, tmp_path: Path
) -> None:
    seed_catalog(engine, tmp_path)
    _token, td_id = _request(engine)
    reviewer = seed_users(engine)["reviewer"]
    review.accept_takedown(engine, SEALER, td_id, reviewer)
    # an accepted request cannot be rejected; a second request can, while a search runs
    review.create_takedown(
        engine, sealer=SEALER, names=["Mary Major"], contact="mm@example.org", relation="agent"
    )
    (second,) = review.list_takedowns(engine, SEALER)
    gate = Gate("searched")
    thread, out = _run(lambda: review.process_takedowns(engine, SEALER, pause=gate))
    assert gate.reached.wait(20)
    review.reject_takedown(engine, second.id, reviewer)
    gate.release.set()
    thread.join(20)
    assert isinstance(out[0], int) and out[0] >= 2  # Jane Roe's request was searched
    with engine.connect() as conn:
        linked = set(conn.execute(select(TakedownCaseRow.takedown_id)).scalars())
    assert linked == {td_id}
    assert get_subject(engine, subject_id("Mary Major")) is None
