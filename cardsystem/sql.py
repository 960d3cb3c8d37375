"""The machinery of the written-out SQL on the authorization path, giving the values the
ORM would. The statements themselves are named functions in the apps' queries modules
(cards/queries.py, transactions/queries.py, cardsystem/queries.py).

On that path, building an ORM statement (a queryset, its compiler, its SQL) costs more
Python than the database takes to run it, on every request. The helpers here build each
statement once per database vendor and convert values exactly as the ORM does, in both
directions:

- `from_row` turns the columns of a written-out SELECT into a model instance, with the
  vendor's converters applied (UUIDs and times come back as text from SQLite);
- `insert` is `Model.objects.create(**values)` as one cached INSERT: defaults and
  `auto_now_add` are filled and every value prepared by its field, as save() does;
- `execute` runs a written-out UPDATE and returns its row count;
- `prepared_cursor` runs a statement of the hot path as a server-side prepared statement
  on PostgreSQL;
- `first_read` runs a request's first statement as its connection's health check too.

They are for rows built from saved objects on the hot path only: no pre_save/post_save
signals are sent and no related-object checks are made (the models written here have no
such receivers; tests/test_queries.py keeps it so). Anywhere else, use the ORM.
"""

import functools
import logging
import types

from django.db import DEFAULT_DB_ALIAS, Error, connection, connections, transaction

logger = logging.getLogger(__name__)


@functools.cache
def _converters(vendor: str, field) -> tuple:
    """What the ORM applies to `field`'s value as `vendor`'s database returns it (UUIDs and
    times from SQLite's text, for instance). They depend on the vendor, not the connection."""
    column = field.get_col(field.model._meta.db_table)
    return column, (*connection.ops.get_db_converters(column), *column.get_db_converters(connection))


def _database():
    """The default database's wrapper itself: `connection` is a proxy that looks it up
    again (in a context-local) at every attribute, a cost on the hot path when repeated
    per field."""
    return connections[DEFAULT_DB_ALIAS]


def from_row(model, fields, values):
    """An instance of `model` from the values of its concrete `fields`, as the ORM builds it."""
    database = _database()
    converted = []
    for field, value in zip(fields, values, strict=True):
        column, converters = _converters(database.vendor, field)
        for convert in converters:
            value = convert(value, column, database)
        converted.append(value)
    return model.from_db(database.alias, [field.attname for field in fields], converted)


@functools.cache
def _insert_statement(vendor: str, model) -> tuple[str, tuple]:
    """The INSERT save() would send for a new `model` row and the fields of its values, in
    order: every concrete field but a database-generated id (AutoField). Cached per `vendor`,
    whose quoting it uses."""
    meta = model._meta
    if meta.parents:
        raise TypeError(f"{model.__name__}: a model with parents is saved in several tables.")
    fields = tuple(f for f in meta.local_concrete_fields if f is not meta.auto_field and not f.generated)
    if any(f.has_db_default() for f in fields):
        raise TypeError(f"{model.__name__}: a db_default needs the ORM's DEFAULT in the INSERT.")
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    return f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ({placeholders})", fields  # noqa: S608


def insert(model, **values):
    """`model.objects.create(**values)` as one written-out INSERT; the same row is stored.

    An AutoField id is left to the database and not read back: the instance's pk stays
    None, so use this only where nothing reads it (a UUID pk with a default is set as usual).
    """
    instance, params = prepared(model, **values)
    execute(_insert_statement(connection.vendor, model)[0], params)
    return saved(instance)


def prepared(model, **values) -> tuple:
    """A new `model` instance of `values` and the parameters of its INSERT (`insert_parts`'
    fields, in order), prepared as save() prepares them: defaults and `auto_now_add` filled."""
    instance = model(**values)
    auto_field = model._meta.auto_field
    if auto_field is not None and getattr(instance, auto_field.attname) is not None:
        raise ValueError(f"{model.__name__}: insert() leaves {auto_field.name} to the database.")
    database = _database()
    fields = _insert_statement(database.vendor, model)[1]
    return instance, [f.get_db_prep_save(f.pre_save(instance, add=True), database) for f in fields]


def insert_parts(model) -> tuple[str, tuple]:
    """The quoted table and column list of `insert`'s INSERT (`table (a, b, ...)`) and its
    fields in that order, for a statement that writes the row otherwise (see
    transactions/queries.py `approval_insert`)."""
    statement, fields = _insert_statement(connection.vendor, model)
    return statement.removeprefix("INSERT INTO ").split(" VALUES ")[0], fields


def saved(instance):
    """Mark an instance written by a written-out INSERT as saved, as create() does."""
    instance._state.adding, instance._state.db = False, connection.alias
    return instance


