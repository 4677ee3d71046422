"""Backups: ``make backup`` / ``bin/backup`` (pg_dump -Fc) and ``make restore FILE=…`` / ``bin/restore``
(pg_restore --clean --if-exists -j 2). A district's data backed up and restored into a fresh database has the
same plan rows and money, village by village; restoring again over changed data brings the backup back.

The round trip needs PostgreSQL (pg_dump, pg_restore): on SQLite it is skipped; CI's PostgreSQL pass runs it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection

from tests import factories

ROOT = Path(__file__).resolve().parent.parent

# Per village: plan rows, their planned and invested funds, the fund-source lines, and the registry.
FIGURES = """
SELECT v.code,
       (SELECT COUNT(*) FROM tasks_task t JOIN tasks_plan p ON p.id = t.plan_id WHERE p.village_id = v.id),
       (SELECT COALESCE(SUM(t.planned_funds), 0) FROM tasks_task t JOIN tasks_plan p ON p.id = t.plan_id
         WHERE p.village_id = v.id),
       (SELECT COALESCE(SUM(t.invested_funds), 0) FROM tasks_task t JOIN tasks_plan p ON p.id = t.plan_id
         WHERE p.village_id = v.id),
       (SELECT COALESCE(SUM(f.amount), 0) FROM tasks_fundline f JOIN tasks_task t ON t.id = f.task_id
         JOIN tasks_plan p ON p.id = t.plan_id WHERE p.village_id = v.id),
       (SELECT COUNT(*) FROM households_household h WHERE h.village_id = v.id),
       (SELECT COUNT(*) FROM households_member m JOIN households_household h ON h.id = m.household_id
         WHERE h.village_id = v.id)
FROM villages_village v
ORDER BY v.code
"""


def run(args: list[str], database_url: str | None = None, **env: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, **env}
    if database_url is not None:
        environment["DATABASE_URL"] = database_url
    return subprocess.run(args, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=300)


def url_of(settings_dict: dict, name: str) -> str:
    user = quote(settings_dict.get("USER") or "", safe="")
    password = quote(settings_dict.get("PASSWORD") or "", safe="")
    credentials = f"{user}:{password}@" if password else f"{user}@" if user else ""
    host = settings_dict.get("HOST") or "localhost"
    port = settings_dict.get("PORT") or 5432
    return f"postgres://{credentials}{host}:{port}/{quote(name, safe='')}"


def figures(database_url: str) -> list[tuple]:
    import psycopg2

    with psycopg2.connect(database_url) as conn, conn.cursor() as cursor:
        cursor.execute(FIGURES)
        rows = cursor.fetchall()
    conn.close()
    return rows


def maintenance(sql: str) -> None:
    """CREATE or DROP DATABASE, on the server of the test database (outside any transaction)."""
    import psycopg2

    conn = psycopg2.connect(url_of(connection.settings_dict, "postgres"))
    try:
        conn.autocommit = True
        with conn.cursor() as cursor:
            cursor.execute(sql)
    finally:
        conn.close()


@pytest.fixture
def postgres():
    if connection.vendor != "postgresql":
        pytest.skip(
            "backup and restore use PostgreSQL's pg_dump and pg_restore: this test runs on PostgreSQL only "
            "(CI's PostgreSQL pass; locally DATABASE_URL=postgres://…)"
        )


@pytest.fixture
def fresh_database(postgres):
    """An empty database beside the test database, dropped afterwards."""
    name = f"{connection.settings_dict['NAME']}_restored"
    maintenance(f'DROP DATABASE IF EXISTS "{name}"')
    maintenance(f'CREATE DATABASE "{name}"')
    yield url_of(connection.settings_dict, name)
    maintenance(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.django_db(transaction=True)  # pg_dump runs in another process: the rows must be committed
def test_a_restored_backup_has_the_same_rows_and_money_in_every_village(area, fresh_database, tmp_path):
    for township in (area.township_a, area.township_b):
        for village in factories.populate(township, villages=3, households=2, village_tasks=3, household_tasks=2):
            for task in village.plans.get().tasks.all()[:2]:
                factories.fund_line(task, "central", Decimal("12.3456"))
                factories.fund_line(task, "social", Decimal("0.0001"))
    source = url_of(connection.settings_dict, connection.settings_dict["NAME"])
    before = figures(source)
    assert len(before) == 9 and sum(row[1] for row in before) == 6 * (3 + 2 * 2)  # six villages with a plan

    made = run([sys.executable, "bin/backup"], source, BACKUP_DIR=str(tmp_path))
    assert made.returncode == 0, made.stderr
    dump = Path(made.stdout.strip())
    assert dump.parent == tmp_path and dump.suffix == ".dump" and dump.stat().st_size > 0
    assert not list(tmp_path.glob("*.partial"))

    restored = run([sys.executable, "bin/restore", str(dump)], fresh_database)
    assert restored.returncode == 0, restored.stderr
    assert figures(fresh_database) == before

    # Restoring over a database that has changed since puts the backup's data back.
    import psycopg2

    with psycopg2.connect(fresh_database) as conn, conn.cursor() as cursor:
        cursor.execute("DELETE FROM tasks_fundline WHERE amount > 1")
        cursor.execute("UPDATE tasks_task SET planned_funds = planned_funds + 1, invested_funds = 0")
    conn.close()
    assert figures(fresh_database) != before
    again = run([sys.executable, "bin/restore", str(dump)], fresh_database)
    assert again.returncode == 0, again.stderr
    assert figures(fresh_database) == before


def test_a_restore_without_a_file_is_refused():
    for command in (["make", "-s", "restore"], [sys.executable, "bin/restore"]):
        result = run(command, "postgres://nobody@127.0.0.1:1/none")
        assert result.returncode != 0
        assert "FILE" in result.stderr or "which backup" in result.stderr
    missing = run([sys.executable, "bin/restore", "var/backups/no-such.dump"], "postgres://nobody@127.0.0.1:1/none")
    assert missing.returncode == 2 and "no such backup file" in missing.stderr


def test_a_backup_of_an_sqlite_database_is_refused_with_a_reason(tmp_path):
    result = run([sys.executable, "bin/backup"], f"sqlite:///{tmp_path / 'db.sqlite3'}", BACKUP_DIR=str(tmp_path))
    assert result.returncode != 0 and "PostgreSQL" in result.stderr
    assert not list(tmp_path.glob("*.dump"))
