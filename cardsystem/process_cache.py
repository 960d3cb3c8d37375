"""Values kept in this process for a few seconds: what the hot path would otherwise read
from the database at every decision (the fraud configuration, the active model).

Each app server process holds its own copy, so a change reaches the other processes
only when their copy is older than its time to live; the process that makes the change
forgets its copy at once. `forget_all()` drops every copy in the process: the one place
tests (and anything else that needs a clean slate) call.
"""

import time
import weakref
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")

# Weak: a cache made for a while (a test's) leaves the registry with its last reference.
_caches: "weakref.WeakSet[ProcessCache]" = weakref.WeakSet()


class ProcessCache(Generic[T]):
    """One value, loaded by `load` and kept in this process until it is older than the
    time to live given at each read, or forgotten.

    The time to live is read at each `get()` rather than fixed here, so that the module
    constant the caller passes (and a test that changes it) decides it. `on_forget` drops
    what was derived from the value and must not outlive it (the parsed models)."""

    def __init__(self, load: Callable[[], T], *, on_forget: Callable[[], None] | None = None) -> None:
        self._load = load
        self._on_forget = on_forget
        # (when it was loaded, by time.monotonic(); the value), replaced in one assignment
        # so that a thread never sees the time of one load with the value of another.
        self._entry: tuple[float, T] | None = None
        _caches.add(self)

    def get(self, *, ttl_seconds: float) -> T:
        """The value, loaded again when the copy is `ttl_seconds` old or older. The age
        counts from before the load, so a slow load never lengthens the copy's life."""
        now = time.monotonic()
        entry = self._entry
        if entry is not None and now - entry[0] < ttl_seconds:
            return entry[1]
        value = self._load()
        self._entry = (now, value)
        return value

    def forget(self) -> None:
        """Drop this process's copy: the next `get()` loads the value again."""
        self._entry = None
        if self._on_forget is not None:
            self._on_forget()


def forget_all() -> None:
    """Drop every process cache's copy in this process."""
    for cache in list(_caches):
        cache.forget()
