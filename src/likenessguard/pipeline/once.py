"""A value built on first use, once per process, by whichever thread gets there first.

Analyzers are shipped to worker processes (pickled) and shared by the threads
of a crawl. What they load lazily (the banks' matcher, the registry) must be
built once per process: two threads building it at once used to open and
migrate the catalog at the same time, and a thread that saw "loading started"
before "loading finished" judged without the registry.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Once(Generic[T]):
    """Holds one lazily built value; pickles as "not built yet".

    Example:
        >>> registry = Once[int]()
        >>> registry.get(lambda: 42)
        42
    """

    __slots__ = ("_built", "_lock", "_value")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._built = False
        self._value: T | None = None

    @property
    def built(self) -> bool:
        """Whether the value is there (built or set) in this process."""
        return self._built

    def get(self, build: Callable[[], T]) -> T:
        """The value, calling ``build`` the first time (other threads wait for it).

        If ``build`` raises, nothing is kept and the next call tries again.
        """
        if self._built:
            return self._value  # type: ignore[return-value]
        with self._lock:
            if not self._built:
                self._value = build()
                self._built = True
        return self._value  # type: ignore[return-value]

    def set(self, value: T) -> None:
        """Use ``value`` instead of building one."""
        with self._lock:
            self._value, self._built = value, True

    def __reduce__(self) -> tuple[type[Once[T]], tuple[()]]:
        # Worker processes build their own: a matcher or a registry is data of
        # the catalog at the time, not something to ship.
        return (type(self), ())
