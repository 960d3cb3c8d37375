"""Real threads on separate database connections, for the concurrency tests."""

import threading

from django.db import connection


def run_concurrently(count, work):
    """Run `work(index)` on `count` threads released together; return their results."""
    barrier = threading.Barrier(count)
    results, errors = [None] * count, []

    def target(index):
        try:
            barrier.wait(timeout=10)
            results[index] = work(index)
        except Exception as error:  # reported below, so a thread's failure fails the test
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=target, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        # Generous: on a loaded CI machine a thread's work can take minutes; a thread
        # still running after this is reported, never read as an empty result.
        thread.join(timeout=600)
    assert not [thread for thread in threads if thread.is_alive()], "a thread did not finish"
    assert not errors, errors
    return results
