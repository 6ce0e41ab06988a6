"""Dask executor: the same scan on a cluster (``--executor dask://host:8786`` or ``dask-local``).

Scanning a whole hub is embarrassingly parallel per file; Dask distributed
gives us workers on many machines with one small adapter. It implements the
``Executor`` contract exactly like the local executors, so a scan gives the
same records whichever runs it:

* the function (which may carry analyzers with a large bank index) is
  scattered to every worker once, not pickled with each item;
* at most ``max_pending`` items are in flight, so a lazy stream of millions of
  targets is never materialised on the client;
* an exception in the function, or a worker lost while running an item
  (``KilledWorker``), becomes that item's ``Outcome.error``; the rest goes on.

Dask is an optional extra (``pip install 'likenessguard[dask]'``); only this
module imports it, and only when a Dask executor is asked for.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from types import TracebackType
from typing import Any, TypeVar

from likenessguard.errors import UsageError
from likenessguard.pipeline.executors.base import Outcome, describe_exception

T = TypeVar("T")
R = TypeVar("R")


def _call(fn: Callable[[Any], Any], item: Any) -> Any:
    """Runs on a worker: ``fn`` arrives as the scattered (already unpickled) function."""
    return fn(item)


def _import_distributed() -> Any:
    try:
        import distributed
    except ImportError as exc:
        raise UsageError(
            "the Dask executor needs the dask extra: pip install 'likenessguard[dask]'"
        ) from exc
    return distributed


class DaskExecutor:
    """Runs items on a Dask distributed cluster.

    Args:
        client: a connected ``distributed.Client``.
        cluster: a cluster this executor started (closed with it), or None.
        max_pending: items in flight at once (default: 4 per worker thread).

    Example::

        with DaskExecutor.from_address("dask-local", workers=2) as ex:
            for outcome in ex.map_unordered(fn, items):
                ...
    """

    def __init__(self, client: Any, cluster: Any = None, *, max_pending: int | None = None):
        self.client = client
        self._cluster = cluster
        self._max_pending = max_pending
        self._closed = False

    @classmethod
    def from_address(
        cls,
        address: str,
        *,
        workers: int | None = None,
        threads_per_worker: int = 1,
        processes: bool = True,
        max_pending: int | None = None,
    ) -> DaskExecutor:
        """Connect to ``dask://host:port`` (or ``tcp://``); ``dask-local`` starts a LocalCluster.

        A LocalCluster uses one single-threaded worker process per core by
        default: scanning is CPU-bound Python, which threads cannot parallelise.
        """
        distributed = _import_distributed()
        if address == "dask-local":
            import os

            cluster = distributed.LocalCluster(
                n_workers=workers or os.cpu_count() or 1,
                threads_per_worker=threads_per_worker,
                processes=processes,
                dashboard_address=None,
                silence_logs=40,
            )
            return cls(distributed.Client(cluster), cluster, max_pending=max_pending)
        if address.startswith("dask://"):
            address = "tcp://" + address[len("dask://") :]
        if not address.startswith("tcp://"):
            raise UsageError(
                f"--executor {address!r}: use dask-local or dask://host:8786 for a Dask scheduler"
            )
        try:
            client = distributed.Client(address, timeout=10)
        except OSError as exc:
            raise UsageError(
                f"couldn't reach the Dask scheduler at {address} ({exc}); "
                "start one with 'dask scheduler' or use --executor dask-local"
            ) from exc
        return cls(client, None, max_pending=max_pending)

    @property
    def workers(self) -> int:
        threads: dict[str, int] = self.client.nthreads()
        return max(1, sum(threads.values()))

    def map_unordered(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[Outcome[T, R]]:
        if self._closed:
            raise RuntimeError("this executor is closed")
        distributed = _import_distributed()
        # One copy of the function per worker, referenced by every task.
        [fn_future] = self.client.scatter([fn], broadcast=True, hash=False)
        limit = self._max_pending or self.workers * 4
        pending: dict[Any, T] = {}
        done = distributed.as_completed()
        source = iter(items)
        exhausted = False

        def fill() -> None:
            nonlocal exhausted
            while not exhausted and len(pending) < limit:
                try:
                    item = next(source)
                except StopIteration:
                    exhausted = True
                    return
                fut = self.client.submit(_call, fn_future, item, pure=False, retries=0)
                pending[fut] = item
                done.add(fut)

        try:
            fill()
            while pending:
                fut = next(done)
                item = pending.pop(fut)
                try:
                    result = fut.result()
                except Exception as exc:  # the function's error, or KilledWorker
                    yield Outcome(item, error=describe_exception(exc))
                else:
                    yield Outcome(item, result)
                finally:
                    fut.release()
                fill()
        finally:
            for fut in pending:
                fut.cancel()
            fn_future.release()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.client.close()
        if self._cluster is not None:
            self._cluster.close()

    def __enter__(self) -> DaskExecutor:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
