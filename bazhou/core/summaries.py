"""Summary figures kept by the writes: per-village aggregates the dashboard adds up instead of re-reading every row.

At ten times the demo a district dashboard computed from the base tables re-aggregates 200k plan rows, 290k fund
lines and 700k members after every edit (0.75 s after a plan-row edit, 1.9 s in all). So each app that owns base
rows keeps, per village, the figures the dashboard needs (tasks/summaries.py: plan rows by state, funds by category
and source, done quantities; households/summaries.py: readiness of targeted households, people lifted, poor people),
and the dashboard reads those (a few thousand rows at district level) and adds them up by township or village.

How the figures stay right, whatever path a write takes:

- **Signals name the villages.** Each app registers its models with :func:`track` and a function giving the key a
  row belongs to (a plan row → its plan, a member → its household, a household → its village; the key it had when
  loaded counts too, so a row moved elsewhere refreshes both places). ``post_save`` / ``post_delete`` put the keys
  in the connection's pending set.
- **The same transaction refreshes them.** Before the transaction commits (ATOMIC_REQUESTS makes every request
  one; jobs and commands use ``transaction.atomic``), the pending villages' figures are computed afresh from the
  base tables and written (:func:`flush`, called by the connection's ``commit``); a write in autocommit mode
  refreshes at once. A reader of the same transaction flushes first (:func:`ready`), so it sees its own writes.
  On PostgreSQL each village is refreshed under an advisory lock taken before its figures are read, so two
  transactions editing one village cannot leave the figures of the first one's snapshot.
- **A write no signal explains invalidates everything.** The database execute wrapper sees every INSERT, UPDATE
  and DELETE (as bazhou/core/freshness.py does). A write to a tracked table that no ``pre_save``/``pre_delete`` is
  waiting for (``bulk_create``, ``QuerySet.update``, raw SQL, a command) drops the keeper's marker in the same
  transaction, and the next reader rebuilds all of that keeper's figures. Code that writes in bulk and knows what
  it changed says so with :func:`bulk` and :func:`touched` and keeps the cheap path.
- **A marker says the figures are whole.** ``CachedFigures`` row ``summaries:<keeper>`` holds the day the figures
  were built for (plan figures count overdue and due-soon rows as of a day) and the settings they depend on; a
  reader whose day or settings differ rebuilds. ``manage.py summaries --verify`` compares every stored figure with a
  fresh computation from the base tables; ``--rebuild`` rebuilds.

Writes made outside Django (psql, pg_restore) are seen by nobody: ``manage.py bump_data_version``, which
``bin/restore`` runs and docs/deploy.md asks for after such changes, also drops the markers, so the next reader
rebuilds; ``manage.py summaries --rebuild`` rebuilds at once.
"""

from __future__ import annotations

import datetime
import logging
from collections import Counter
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.backends.signals import connection_created
from django.db.models.signals import post_delete, post_init, post_save, pre_delete, pre_save
from django.dispatch import receiver

from bazhou.core.freshness import _WRITE

log = logging.getLogger(__name__)

# An advisory-lock namespace of the keepers (PostgreSQL): (NAMESPACE, village id) per village, (NAMESPACE, 0) for the
# whole of a keeper's figures, taken shared by a village refresh and exclusive by a rebuild.
NAMESPACE = 0x62617A  # "baz"
# The namespace of the townships' rows (:func:`lock_townships`): (TOWNSHIP_NAMESPACE, hash of the township's code).
TOWNSHIP_NAMESPACE = NAMESPACE + 1


@dataclass
class Keeper:
    """One app's summary figures.

    - ``tables``: the base tables; a write to one of them that no signal explains invalidates the figures;
    - ``villages``: the village ids of pending keys (``{kind: {key, …}}``), 1 query or none;
    - ``refresh``: compute and store afresh the figures of these villages (``day``: the day the figures are of);
    - ``rebuild``: compute and store every figure afresh for ``day``;
    - ``verify``: the differences between the stored figures and a fresh computation, as Chinese lines;
    - ``settings``: a number standing for the settings the figures depend on (a changed one rebuilds them);
    - ``by_day``: whether the figures depend on the day (overdue counts) and must be rebuilt each day;
    - ``follows``: keepers whose :func:`touched` keys this keeper takes as its own too (its ``villages`` knows their
      kinds): a bulk write names its rows to the keeper of its app, and every keeper reading those rows hears it.
    """

    name: str
    tables: tuple[str, ...]
    villages: Callable[[dict], set]
    refresh: Callable[[set, datetime.date], None]
    rebuild: Callable[[datetime.date], None]
    verify: Callable[[datetime.date], list]
    settings: Callable[[], int] = lambda: 0
    by_day: bool = False
    follows: tuple[str, ...] = ()
    # Whether the keeper also keeps township rows (the villages' figures added up by township, which the district
    # reads): its ``refresh`` then takes ``townships``, the townships whose rows must be redone besides those of the
    # villages (a village moved away leaves its old township's rows to redo).
    townships: bool = False
    lock_id: int = 0


