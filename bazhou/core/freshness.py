"""Data versions: numbers that change whenever the product's data changes, for stored figures that must not go stale.

The dashboard's figures are expensive at district scale (they count every plan row and every targeted
household) and are read far more often than the data changes, so they are stored (``CachedFigures``) with the
versions of the data they were computed from. Any write moves a version on, and the next page load computes
the figures that depend on it afresh: an edit shows at once, on every app server, with no expiry to wait for.

There is one version per kind of data (``KINDS``: villages, the registry, the plan table, supervision, the
annual goals; and the people's messages and charges, which the navigation's counts read), so a plan-row edit
recomputes the plan figures but not the registry's readiness counts.

How every write is seen, whatever path it takes (services, the admin, ``QuerySet.update``, ``bulk_create``,
raw SQL through Django's cursor, imports, management commands): a database *execute wrapper*, installed on
every connection, looks at each statement; an INSERT, UPDATE or DELETE on a table of one of the kinds bumps
that kind's version:

- inside the writing transaction, so the same connection sees the new version at once (and a test's
  never-committed transaction too); at most once per kind and transaction until the versions are read again;
- and, on PostgreSQL, once more after the transaction commits (``transaction.on_commit``). A reader that read
  the bumped version before the commit may have stored the old figures under it; the second bump moves the
  version past them before the writer's response is sent.

The versions are kept where a bump costs nothing extra:

- PostgreSQL: one sequence per kind (``bazhou_data_version_<kind>``): ``nextval`` never blocks and is never
  rolled back, so concurrent writers never wait on each other;
- SQLite: one ``DataVersion`` row per kind, updated inside the writer's transaction (SQLite has one writer at a
  time anyway), so a reader sees the data and its version change together.

Versions only ever grow, so the sum of the versions a figure depends on changes exactly when one of them does.

Writes outside Django (psql, pg_restore) do not bump them: after such a change run
``manage.py bump_data_version`` (docs/deploy.md says so for restores).
"""

from __future__ import annotations

import re

from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.backends.signals import connection_created
from django.dispatch import receiver

from bazhou.core import replica

# The kinds of data, each with the table-name prefixes that hold it; the DataVersion row of a kind is its
# position here (1-based), on PostgreSQL its sequence is bazhou_data_version_<kind>.
KINDS = {
    "villages": ("villages_",),
    "households": ("households_",),
    "tasks": ("tasks_",),
    "supervision": ("supervision_",),
    "goals": ("bazhou_annualgoal",),
    # Not the figures' data: what the navigation's counts read besides it (bazhou/surfaces/todo.py, nav_counts), the
    # people's messages (their unread number) and the 挂包 leaders' charges (which rows a leader's to-do reads).
    "people": ("bazhou_notification", "bazhou_user_charge_"),
}
# Tables of those apps that are not data the figures read: an uploaded workbook waiting for its confirmation, and
# the summary figures the writes keep (bazhou/core/summaries.py), which follow the data and are not data themselves.
UNTRACKED = (
    "tasks_importbatch",
    "tasks_planfigures",
    "tasks_planbreakdown",
    "households_registryfigures",
    "households_poorpeople",
    "households_goalfigures",
    "villages_exitfigures",
)
ROW = {kind: i for i, kind in enumerate(KINDS, 1)}
# SQLite spells a bulk_create(ignore_conflicts=True) ``INSERT OR IGNORE INTO``: a write all the same.
_WRITE = re.compile(r'\s*(?:INSERT\s+(?:OR\s+\w+\s+)?INTO|UPDATE|DELETE\s+FROM)\s+["`]?(\w+)', re.IGNORECASE)


def sequence(kind: str) -> str:
    return f"bazhou_data_version_{kind}"


def kind_written(sql: str) -> str | None:
    """The kind of data ``sql`` writes to, or None (a read, or a table of none of the kinds)."""
    match = _WRITE.match(sql)
    if not match:
        return None
    table = match.group(1).lower()
    if table in UNTRACKED:
        return None
    for kind, prefixes in KINDS.items():
        if table.startswith(prefixes):
            return kind
    return None


