"""A ``replica`` database alias for tests, as ``DATABASE_REPLICA_URL`` would configure it (bazhou/settings.py).

The suite runs without a replica. A module that needs one adds the alias for the module (:func:`replica_alias`,
before its tests' database set-up, so they can name it in ``django_db(databases=...)``) and the router and the
middleware per test (:func:`route_reads`). ``tests/test_replica_routing.py`` points the alias at the test database
itself (a mirror, as ``TEST: {"MIRROR": "default"}`` does in CI), ``tests/test_replica.py`` at a real standby.
"""

from __future__ import annotations

import copy
from contextlib import contextmanager

from django.db import DEFAULT_DB_ALIAS, connections

from bazhou.core import replica

ROUTER = "bazhou.core.routers.ReplicaRouter"
MIDDLEWARE = "bazhou.core.replica.ReadYourWritesMiddleware"
DATABASES = [DEFAULT_DB_ALIAS, replica.REPLICA]


@contextmanager
def replica_alias(**overrides):
    """The alias ``replica``: the test database's settings with ``overrides``, as a test mirror of it."""
    primary = connections.settings[DEFAULT_DB_ALIAS]
    connections.settings[replica.REPLICA] = {
        **copy.deepcopy(primary),
        "ATOMIC_REQUESTS": False,
        "TEST": {**primary["TEST"], "MIRROR": DEFAULT_DB_ALIAS},
        **overrides,
    }
    replica.reset_health()
    try:
        yield
    finally:
        connections[replica.REPLICA].close()
        del connections[replica.REPLICA]
        del connections.settings[replica.REPLICA]
        replica.reset_health()


def route_reads(settings) -> None:
    """The router and the middleware, as settings install them with a replica (for one test: ``settings``)."""
    settings.DATABASE_ROUTERS = [ROUTER]
    middleware = list(settings.MIDDLEWARE)
    middleware.insert(middleware.index("bazhou.core.nostore.NoStoreMiddleware"), MIDDLEWARE)
    settings.MIDDLEWARE = middleware
    replica.reset_health()


@contextmanager
def unreachable():
    """The replica stops answering (its address points nowhere) until the block ends."""
    connection = connections[replica.REPLICA]
    connection.close()
    # SQLite never closes an in-memory database (it would be lost): put its open connection aside instead.
    held, connection.connection = connection.connection, None
    saved = dict(connection.settings_dict)
    if connection.vendor == "sqlite":
        connection.settings_dict["NAME"] = "/nonexistent/bazhou-replica/db.sqlite3"
    else:
        connection.settings_dict.update(HOST="127.0.0.1", PORT="1")
    try:
        yield
    finally:
        connection.settings_dict.update(saved)
        connection.connection = held
        replica.reset_health()
