"""The plan a database runs a statement by, for tests that read it: on PostgreSQL the
generic plan of the statement prepared (as cardsystem/sql.py `prepared_cursor` prepares
the decision's statements), on SQLite the query plan."""

import re

from django.db import connection


def generic_plan(statement: str, params: dict, *, run: bool = False) -> str:
    """The plan the decision runs the statement by: on PostgreSQL the generic plan of the
    prepared statement (cardsystem/sql.py `prepared_cursor`), its parameters numbered as
    psycopg numbers them (by first appearance), and with `run` what each of its steps
    read; on SQLite the query plan."""
    with connection.cursor() as cursor:
        if connection.vendor != "postgresql":
            cursor.execute(f"EXPLAIN QUERY PLAN {statement}", params)
            return "\n".join(row[-1] for row in cursor.fetchall())
        names = []

        def number(found) -> str:
            if found[1] not in names:
                names.append(found[1])
            return f"${names.index(found[1]) + 1}"

        numbered = re.sub(r"%\((\w+)\)s", number, statement).replace("%%", "%")
        cursor.execute("SET plan_cache_mode = force_generic_plan")
        cursor.execute(f"PREPARE window_plan AS {numbered}")
        try:  # each statement its own transaction here: a failure leaves the rest to run
            explain = "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF)" if run else "EXPLAIN"
            cursor.execute(
                f"{explain} EXECUTE window_plan({', '.join(['%s'] * len(names))})",
                [params[name] for name in names],
            )
            return "\n".join(row[0] for row in cursor.fetchall())
        finally:
            cursor.execute("DEALLOCATE window_plan")
            cursor.execute("RESET plan_cache_mode")