KEEPERS: dict[str, Keeper] = {}
# table → the names of the keepers whose figures read it (a table may feed several: households feed the registry's,
# the goals' and the exit verdicts' figures)
TABLES: dict[str, set[str]] = {}
# model → [(keeper name, kind, key function)]
TRACKED: dict[type, list] = {}


def register(keeper: Keeper) -> None:
    keeper.lock_id = -(len(KEEPERS) + 1)
    KEEPERS[keeper.name] = keeper
    for table in keeper.tables:
        TABLES.setdefault(table, set()).add(keeper.name)


def track(model, keeper: str, kind: str, attname: str) -> None:
    """A saved or deleted ``model`` instance makes its ``attname`` (e.g. ``plan_id``; and the value it had when
    loaded) a pending key of ``kind`` for ``keeper``. Read from the instance's own values only: an instance loaded
    without that field (``only()``) costs no query."""
    TRACKED.setdefault(model, []).append((keeper, kind, attname))
    post_init.connect(_loaded, sender=model, weak=False, dispatch_uid=f"summaries-init-{model._meta.label}")
    pre_save.connect(_expect, sender=model, weak=False, dispatch_uid=f"summaries-pre-save-{model._meta.label}")
    pre_delete.connect(_expect, sender=model, weak=False, dispatch_uid=f"summaries-pre-delete-{model._meta.label}")
    post_save.connect(_written, sender=model, weak=False, dispatch_uid=f"summaries-save-{model._meta.label}")
    post_delete.connect(_written, sender=model, weak=False, dispatch_uid=f"summaries-delete-{model._meta.label}")


@dataclass
class State:
    """What one connection's open transaction has written that the figures do not show yet."""

    pending: dict = field(default_factory=dict)  # keeper → kind → keys
    invalid: set = field(default_factory=set)  # keepers whose figures a write no signal explains has changed
    expected: Counter = field(default_factory=Counter)  # table → saves/deletes announced by pre_* signals
    bulk: int = 0  # depth of bulk() blocks: their writes are explained by touched()
    flushing: bool = False
    # Keepers found whole in this transaction: name → (day, settings); forgotten at commit, rollback and any
    # invalidation, so a page that reads several blocks asks for the markers once.
    whole: dict = field(default_factory=dict)

    def dirty(self) -> bool:
        return bool(self.invalid or any(any(kinds.values()) for kinds in self.pending.values()))

    def clear(self) -> None:
        self.pending.clear()
        self.invalid.clear()
        self.expected.clear()
        self.whole.clear()


def state(using: str = DEFAULT_DB_ALIAS) -> State:
    connection = connections[using]
    found = getattr(connection, "bazhou_summaries", None)
    if found is None:
        found = connection.bazhou_summaries = State()
        _install(connection)
    return found


def touched(keeper: str, kind: str, keys: Iterable, using: str = DEFAULT_DB_ALIAS) -> None:
    """Say that rows of ``kind`` with these keys changed (``kind`` "villages" takes village ids; each keeper names
    its other kinds). Refreshed before the transaction commits, or at once outside a transaction."""
    keys = {k for k in keys if k is not None}
    if not keys:
        return
    s = state(using)
    for name in (keeper, *(k.name for k in KEEPERS.values() if keeper in k.follows)):
        s.pending.setdefault(name, {}).setdefault(kind, set()).update(keys)
    if not connections[using].in_atomic_block and not s.bulk:
        flush(using)


def invalidate(keeper: str | None = None, using: str = DEFAULT_DB_ALIAS) -> None:
    """Mark ``keeper``'s figures (every keeper's if None) to be rebuilt by the next reader."""
    s = state(using)
    s.invalid.update([keeper] if keeper else KEEPERS)
    if not connections[using].in_atomic_block and not s.bulk:
        flush(using)


@contextmanager
def bulk(using: str = DEFAULT_DB_ALIAS):
    """Writes to tracked tables inside the block are explained by the caller's :func:`touched` calls (not
    invalidating the figures); the touched villages are refreshed when the transaction commits."""
    s = state(using)
    s.bulk += 1
    try:
        yield
    finally:
        s.bulk -= 1
    if not s.bulk and not connections[using].in_atomic_block:
        flush(using)