def current(using: str = DEFAULT_DB_ALIAS) -> dict[str, int]:
    """The version of each kind of data now (1 query)."""
    return current_with([], [], using)[0]


def current_with(columns: list[str], params: list, using: str = DEFAULT_DB_ALIAS) -> tuple[dict[str, int], tuple]:
    """The version of each kind of data now, and the values of ``columns`` (scalar SQL expressions, with
    ``params``) read in the same query, so in the same snapshot: 1 query. A caller reads its stored figures here
    and compares their versions with those read alongside them."""
    connection = connections[using]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # With a replica, also the WAL position now: the figures about to be computed must include it.
            position = replica.wal_position_sql(connection)
            versions = [
                f"(SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM {sequence(kind)})" for kind in KINDS
            ]
        else:
            position = ""
            versions = [f"(SELECT number FROM bazhou_dataversion WHERE id = {ROW[kind]})" for kind in KINDS]
        cursor.execute("SELECT " + ", ".join(versions + columns) + position, params)
        row = cursor.fetchone()
    numbers = {kind: number or 0 for kind, number in zip(KINDS, row[: len(KINDS)], strict=True)}
    extra = tuple(row[len(KINDS) : len(KINDS) + len(columns)])
    if position:
        replica.reads_after(row[-1])
    # The next write in this transaction must bump again: whoever read the versions may store figures under them.
    connection.bazhou_versions_read = getattr(connection, "bazhou_versions_read", 0) + 1
    return numbers, extra


def bump(kind: str | None = None, using: str = DEFAULT_DB_ALIAS) -> None:
    """Move the version of ``kind`` (of every kind if None) on (1 query). The execute wrapper calls it; call it
    yourself after writes made outside Django."""
    kinds = [kind] if kind else list(KINDS)
    connection = connections[using]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT " + ", ".join(f"nextval('{sequence(k)}')" for k in kinds))
        else:
            # An upsert: the row is back even after ``flush`` emptied the table.
            cursor.execute(
                "INSERT INTO bazhou_dataversion (id, number) VALUES "
                + ", ".join(f"({ROW[k]}, 1)" for k in kinds)
                + " ON CONFLICT (id) DO UPDATE SET number = number + 1"
            )


class _AfterCommit:
    """The on-commit callback of a transaction's first write to a kind; while it waits in ``run_on_commit`` it
    also marks the kind as bumped (it leaves when the transaction, or the savepoint that registered it, ends)."""

    def __init__(self, kind: str, using: str, read: int):
        self.kind = kind
        self.using = using
        self.read = read

    def __call__(self):
        if connections[self.using].vendor == "postgresql":
            bump(self.kind, self.using)


def _bumped_since_last_read(connection, kind: str) -> bool:
    read = getattr(connection, "bazhou_versions_read", 0)
    return any(
        isinstance(f, _AfterCommit) and f.kind == kind and f.read == read for _, f, _ in connection.run_on_commit
    )


class VersionBumper:
    """The execute wrapper (``connection.execute_wrappers``) that bumps a version after a write to its kind."""

    def __call__(self, execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        kind = kind_written(sql) if isinstance(sql, str) else None
        if kind:
            connection = context["connection"]
            if not connection.in_atomic_block:
                bump(kind, connection.alias)  # Autocommit: the write is committed already.
            elif not _bumped_since_last_read(connection, kind):
                bump(kind, connection.alias)
                transaction.on_commit(
                    _AfterCommit(kind, connection.alias, getattr(connection, "bazhou_versions_read", 0)),
                    using=connection.alias,
                )
        return result


BUMPER = VersionBumper()


def install(connection) -> None:
    """Put the bumper on ``connection`` (once). First in the list, not last: ``connection.execute_wrapper()``
    pops the last wrapper when its block ends, and a connection opened inside such a block must keep ours."""
    if not any(isinstance(w, VersionBumper) for w in connection.execute_wrappers):
        connection.execute_wrappers.insert(0, BUMPER)
    replica.install(connection)  # reads from a replica: a write pins the request to the primary


@receiver(connection_created)
def _on_connection_created(sender, connection, **kwargs):
    install(connection)
