"""The per-process cache: one load within the time to live, a new load after it or once
forgotten, and forget_all() that drops every cache's copy."""

import pytest

from cardsystem import process_cache
from cardsystem.process_cache import ProcessCache

TTL = 5.0


@pytest.fixture
def clock(monkeypatch):
    """time.monotonic() as the test sets it."""
    now = [1000.0]
    monkeypatch.setattr(process_cache.time, "monotonic", lambda: now[0])
    return now


def counting_loader():
    """A loader that returns how many times it was called."""
    calls = []

    def load():
        calls.append(None)
        return len(calls)

    return load


def test_loads_once_within_the_time_to_live(clock):
    cache = ProcessCache(counting_loader())
    assert cache.get(ttl_seconds=TTL) == 1
    clock[0] += TTL - 0.001
    assert cache.get(ttl_seconds=TTL) == 1


def test_loads_again_once_the_copy_is_as_old_as_the_time_to_live(clock):
    cache = ProcessCache(counting_loader())
    cache.get(ttl_seconds=TTL)
    clock[0] += TTL
    assert cache.get(ttl_seconds=TTL) == 2
    assert cache.get(ttl_seconds=TTL) == 2  # the new copy counts from its own load


def test_the_time_to_live_is_the_one_given_at_each_read(clock):
    cache = ProcessCache(counting_loader())
    cache.get(ttl_seconds=TTL)
    assert cache.get(ttl_seconds=0) == 2


def test_a_none_value_is_kept_like_any_other(clock):
    calls = []
    cache = ProcessCache(lambda: calls.append(None))
    assert cache.get(ttl_seconds=TTL) is None
    assert cache.get(ttl_seconds=TTL) is None
    assert len(calls) == 1


def test_forget_drops_the_copy_and_what_was_derived_from_it(clock):
    derived = {"parsed": True}
    cache = ProcessCache(counting_loader(), on_forget=derived.clear)
    cache.get(ttl_seconds=TTL)
    cache.forget()
    assert derived == {}
    assert cache.get(ttl_seconds=TTL) == 2


def test_forget_all_drops_every_cache(clock):
    derived = {"parsed": True}
    first, second = ProcessCache(counting_loader()), ProcessCache(counting_loader(), on_forget=derived.clear)
    first.get(ttl_seconds=TTL)
    second.get(ttl_seconds=TTL)
    process_cache.forget_all()
    assert (first.get(ttl_seconds=TTL), second.get(ttl_seconds=TTL)) == (2, 2)
    assert derived == {}