def _loaded(sender, instance, **kwargs):
    for keeper, kind, attname in TRACKED.get(sender, ()):
        instance.__dict__[f"_summary_{keeper}_{kind}"] = instance.__dict__.get(attname)


def _expect(sender, instance, using=DEFAULT_DB_ALIAS, **kwargs):
    state(using).expected[sender._meta.db_table] += 1
    # An instance loaded without its key field (``only()``) about to be saved or deleted: its key read now, while
    # the row is there (1 query, only in that case).
    for keeper, kind, attname in TRACKED.get(sender, ()):
        if attname not in instance.__dict__ and instance.pk is not None:
            found = sender._base_manager.using(using).filter(pk=instance.pk).values_list(attname, flat=True).first()
            instance.__dict__[f"_summary_{keeper}_{kind}"] = found


def _written(sender, instance, using=DEFAULT_DB_ALIAS, **kwargs):
    s = state(using)
    table = sender._meta.db_table
    s.expected[table] = max(0, s.expected[table] - 1)
    for keeper, kind, attname in TRACKED.get(sender, ()):
        keys = s.pending.setdefault(keeper, {}).setdefault(kind, set())
        now = instance.__dict__.get(attname)
        for value in (now, instance.__dict__.get(f"_summary_{keeper}_{kind}")):
            if value is not None:
                keys.add(value)
        instance.__dict__[f"_summary_{keeper}_{kind}"] = now
    if not connections[using].in_atomic_block and not s.bulk:
        flush(using)


def _watch(execute, sql, params, many, context):
    """The execute wrapper: a write to a tracked table that no signal announced invalidates its keeper."""
    connection = context["connection"]
    s = getattr(connection, "bazhou_summaries", None)
    if s is not None and not s.flushing and not s.bulk:
        match = _WRITE.match(sql)
        if match:
            table = match.group(1).lower()
            keepers = TABLES.get(table)
            if keepers and s.expected[table] <= 0:
                s.invalid.update(keepers)
    return execute(sql, params, many, context)


def _install(connection) -> None:
    """Wrap the connection's commit and rollback (once per connection object) and install the execute wrapper."""
    if getattr(connection, "bazhou_summaries_installed", False):
        return
    connection.bazhou_summaries_installed = True
    commit, rollback = connection.commit, connection.rollback

    def committing():
        s = getattr(connection, "bazhou_summaries", None)
        if s is not None:
            s.whole.clear()
        if s is not None and s.dirty() and not s.flushing:
            # Atomic.__exit__ has just left the block to commit; the flush's own atomic blocks (and the ORM's) must
            # nest inside this transaction rather than commit it themselves.
            connection.in_atomic_block = True
            try:
                flush(connection.alias)
            finally:
                connection.in_atomic_block = False
        commit()

    def rolling_back():
        s = getattr(connection, "bazhou_summaries", None)
        if s is not None:
            s.clear()
        rollback()

    connection.commit = committing
    connection.rollback = rolling_back
    if _watch not in connection.execute_wrappers:
        connection.execute_wrappers.append(_watch)


@receiver(connection_created, dispatch_uid="bazhou-summaries-connection")
def _connected(sender, connection, **kwargs):
    # The connection object itself, not connections[alias]: PostgreSQL's temporary "__no_db__" connection (used to
    # create test databases) has no alias there.
    if getattr(connection, "bazhou_summaries", None) is None:
        connection.bazhou_summaries = State()
    _install(connection)


# ---------------------------------------------------------------------------------------------
# Markers
# ---------------------------------------------------------------------------------------------


def marker_key(name: str) -> str:
    return f"summaries:{name}"


def markers(names: Iterable[str], using: str = DEFAULT_DB_ALIAS) -> dict:
    """The stored marker of each keeper: ``{name: (day, settings)}`` (1 query)."""
    from bazhou.core.models import CachedFigures

    keys = {marker_key(n): n for n in names}
    rows = CachedFigures.objects.using(using).filter(key__in=keys).values_list("key", "day", "version")
    return {keys[key]: (day, version) for key, day, version in rows}


def _mark(keeper: Keeper, day: datetime.date, using: str) -> None:
    from bazhou.core.models import CachedFigures

    CachedFigures.objects.using(using).update_or_create(
        key=marker_key(keeper.name), defaults={"day": day, "version": keeper.settings(), "data": b""}
    )


def _unmark(names: Iterable[str], using: str) -> None:
    from bazhou.core.models import CachedFigures

    CachedFigures.objects.using(using).filter(key__in=[marker_key(n) for n in names]).delete()


