"""The data version: a number that changes whenever the product's data changes, for caches that must not go stale.

The dashboard's figures are expensive at district scale (they count every plan row and every targeted
household) and are read far more often than the data changes, so they are kept in the shared cache under a
key that holds the data version (:func:`current`). Any write then moves the version on and the next page load
computes the figures afresh: an edit shows at once, on every app server, with no expiry to wait for.

How every write is seen, whatever path it takes (services, the admin, ``QuerySet.update``, ``bulk_create``,
raw SQL through Django's cursor, imports, management commands): a database *execute wrapper*, installed on
every connection, looks at each statement; an INSERT, UPDATE or DELETE on a table of the product's data (the
apps in ``TRACKED``) bumps the version:

- inside the writing transaction, so the same connection sees the new version at once (and a test's
  never-committed transaction too). At most once per transaction until the version is read again;
- and, on PostgreSQL, once more after the transaction commits (``transaction.on_commit``). A reader that read
  the bumped version before the commit may have cached the old figures under it; the second bump moves the
  version past that entry before the writer's response is sent.

The version is kept where the bump costs nothing extra:

- PostgreSQL: the sequence ``bazhou_data_version`` (``nextval`` never blocks and is not rolled back, so
  concurrent writers never wait on each other); read with ``SELECT last_value``.
- SQLite: the single ``DataVersion`` row, updated inside the writer's transaction (SQLite has one writer at a
  time anyway), so a reader sees the data and the version change together.

Writes outside Django (psql, pg_restore) do not bump it: after such a change run
``manage.py bump_data_version`` (docs/deploy.md says so for restores).
"""

from __future__ import annotations

import re

from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.backends.signals import connection_created
from django.dispatch import receiver

SEQUENCE = "bazhou_data_version"
# Tables whose rows the cached figures are made of: every table of these apps, and the annual goals.
TRACKED = ("villages_", "households_", "tasks_", "supervision_", "bazhou_annualgoal")
_WRITE = re.compile(r'\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+["`]?(\w+)', re.IGNORECASE)


def writes_tracked_data(sql: str) -> bool:
    """Whether ``sql`` writes to a table of the product's data."""
    match = _WRITE.match(sql)
    return bool(match) and match.group(1).lower().startswith(TRACKED)


def current(using: str = DEFAULT_DB_ALIAS) -> int:
    """The data version now (1 query)."""
    connection = connections[using]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"SELECT last_value, is_called FROM {SEQUENCE}")
            value, called = cursor.fetchone()
            number = value if called else 0
        else:
            cursor.execute("SELECT number FROM bazhou_dataversion WHERE id = 1")
            row = cursor.fetchone()
            number = row[0] if row else 0
    # The next write in this transaction must bump again: whoever read the version may cache under it.
    connection.bazhou_version_read = getattr(connection, "bazhou_version_read", 0) + 1
    return number


def bump(using: str = DEFAULT_DB_ALIAS) -> None:
    """Move the data version on (1 query). The execute wrapper calls it; call it yourself after writes made
    outside Django."""
    connection = connections[using]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"SELECT nextval('{SEQUENCE}')")
        else:
            # An upsert: the row is back even after ``flush`` emptied the table.
            cursor.execute(
                "INSERT INTO bazhou_dataversion (id, number) VALUES (1, 1) "
                "ON CONFLICT (id) DO UPDATE SET number = number + 1"
            )


class _AfterCommit:
    """The on-commit callback a transaction's first tracked write registers; it also marks the transaction as
    bumped (it leaves ``run_on_commit`` when the transaction, or the savepoint that registered it, ends)."""

    def __init__(self, using: str, read: int):
        self.using = using
        self.read = read

    def __call__(self):
        if connections[self.using].vendor == "postgresql":
            bump(self.using)


def _bumped_since_last_read(connection) -> bool:
    read = getattr(connection, "bazhou_version_read", 0)
    return any(isinstance(f, _AfterCommit) and f.read == read for _, f, _ in connection.run_on_commit)


class VersionBumper:
    """The execute wrapper (``connection.execute_wrappers``) that bumps the version after a tracked write."""

    def __call__(self, execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if isinstance(sql, str) and writes_tracked_data(sql):
            connection = context["connection"]
            if not connection.in_atomic_block:
                bump(connection.alias)  # Autocommit: the write is committed already.
            elif not _bumped_since_last_read(connection):
                bump(connection.alias)
                transaction.on_commit(
                    _AfterCommit(connection.alias, getattr(connection, "bazhou_version_read", 0)),
                    using=connection.alias,
                )
        return result


BUMPER = VersionBumper()


def install(connection) -> None:
    """Put the bumper on ``connection`` (once). First in the list, not last: ``connection.execute_wrapper()``
    pops the last wrapper when its block ends, and a connection opened inside such a block must keep ours."""
    if not any(isinstance(w, VersionBumper) for w in connection.execute_wrappers):
        connection.execute_wrappers.insert(0, BUMPER)


@receiver(connection_created)
def _on_connection_created(sender, connection, **kwargs):
    install(connection)
