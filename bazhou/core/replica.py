"""Reads from a PostgreSQL replica, and read-your-writes for the editor (docs/replica.md).

With ``DATABASE_REPLICA_URL`` set, settings add a second database alias, ``replica`` (a streaming standby of the
primary), the router :class:`bazhou.core.routers.ReplicaRouter` and :class:`ReadYourWritesMiddleware`. Without it
none of this is installed and every query goes to the one database, as before.

Which database a read goes to is decided per request (or per background job) by a :class:`Reads` kept in a
context variable:

- a request with a safe method (GET, HEAD, OPTIONS) by a browser without the pin cookie reads from the replica:
  dashboards, lists, registers, exports, detail pages;
- a request with an unsafe method (POST, PUT, PATCH, DELETE) reads from the primary from its start;
- the first write of a request or job (an INSERT, UPDATE or DELETE seen by :class:`WriteWatcher`, the execute
  wrapper ``bazhou.core.freshness.install`` puts on every connection) pins what is left of it to the primary, and
  the response of a request that wrote carries the pin cookie for ``DATABASE_REPLICA_PIN_SECONDS``: the editor's
  next pages (the one the form redirects to first of all) read from the primary, where the edit is, whatever the
  replica's lag;
- inside ``transaction.atomic`` (beyond the block ``ATOMIC_REQUESTS`` opens round the view) reads go to the
  primary, so a service reads what it locks and writes; so does every query of a ``select_for_update`` or
  ``get_or_create`` (Django sends those to the write database);
- anything outside a request or a job (management commands, the shell, the worker's heartbeat) reads from the
  primary; so do the tables of the job queue (``PRIMARY_ONLY``).

If the replica cannot be reached, reads go to the primary: a warning is logged once, the replica is tried again
after ``DATABASE_REPLICA_RETRY_SECONDS``, and an information line says when it answers again.

Stored figures (the dashboard's, ``bazhou.core.freshness``) are labelled with the data versions read from the
primary; before figures are computed on the replica, :func:`reads_after` checks that the replica has replayed the
primary's WAL up to the moment those versions were read, and otherwise reads the rest of the request from the
primary, so figures are never stored under versions newer than the data they were computed from.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import re
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, InterfaceError, OperationalError, connections

logger = logging.getLogger(__name__)

REPLICA = "replica"
COOKIE = "bazhou_primary"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
# Models always read from the primary: the job queue (a worker claims, reports and polls these rows; a lagging
# copy would show a job still waiting that has started).
PRIMARY_ONLY = frozenset({"bazhou.job", "bazhou.workerbeat", "django_tasks_database.dbtaskresult"})
# Writes that are bookkeeping, not edits: they do not pin the request to the primary (a job's claim and progress,
# the queue's own rows, the dashboard storing figures it computed on the replica).
BOOKKEEPING = (
    "bazhou_job",
    "bazhou_workerbeat",
    "bazhou_cachedfigures",
    "django_tasks_database_",
    # The summary figures a reader may rebuild (bazhou/core/summaries.py): they follow the data, they are not an edit.
    "tasks_planfigures",
    "tasks_planbreakdown",
    "households_registryfigures",
    "households_poorpeople",
    "households_goalfigures",
    "villages_exitfigures",
)
_WRITE = re.compile(
    r'\s*(?:(?:INSERT\s+(?:OR\s+\w+\s+)?INTO|UPDATE|DELETE\s+FROM|TRUNCATE(?:\s+TABLE)?|MERGE\s+INTO)\s+["`]?(\w+)'
    r"|(?:CREATE|ALTER|DROP|COPY)\b)",
    re.IGNORECASE,
)


@dataclass
class Reads:
    """Where the reads of one request or job go. ``replica``: they may go to the replica (else the primary);
    ``base``: the atomic blocks open on the primary's connection while the work runs outside any transaction of
    its own (more than that: a service's transaction, read from the primary); ``wrote``: the work has written."""

    replica: bool
    base: int
    wrote: bool = False

    def pin(self) -> None:
        self.replica = False


_reads: contextvars.ContextVar[Reads | None] = contextvars.ContextVar("bazhou_reads", default=None)


def configured() -> bool:
    """Whether a replica is configured (``DATABASE_REPLICA_URL``; tests add the alias themselves)."""
    return REPLICA in connections.settings


def current() -> Reads | None:
    return _reads.get()


def _depth() -> int:
    return len(connections[DEFAULT_DB_ALIAS].atomic_blocks)


@contextlib.contextmanager
def scope(*, replica: bool):
    """The reads of a request or job: from the replica if ``replica`` (until the work writes), else the primary.
    A job run inside a request (tests) hands its write on to the request when it ends."""
    if not configured():
        yield None
        return
    outer = _reads.get()
    reads = Reads(replica=replica, base=_depth())
    token = _reads.set(reads)
    try:
        yield reads
    finally:
        _reads.reset(token)
        if outer is not None and reads.wrote:
            outer.wrote = True
            outer.pin()


def reads_from_replica() -> bool:
    """Whether a read now goes to the replica: inside a request or job that may read from it, outside any
    transaction of its own, and the replica answers."""
    reads = _reads.get()
    if reads is None or not reads.replica or _depth() > reads.base:
        return False
    return replica_usable()


# --- writes ---------------------------------------------------------------------------------------------------


def is_edit(sql: str) -> bool:
    """Whether ``sql`` writes something other than bookkeeping."""
    match = _WRITE.match(sql)
    if not match:
        return False
    table = (match.group(1) or "").lower()
    return not (table and table.startswith(BOOKKEEPING))


class WriteWatcher:
    """Execute wrapper on every connection: the first write of a request or job pins it to the primary; a
    connection error on the replica makes reads go to the primary."""

    def __call__(self, execute, sql, params, many, context):
        reads = _reads.get()
        connection = context["connection"]
        if connection.alias == REPLICA:
            try:
                return execute(sql, params, many, context)
            except (OperationalError, InterfaceError):
                if not connection.is_usable():
                    mark_down()
                raise
        if reads is not None and not reads.wrote and isinstance(sql, str) and is_edit(sql):
            reads.wrote = True
            reads.pin()
        return execute(sql, params, many, context)


WATCHER = WriteWatcher()


def install(connection) -> None:
    """Put the watcher on ``connection`` (once); called by ``bazhou.core.freshness.install``."""
    if not any(isinstance(w, WriteWatcher) for w in connection.execute_wrappers):
        connection.execute_wrappers.insert(0, WATCHER)


# --- the replica's health -------------------------------------------------------------------------------------

_down_until = 0.0
_down_logged = False


def retry_seconds() -> int:
    return int(getattr(settings, "DATABASE_REPLICA_RETRY_SECONDS", 30))


def mark_down(error: Exception | None = None) -> None:
    """Read from the primary for ``DATABASE_REPLICA_RETRY_SECONDS``; warn once per outage."""
    global _down_until, _down_logged  # noqa: PLW0603  (this process's view of the replica; nothing shared)
    _down_until = time.monotonic() + retry_seconds()
    if not _down_logged:
        _down_logged = True
        logger.warning("replica unreachable, reads go to the primary (retry every %ss): %s", retry_seconds(), error)
    with contextlib.suppress(DatabaseError):
        connections[REPLICA].close()


def replica_usable() -> bool:
    """Whether the replica answers now (its connection open and, once a request, healthy)."""
    global _down_logged  # noqa: PLW0603
    if time.monotonic() < _down_until:
        return False
    connection = connections[REPLICA]
    try:
        connection.close_if_health_check_failed()
        connection.ensure_connection()
    except DatabaseError as error:
        mark_down(error)
        return False
    if _down_logged:
        _down_logged = False
        logger.info("replica answers again: reads go to it")
    return True


def reset_health() -> None:
    """Forget a past outage (tests)."""
    global _down_until, _down_logged  # noqa: PLW0603
    _down_until, _down_logged = 0.0, False


# --- figures stored under the primary's versions ---------------------------------------------------------------


def wal_position_sql(connection) -> str:
    """A column for the query that reads the data versions on ``connection`` (the primary): the WAL position
    then, when the figures about to be computed would be read from a PostgreSQL replica; else nothing."""
    if connection.alias != DEFAULT_DB_ALIAS or connection.vendor != "postgresql" or not configured():
        return ""
    reads = _reads.get()
    if reads is None or not reads.replica:
        return ""
    return ", pg_current_wal_lsn()::text"


def _replayed(position: str) -> bool:
    """Whether the replica has replayed the primary's WAL up to ``position`` (1 query on the replica)."""
    try:
        with connections[REPLICA].cursor() as cursor:
            cursor.execute(
                "SELECT COALESCE(pg_last_wal_replay_lsn() >= %s::pg_lsn, NOT pg_is_in_recovery())", [position]
            )
            return bool(cursor.fetchone()[0])
    except (OperationalError, InterfaceError) as error:
        mark_down(error)
        return False


def reads_after(position: str, *, wait: float = 0.0) -> None:
    """Read the rest of this request or job from the primary unless the replica has replayed the primary's WAL up
    to ``position`` (waiting up to ``wait`` seconds for it): what is read from it then includes every write
    committed before ``position`` was taken."""
    if not reads_from_replica() or connections[REPLICA].vendor != "postgresql":
        return
    deadline = time.monotonic() + wait
    while not _replayed(position):
        if time.monotonic() >= deadline:
            _reads.get().pin()
            return
        time.sleep(0.05)


def reads_after_now(*, wait: float = 2.0) -> None:
    """For a job: read from the replica only once it has every write committed before the job started (the data
    the request that queued the job wrote with it); else from the primary. 2 small queries."""
    if not reads_from_replica() or connections[REPLICA].vendor != "postgresql":
        return
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_lsn()::text")
        position = cursor.fetchone()[0]
    reads_after(position, wait=wait)


# --- requests ---------------------------------------------------------------------------------------------------


def pin_seconds() -> int:
    return int(getattr(settings, "DATABASE_REPLICA_PIN_SECONDS", 15))


def _view_is_atomic(view_func) -> bool:
    return connections.settings[DEFAULT_DB_ALIAS]["ATOMIC_REQUESTS"] and DEFAULT_DB_ALIAS not in getattr(
        view_func, "_non_atomic_requests", set()
    )


class ReadYourWritesMiddleware:
    """Each request's reads: from the replica for a safe method without the pin cookie, else from the primary;
    a request that wrote sets the pin cookie, so the editor's next pages read from the primary as well."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        replica = request.method in SAFE_METHODS and COOKIE not in request.COOKIES
        with scope(replica=replica) as reads:
            response = self.get_response(request)
        if reads is not None and reads.wrote:
            response.set_cookie(
                COOKIE,
                "1",
                max_age=pin_seconds(),
                httponly=True,
                samesite="Lax",
                secure=getattr(settings, "SESSION_COOKIE_SECURE", False),
            )
        return response

    def process_view(self, request, view_func, view_args, view_kwargs):
        # ATOMIC_REQUESTS opens one block round the view: reads in it may still go to the replica.
        reads = _reads.get()
        if reads is not None and _view_is_atomic(view_func):
            reads.base = _depth() + 1