def _whole(keeper: Keeper, marker, day: datetime.date) -> bool:
    if marker is None:
        return False
    stored_day, version = marker
    return version == keeper.settings() and (stored_day == day or not keeper.by_day)


def _lock(using: str, keys: list[int], *, shared: bool = False) -> None:
    """PostgreSQL advisory locks for the rest of the transaction (none on SQLite, which has one writer)."""
    connection = connections[using]
    if connection.vendor != "postgresql" or not keys:
        return
    function = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {function}(%s, k) FROM unnest(%s::int[]) AS k ORDER BY k", [NAMESPACE, sorted(keys)])


def lock_townships(codes: Iterable[str], using: str = DEFAULT_DB_ALIAS) -> None:
    """Advisory locks on these townships' rows of the figures until the transaction ends (PostgreSQL): two
    transactions editing villages of one township redo its rows one after the other, the second from what the
    first committed (each statement reads the committed rows afresh), so neither edit is lost from the sum."""
    connection = connections[using]
    codes = sorted(set(codes))
    if connection.vendor != "postgresql" or not codes:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(%s, hashtext(c)) FROM unnest(%s::text[]) AS c ORDER BY c",
            [TOWNSHIP_NAMESPACE, codes],
        )


# ---------------------------------------------------------------------------------------------
# Flushing and reading
# ---------------------------------------------------------------------------------------------


def flush(using: str = DEFAULT_DB_ALIAS) -> None:
    """Bring the figures up to the writes of this connection's transaction: refresh the pending villages of each
    keeper whose figures are whole; drop the marker of a keeper invalidated by a write no signal explains."""
    s = state(using)
    if not s.dirty() or s.flushing:
        return
    s.flushing = True
    try:
        with transaction.atomic(using=using, savepoint=False):
            invalid = set(s.invalid)
            if invalid:
                _unmark(invalid, using)
            # In the order the keepers were registered (the apps' order, downwards first): a keeper whose figures read
            # another's (the exit verdicts read the registry's poor people) refreshes after it.
            pending = {
                name: s.pending[name]
                for name in KEEPERS
                if name in s.pending and name not in invalid and any(s.pending[name].values())
            }
            if pending:
                found = markers(pending, using)
                for name, kinds in pending.items():
                    keeper = KEEPERS[name]
                    marker = found.get(name)
                    if marker is None:
                        continue  # not built: the next reader builds them whole
                    villages = keeper.villages(kinds)
                    townships = set(kinds.get("townships", ())) if keeper.townships else set()
                    if villages or townships:
                        _lock(using, [keeper.lock_id], shared=True)
                        _lock(using, list(villages))
                        if keeper.townships:
                            keeper.refresh(villages, marker[0], townships=townships)
                        else:
                            keeper.refresh(villages, marker[0])
    finally:
        s.flushing = False
        s.clear()


def ready(names: Iterable[str], day: datetime.date, using: str = DEFAULT_DB_ALIAS) -> None:
    """Make the figures of the keepers ``names`` whole for ``day`` before they are read: this transaction's writes
    flushed, and any keeper not built, invalidated, or built for another day or other settings rebuilt
    (1 query while they are whole)."""
    names = list(names)
    flush(using)
    s = state(using)
    memo = connections[using].in_atomic_block
    names = [n for n in names if not (memo and s.whole.get(n) == (day, KEEPERS[n].settings()))]
    if not names:
        return
    found = markers(names, using)
    stale = [KEEPERS[n] for n in names if not _whole(KEEPERS[n], found.get(n), day)]
    for keeper in stale:
        rebuild(keeper.name, day, using=using)
    if memo:
        s.whole.update({n: (day, KEEPERS[n].settings()) for n in names})


def rebuild(name: str, day: datetime.date, using: str = DEFAULT_DB_ALIAS, *, force: bool = False) -> bool:
    """Rebuild ``name``'s figures for ``day`` unless another process just did (``force``: whatever the marker says).
    Returns whether it rebuilt."""
    keeper = KEEPERS[name]
    s = state(using)
    with transaction.atomic(using=using):
        _lock(using, [keeper.lock_id])
        if not force and _whole(keeper, markers([name], using).get(name), day):
            return False
        # A rebuild may run inside a flush (a keeper's refresh reading another keeper's figures): it leaves the flag as
        # it found it.
        flushing, s.flushing = s.flushing, True
        try:
            keeper.rebuild(day)
            _mark(keeper, day, using)
            # Rebuilt from everything this transaction sees: what its earlier writes left pending for this keeper (an
            # invalidation included, which would otherwise drop the new marker at commit) is done.
            s.invalid.discard(name)
            s.pending.pop(name, None)
        finally:
            s.flushing = flushing
    log.info("summaries: rebuilt %s for %s", name, day)
    return True


