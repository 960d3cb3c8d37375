"""The database going away, for the tests of what a request answers meanwhile.

The shared PostgreSQL server is never stopped: `database_away()` points this thread's
connection where nothing answers, so every connection attempt really fails in the
driver; `StatementsFailFrom(n)`, an execute wrapper, lets the first n - 1 statements
through and fails every later one, as when the server goes away in the middle of a request.
"""

import contextlib

from django.db import OperationalError, connection


@contextlib.contextmanager
def database_away():
    """Within the block the default database refuses connections: a closed port on
    PostgreSQL, a file in a directory that does not exist on SQLite. Needs a
    transactional test: the connection is closed, which a test transaction cannot survive."""
    saved = dict(connection.settings_dict)
    connection.close()
    if connection.vendor == "sqlite":
        connection.settings_dict["NAME"] = "/nonexistent-directory/cardsystem.sqlite3"
    else:
        connection.settings_dict.update(HOST="127.0.0.1", PORT="1")
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict.clear()
        connection.settings_dict.update(saved)


class StatementsFailFrom:
    """An execute wrapper: the n-th statement and every one after it raise OperationalError."""

    def __init__(self, n: int):
        self.n = n
        self.seen = 0

    def __call__(self, execute, sql, params, many, context):
        self.seen += 1
        if self.seen >= self.n:
            raise OperationalError("server closed the connection unexpectedly")
        return execute(sql, params, many, context)
