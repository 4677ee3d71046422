"""The database router used when a replica is configured (``DATABASE_REPLICA_URL``; docs/replica.md).

Writes always go to the primary (``default``); a read goes to the replica when the request or job it belongs to
may read from it (``bazhou.core.replica``: a safe request that has not written, outside a transaction of its
own, while the replica answers), else to the primary. Both aliases hold the same database, so objects from
either may be related; tables are created and migrated on the primary only (the replica copies them).
"""

from __future__ import annotations

from django.db import DEFAULT_DB_ALIAS

from bazhou.core import replica

ALIASES = frozenset({DEFAULT_DB_ALIAS, replica.REPLICA})


class ReplicaRouter:
    def db_for_read(self, model, **hints):
        if model._meta.label_lower in replica.PRIMARY_ONLY:
            return DEFAULT_DB_ALIAS
        return replica.REPLICA if replica.reads_from_replica() else DEFAULT_DB_ALIAS

    def db_for_write(self, model, **hints):
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1, obj2, **hints):
        if obj1._state.db in ALIASES and obj2._state.db in ALIASES:
            return True
        return None

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == DEFAULT_DB_ALIAS