def verify(day: datetime.date, names: Iterable[str] | None = None) -> list[str]:
    """The differences between the stored figures and a fresh computation from the base tables, as lines (none when
    they agree), after making them whole."""
    names = list(names or KEEPERS)
    ready(names, day)
    problems = []
    for name in names:
        problems += [f"{name}: {line}" for line in KEEPERS[name].verify(day)]
    return problems


def insert_select(model, columns: dict, queryset) -> None:
    """``INSERT INTO <model's table> (<columns>) SELECT <aliases> FROM (<queryset>)``: aggregate rows written by the
    database itself, never loaded into Python (``columns``: the table's column → the queryset's alias)."""
    connection = connections[queryset.db]
    sql, params = queryset.query.sql_with_params()
    quote = connection.ops.quote_name
    names = ", ".join(quote(c) for c in columns)
    aliases = ", ".join(f"s.{quote(a)}" for a in columns.values())
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {quote(model._meta.db_table)} ({names}) SELECT {aliases} FROM ({sql}) AS s", params
        )


def _village_model(model):
    """The village model, through the ``village`` field of a figures model (this module sits below the apps)."""
    return model._meta.get_field("village").related_model


def townships_of(model, villages) -> set:
    """The townships of these villages (1 query; none for no village); ``model``: a figures model with a ``village``."""
    if not villages:
        return set()
    return set(_village_model(model).objects.filter(pk__in=villages).values_list("township_id", flat=True))


def store_townships(model, keys: tuple[str, ...], sums: tuple[str, ...], townships) -> None:
    """Redo the township rows of ``model`` (``village`` empty, ``township`` set) for ``townships`` (every township if
    None) from their villages' rows: each township's rows add up its villages' ``sums`` by year and ``keys``, inside
    the database, under the townships' locks (:func:`lock_townships`): a lock, a delete, an insert."""
    if townships is not None:
        if not townships:
            return
        lock_townships(townships)
    from django.db.models import F, Sum

    old = model.objects.filter(village__isnull=True)
    rows = model.objects.filter(village__isnull=False)
    if townships is not None:
        old = old.filter(township__in=townships)
        rows = rows.filter(village__township__in=townships)
    old.delete()
    added = (
        rows.order_by()
        .values(t=F("village__township"), y=F("year"), **{f"k_{k}": F(k) for k in keys})
        .annotate(**{f"s_{f}": Sum(f) for f in sums})
    )
    columns = {"township_id": "t", "year": "y", **{k: f"k_{k}" for k in keys}, **{f: f"s_{f}" for f in sums}}
    insert_select(model, columns, added)


def township_totals(model, fresh: dict) -> dict:
    """Fresh village figures of ``model`` (``{(village, …): values}``, values a dict or a tuple) added up by the
    villages' current townships, keyed ``("乡镇", township, …)``: what the township rows must hold (for verify)."""
    township_of = dict(_village_model(model).objects.values_list("pk", "township_id"))
    added: dict = {}
    for key, values in fresh.items():
        names = list(values) if isinstance(values, dict) else None
        values = list(values.values()) if names is not None else list(values)
        target = ("乡镇", township_of.get(key[0]), *key[1:])
        found = added.get(target)
        if found is None:
            added[target] = (names, values)
        else:
            added[target] = (
                names,
                [
                    None if a is None and b is None else (a or 0) + (b or 0)
                    for a, b in zip(found[1], values, strict=True)
                ],
            )
    return {k: dict(zip(names, v, strict=True)) if names is not None else tuple(v) for k, (names, v) in added.items()}


def describe_key(key) -> str:
    """A village's or township's figures key in words, for the lines of verify: 村 12 2017 年 …, 乡镇 511902100 …"""
    where = f"乡镇 {key[1]}" if key[0] == "乡镇" else f"村 {key[0]}"
    rest = key[2:] if key[0] == "乡镇" else key[1:]
    if not rest:
        return where
    return f"{where} {rest[0]} 年" + (f" {'/'.join(str(k) for k in rest[1:] if k)}" if len(rest) > 1 else "")


def diff(stored: dict, fresh: dict, describe: Callable[[object], str]) -> list[str]:
    """Lines naming each key whose stored figures differ from the fresh ones (a helper of the keepers' verify)."""
    lines = []
    for key in sorted(set(stored) | set(fresh), key=str):
        a, b = stored.get(key), fresh.get(key)
        if a != b:
            lines.append(f"{describe(key)}：存储 {a}，应为 {b}")
    return lines
