"""Executors for one machine: in-process, a thread pool for I/O, a process pool for CPU.

Parsing headers and hashing are CPU-bound Python (the GIL allows one core), so
``--jobs N`` > 1 uses processes; remote reads wait on the network, so hub
connectors use threads. The in-process executor is the reference: every
other executor must give the same outcomes, in some order.

The process pool ships the function once to each worker (through the pool
initializer) and then only the items, so a function carrying analyzers with a
large bank index is pickled once per worker, not once per file. A worker that
dies (a crash in native code, the OOM killer) takes the items it held with it;
those are re-run one at a time in a fresh pool to find the one that kills
workers, which becomes an error outcome while the others complete.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import pickle
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import (
    FIRST_COMPLETED,
    Future,
    ProcessPoolExecutor,
    ThreadPoolExecutor,
    wait,
)
from concurrent.futures.process import BrokenProcessPool
from types import TracebackType
from typing import Any, Literal, TypeVar

from likenessguard.errors import UsageError
from likenessguard.pipeline.executors.base import Executor, Outcome, describe_exception

T = TypeVar("T")
R = TypeVar("R")

# Modules the forkserver imports once, before forking any worker. ``__main__``
# first: without it every worker re-runs the main script's imports on start.
FORKSERVER_PRELOAD: tuple[str, ...] = (
    "__main__",
    "likenessguard.pipeline.work",
    "likenessguard.artifacts.open",
    "likenessguard.hashing.file_hashes",
)

#: Allocations between young-generation collections while scanning (CPython's default
#: is 700); see ``pipeline.scanner.fewer_gc_passes``.
SCAN_GC_THRESHOLD = 10_000

WORKER_DIED = "worker process died while running it (crashed in native code or ran out of memory)"


class _Closable:
    def close(self) -> None:
        """Nothing to release by default."""

    def __enter__(self) -> Any:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class SerialExecutor(_Closable):
    """Runs every item in the calling thread, in input order: the reference executor."""

    @property
    def workers(self) -> int:
        return 1

    def map_unordered(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[Outcome[T, R]]:
        for item in items:
            try:
                result = fn(item)
            except Exception as exc:
                yield Outcome(item, error=describe_exception(exc))
            else:
                yield Outcome(item, result)


def _bounded(
    submit: Callable[[T], Future[Any]],
    items: Iterable[T],
    max_pending: int,
) -> Iterator[tuple[T, Future[Any]]]:
    """Submit items keeping at most ``max_pending`` in flight; yield them as they finish."""
    pending: dict[Future[Any], T] = {}
    it = iter(items)
    exhausted = False
    while True:
        while not exhausted and len(pending) < max_pending:
            try:
                item = next(it)
            except StopIteration:
                exhausted = True
                break
            pending[submit(item)] = item
        if not pending:
            return
        done, _ = wait(pending, return_when=FIRST_COMPLETED)
        for fut in done:
            yield pending.pop(fut), fut


class ThreadExecutor(_Closable):
    """A thread pool: for work that waits on I/O (hub range reads), not for parsing."""

    def __init__(self, workers: int, *, max_pending: int | None = None) -> None:
        if workers < 1:
            raise UsageError(f"--jobs must be at least 1, got {workers}")
        self._workers = workers
        self._max_pending = max_pending or workers * 4
        self._pool: ThreadPoolExecutor | None = ThreadPoolExecutor(
            workers, thread_name_prefix="likenessguard-io"
        )

    @property
    def workers(self) -> int:
        return self._workers

    def map_unordered(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[Outcome[T, R]]:
        pool = self._pool
        if pool is None:
            raise RuntimeError("this executor is closed")
        for item, fut in _bounded(lambda x: pool.submit(fn, x), items, self._max_pending):
            exc = fut.exception()
            if exc is not None:
                yield Outcome(item, error=describe_exception(exc))
            else:
                yield Outcome(item, fut.result())

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


# -- process pool ------------------------------------------------------------------

# The function a worker process runs, installed once by the pool initializer.
_installed: Callable[[Any], Any] | None = None


def _install(payload: bytes) -> None:
    global _installed  # noqa: PLW0603  (per-process state is the point)
    _installed = pickle.loads(payload)  # noqa: S301  (our own payload, from our parent)
    # Everything alive now (modules, the function and its bank index) lives as long
    # as the worker: keep it out of every collection pass, as the scanner does
    # in the parent (pipeline.scanner.fewer_gc_passes).
    gc.freeze()
    gc.set_threshold(max(gc.get_threshold()[0], SCAN_GC_THRESHOLD), *gc.get_threshold()[1:])


def _probe() -> bool:
    return _installed is not None


def _run_installed(item: Any) -> tuple[bool, Any]:
    """Run the installed function; failures travel back as text, never as pickled exceptions."""
    if _installed is None:
        return False, "RuntimeError: no function installed in this worker"
    try:
        return True, _installed(item)
    except Exception as exc:
        return False, describe_exception(exc)


def _run_chunk(items: list[Any]) -> list[tuple[bool, Any]]:
    """Run the installed function on each item of a chunk, each failure kept to its item."""
    return [_run_installed(item) for item in items]


def _chunks(items: Iterator[T], size: int) -> Iterator[list[T]]:
    chunk: list[T] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


class ProcessExecutor(_Closable):
    """A process pool that uses every core for CPU-bound parsing and hashing.

    Workers start with ``forkserver`` (not ``fork``): forking a parent that
    holds database connections and Rich's refresh thread is unsafe.

    Items travel in chunks of ``chunk_size``: a header-only scan spends about
    as long on a file as the pool spends moving one task and its result
    between processes, so one task per file left a second worker slower than
    none. A worker that dies takes its whole chunk; every item of it is then
    re-run alone, as any item a dead worker held.
    """

    def __init__(
        self,
        workers: int,
        *,
        max_pending: int | None = None,
        chunk_size: int = 1,
        start_method: str = "forkserver",
    ) -> None:
        if workers < 1:
            raise UsageError(f"--jobs must be at least 1, got {workers}")
        if chunk_size < 1:
            raise UsageError(f"chunk size must be at least 1, got {chunk_size}")
        self._workers = workers
        self._chunk_size = chunk_size
        self._max_pending = max_pending or workers * 4
        self._context = multiprocessing.get_context(start_method)
        if start_method == "forkserver":
            # Workers fork from a server that has already imported the readers and
            # hashers, so a new pool starts in milliseconds instead of re-importing.
            self._context.set_forkserver_preload(list(FORKSERVER_PRELOAD))
        self._pools: list[ProcessPoolExecutor] = []
        self._lock = threading.Lock()

    @property
    def workers(self) -> int:
        return self._workers

    def _pool(self, payload: bytes, workers: int) -> ProcessPoolExecutor:
        pool = ProcessPoolExecutor(
            workers, mp_context=self._context, initializer=_install, initargs=(payload,)
        )
        with self._lock:
            self._pools.append(pool)
        # A pool whose workers cannot even load the function would fail every
        # item as "worker died"; that is an environment problem, so say so once.
        try:
            pool.submit(_probe).result()
        except BrokenProcessPool:
            self._retire(pool, broken=True)
            raise UsageError(
                "worker processes could not start or could not load the scan function "
                "(is it defined in an importable module?): run with --jobs 1"
            ) from None
        return pool

    def _retire(self, pool: ProcessPoolExecutor, *, broken: bool = False) -> None:
        if broken:
            _kill_workers(pool)
        pool.shutdown(wait=True, cancel_futures=True)
        with self._lock:
            if pool in self._pools:
                self._pools.remove(pool)

    def map_unordered(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[Outcome[T, R]]:
        try:
            payload = pickle.dumps(fn)
        except (pickle.PicklingError, TypeError, AttributeError) as exc:
            raise UsageError(
                f"the function {fn!r} cannot be sent to worker processes ({exc}); "
                "use a module-level function or run with --jobs 1"
            ) from None
        it = _chunks(iter(items), self._chunk_size)
        exhausted = False
        pending: dict[Future[Any], list[T]] = {}
        suspects: list[T] = []
        pool = self._pool(payload, self._workers)
        try:
            while True:
                while not exhausted and not suspects and len(pending) < self._max_pending:
                    try:
                        chunk = next(it)
                    except StopIteration:
                        exhausted = True
                        break
                    try:
                        pending[pool.submit(_run_chunk, chunk)] = chunk
                    except BrokenProcessPool:
                        suspects.extend(chunk)
                if pending:
                    done, _ = wait(pending, return_when=FIRST_COMPLETED)
                    for fut in done:
                        chunk = pending.pop(fut)
                        try:
                            results = fut.result()
                        except BrokenProcessPool:
                            # Every future in flight fails with the pool; collect them all.
                            suspects.extend(chunk)
                            continue
                        for item, (ok, value) in zip(chunk, results, strict=True):
                            yield Outcome(item, value) if ok else Outcome(item, error=value)
                    continue
                if suspects:
                    self._retire(pool, broken=True)
                    yield from self._isolate(payload, suspects)
                    suspects = []
                    pool = self._pool(payload, self._workers)
                    continue
                if exhausted:
                    return
        finally:
            self._retire(pool)

    def _isolate(self, payload: bytes, suspects: list[T]) -> Iterator[Outcome[T, Any]]:
        """Re-run items a dead worker held, one per fresh pool, to find the culprit."""
        for item in suspects:
            pool = self._pool(payload, 1)
            broken = False
            try:
                ok, value = pool.submit(_run_installed, item).result()
            except BrokenProcessPool:
                broken = True
                yield Outcome(item, error=WORKER_DIED)
            else:
                yield Outcome(item, value) if ok else Outcome(item, error=value)
            finally:
                self._retire(pool, broken=broken)

    def close(self) -> None:
        with self._lock:
            pools, self._pools = self._pools, []
        for pool in pools:
            pool.shutdown(wait=True, cancel_futures=True)


def _kill_workers(pool: ProcessPoolExecutor) -> None:
    """End the surviving workers of a broken pool before shutting it down.

    CPython's ``shutdown(wait=True)`` joins every worker, and a survivor can be
    blocked writing a result that nobody reads once the pool is broken: the
    join then never returns (seen here about one run in five with chunked
    tasks). Python 3.14 has ``kill_workers()``; before it, the pool's process
    table is the only handle on them.
    """
    kill = getattr(pool, "kill_workers", None)
    if kill is not None:
        kill()
        return
    processes = getattr(pool, "_processes", None) or {}
    for process in list(processes.values()):
        if process.is_alive():
            process.kill()


def make_executor(
    jobs: int, *, mode: Literal["process", "thread"] = "process", chunk_size: int = 1
) -> Executor:
    """The executor for ``--jobs N``: in-process for 1, else a process (or thread) pool.

    Args:
        jobs: parallel workers; 0 means one per CPU core.
        mode: ``process`` for CPU-bound local scans, ``thread`` for I/O-bound hub reads.
        chunk_size: items per process-pool task (see :class:`ProcessExecutor`).
    """
    if jobs < 0:
        raise UsageError(f"--jobs must be 0 (one per core) or more, got {jobs}")
    if jobs == 0:
        jobs = os.cpu_count() or 1
    if jobs == 1:
        return SerialExecutor()
    if mode == "thread":
        return ThreadExecutor(jobs)
    return ProcessExecutor(jobs, chunk_size=chunk_size)
