"""The executor seam: run one function over many items, here or on a cluster.

The scanner hands every target to ``Executor.map_unordered`` and consumes the
outcomes as they arrive; it never knows whether work ran in this process, a
local process pool, threads, or on Dask workers. Keeping the contract tiny is
what lets the same scan run anywhere with identical results.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class Outcome(Generic[T, R]):
    """The result of ``fn(item)``: either ``result`` or a one-line ``error``.

    ``error`` is set when ``fn`` raised (``"ValueError: bad shape"``) or when
    the worker running it died (``"worker process died while running it"``);
    ``result`` is then ``None``.
    """

    item: T
    result: R | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def describe_exception(exc: BaseException) -> str:
    """``"TypeName: message"`` on one line, the form every executor reports failures in."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class Executor(Protocol):
    """Runs a function over items and yields outcomes in completion order.

    Contract for implementers:

    - ``fn`` is a picklable callable: a module-level function or a
      ``functools.partial`` of one with picklable arguments. Executors that run
      in other processes ship ``fn`` once per worker where they can (it may
      carry analyzers with large indexes), never once per item if avoidable.
    - Every item yields exactly one :class:`Outcome`, in any order.
    - Exceptions raised by ``fn`` are returned as ``Outcome.error``, never
      raised from ``map_unordered``; a dead worker turns the items it held into
      error outcomes and the rest of the work goes on.
    - ``items`` may be a lazy, unbounded iterator: consume it incrementally
      and keep a bounded number of items in flight (backpressure), so walking
      a million-file hub does not materialise a million targets.
    - ``close`` releases workers; it is idempotent. Executors are also context
      managers that close on exit.
    """

    @property
    def workers(self) -> int:
        """How many items can run at once (1 for the in-process executor)."""
        ...

    def map_unordered(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[Outcome[T, R]]:
        """Yield one outcome per item as each completes; see the class contract."""
        ...

    def close(self) -> None:
        """Release every worker; safe to call twice."""
        ...