def execute(statement: str, params, *, prepare: bool = False) -> int:
    """Run one written-out statement and return its row count; `prepare`: through
    `prepared_cursor`. As for the ORM's own writes, a failure inside atomic() marks the
    transaction for rollback."""
    cursor = prepared_cursor() if prepare else connection.cursor()
    with transaction.mark_for_rollback_on_error(using=connection.alias), cursor:
        cursor.execute(statement, params)
        return cursor.rowcount


def prepared_cursor():
    """A cursor whose statements PostgreSQL plans once per connection and then keeps (a
    server-side prepared statement: psycopg's `prepare=True`, with server-side binding);
    on SQLite the usual cursor.

    For the statements of the authorization path, whose planning costs PostgreSQL as much
    as running them or more: the decision's feature read took 3.0 ms to plan and 1.1 ms
    to run (bench/profile_authorization.py --explain). Django's cursors bind parameters on
    the client and never prepare (settings.py says why); this one is only for statements
    whose every parameter gets its type from where it stands (compared with a column, or
    cast to one: psycopg sends a Python int as the smallest integer type that holds it,
    so an expression of two parameters alone could overflow). Wrapped as
    connection.cursor() wraps, so execute_wrapper and the captured queries see its
    statements. The wrapper is looked up once (`_database`), not at each of its seven uses."""
    database = _database()
    if database.vendor != "postgresql":
        return database.cursor()
    database.close_if_health_check_failed()
    database.ensure_connection()
    database.validate_thread_sharing()
    cursor = _preparing_cursor_class()(database.connection)
    if database.queries_logged:
        cursor.logged = True
        return database.make_debug_cursor(cursor)
    return database.make_cursor(cursor)


def first_read(statement: str, params) -> tuple | None:
    """The first row of a read-only `statement` run through `prepared_cursor`, as the first
    statement of a request: one round trip where Django's health check makes it two.

    With CONN_HEALTH_CHECKS, Django sends `SELECT 1` on a persistent connection before
    each request's first statement, so that a connection the server dropped since the last
    request (a restart, a failover, an idle timeout) is replaced without failing the
    request. Here the statement itself is that check: if it fails on a broken connection,
    the connection is closed and the statement sent once more, on a new one. Only outside
    a transaction, where the dropped connection held nothing else; inside one, and where
    the connection is new or already checked, Django's own check as usual."""
    if not statement.lstrip().upper().startswith("SELECT"):
        raise ValueError("first_read sends its statement twice if the connection broke: a SELECT only.")
    database = _database()
    unchecked = (
        database.vendor == "postgresql"
        and database.connection is not None
        and database.health_check_enabled
        and not database.health_check_done
        and not database.in_atomic_block
    )
    if unchecked:
        database.health_check_done = True
        try:
            return _fetch_first(statement, params)
        except Error as error:
            if database.connection is None or not database.connection.broken:
                raise
            logger.warning("the database connection was broken (%s); reconnecting once", error)
            database.close()
    return _fetch_first(statement, params)


def _fetch_first(statement: str, params) -> tuple | None:
    with prepared_cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchone()


@functools.cache
def _preparing_cursor_class():
    import psycopg  # only on PostgreSQL

    class PreparingCursor(psycopg.Cursor):
        """Server-side binding, and every statement prepared at its first execution.

        `logged`: Django logs the statement (DEBUG, or a test capturing queries). It reads
        the text from the cursor's `_query`, which psycopg sets only where it sends a
        statement's text, not where it runs a prepared one: set it to the text psycopg's
        client-side cursor would have sent."""

        logged = False

        def execute(self, query, params=None, *, prepare=None, binary=None):
            super().execute(query, params, prepare=True, binary=binary)
            if self.logged:
                text = psycopg.ClientCursor(self.connection).mogrify(query, params)
                self._query = types.SimpleNamespace(query=text.encode())
            return self

    return PreparingCursor


# psycopg parses a statement's placeholders once and caches the result, but only for
# statements of at most 4,096 bytes and 50 parameters; longer ones it parses again on
# every execution. The decision's feature read (about 7 KB) and an approval's writes (one
# statement of 60 parameters) are over both: 0.67 ms of CPU per decision went to parsing
# them again (measured 4 December 2026). The bounds are module constants of psycopg's
# (pinned in requirements/base.txt); tests/transactions/test_queries.py checks that a
# decision's statements are parsed once.
STATEMENT_PARSE_CACHE = {"MAX_CACHED_STATEMENT_LENGTH": 16 * 1024, "MAX_CACHED_STATEMENT_PARAMS": 200}


def cache_statement_parses() -> None:
    """Raise psycopg's bounds on the statements whose parse it caches
    (STATEMENT_PARSE_CACHE); at most 128 statements are kept (its lru_cache)."""
    from psycopg import _queries

    for name, bound in STATEMENT_PARSE_CACHE.items():
        if not hasattr(_queries, name):
            raise ImportError(f"psycopg._queries has no {name} any more: see cardsystem/sql.py.")
        setattr(_queries, name, max(bound, getattr(_queries, name)))
