"""Every local executor honours the Executor contract and gives the reference's outcomes."""

from __future__ import annotations

import os
import pickle
from collections.abc import Iterator
from typing import Any

import pytest

from likenessguard.errors import UsageError
from likenessguard.pipeline.executors.base import Executor, Outcome, describe_exception
from likenessguard.pipeline.executors.local import (
    WORKER_DIED,
    ProcessExecutor,
    SerialExecutor,
    ThreadExecutor,
    make_executor,
)
from tests.pipeline.workers import CountingPickles, die_on_five, square_or_fail


def _outcomes(executor: Executor, fn: Any, items: Any) -> set[tuple[Any, Any, Any]]:
    with executor:  # type: ignore[attr-defined]
        return {(o.item, o.result, o.error) for o in executor.map_unordered(fn, items)}


@pytest.mark.parametrize(
    "factory",
    [
        lambda: ThreadExecutor(2),
        lambda: ProcessExecutor(2),
        lambda: ProcessExecutor(2, chunk_size=8),
    ],
    ids=["threads", "processes", "process-chunks"],
)
def test_pools_match_the_serial_reference(factory: Any) -> None:
    reference = _outcomes(SerialExecutor(), square_or_fail, range(40))
    assert _outcomes(factory(), square_or_fail, range(40)) == reference
    failed = {item for item, _, error in reference if error}
    assert failed == {3, 10, 17, 24, 31, 38}
    # Failures are one line, type first.
    assert (10, None, "ValueError: no luck with 10") in reference


def test_describe_exception_is_one_line() -> None:
    assert describe_exception(KeyError()) == "KeyError"
    assert describe_exception(OSError("a\n  b")) == "OSError: a b"
    assert Outcome(1, error="x").ok is False


@pytest.mark.parametrize("chunk_size", [1, 4])
def test_process_pool_survives_a_dying_worker(chunk_size: int) -> None:
    # With chunks, the dead worker's whole chunk is re-run item by item.
    ex = ProcessExecutor(2, max_pending=4, chunk_size=chunk_size)
    outcomes = _outcomes(ex, die_on_five, range(12))
    assert len(outcomes) == 12
    assert (5, None, WORKER_DIED) in outcomes
    assert {(i, i + 100, None) for i in range(12) if i != 5} <= outcomes


@pytest.mark.parametrize("chunk_size", [1, 16])
def test_process_pool_ships_the_function_once(chunk_size: int) -> None:
    CountingPickles.pickles = 0
    outcomes = _outcomes(ProcessExecutor(2, chunk_size=chunk_size), CountingPickles(), range(50))
    assert {o[1] for o in outcomes} == {-n for n in range(50)}
    assert CountingPickles.pickles == 1


def test_unpicklable_function_is_a_usage_error() -> None:
    with ProcessExecutor(2) as ex, pytest.raises(UsageError, match="--jobs 1"):
        list(ex.map_unordered(lambda n: n, range(3)))


@pytest.mark.parametrize("factory", [lambda: ThreadExecutor(2), lambda: ProcessExecutor(2)])
def test_items_are_pulled_lazily_with_bounded_backlog(factory: Any) -> None:
    pulled = 0

    def items() -> Iterator[int]:
        nonlocal pulled
        for i in range(1000):
            pulled += 1
            yield i

    with factory() as ex:
        stream = ex.map_unordered(square_or_fail, items())
        next(stream)
        # At most workers * 4 in flight plus the one handed back.
        assert pulled <= 2 * 4 + 1
        rest = list(stream)
    assert len(rest) == 999


def test_make_executor_choices() -> None:
    assert isinstance(make_executor(1), SerialExecutor)
    with make_executor(2) as ex:  # type: ignore[attr-defined]
        assert isinstance(ex, ProcessExecutor)
        assert ex.workers == 2
    with make_executor(2, mode="thread") as ex:  # type: ignore[attr-defined]
        assert isinstance(ex, ThreadExecutor)
    with make_executor(0) as ex:  # type: ignore[attr-defined]
        assert ex.workers == (os.cpu_count() or 1)
    with pytest.raises(UsageError):
        make_executor(-1)


def test_serial_executor_is_picklable_free() -> None:
    # The reference runs closures too: nothing is pickled in-process.
    outs = list(SerialExecutor().map_unordered(lambda n: n + 1, [1, 2]))
    assert [o.result for o in outs] == [2, 3]
    assert pickle.dumps(Outcome(1, 2))
