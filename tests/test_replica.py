"""Reads from a real PostgreSQL streaming replica (docs/replica.md).

The test starts a second PostgreSQL cluster as a hot standby of the test server (``pg_basebackup -R -X stream``),
on a free port, in a temporary folder; points the ``replica`` alias at the test database there (the primary's
test database is copied physically with the rest of the cluster); pauses the standby's replay so that it is
visibly behind; and shows that an edit is seen by its author at once (the primary) while another user's page still
shows the old value (the replica), until replay resumes. The cluster is stopped and its folder removed at the end.

When it runs: the tests run on PostgreSQL (``DATABASE_URL``) on this machine (127.0.0.1 or localhost), and
``pg_basebackup`` and ``pg_ctl`` of the server's major version are under ``/usr/lib/postgresql/<major>/bin``
(Debian's layout; CI has them). The server must accept replication connections from 127.0.0.1 for its user
(``host replication postgres 127.0.0.1/32 trust`` in pg_hba.conf; .ci/run adds it). Run as root, the cluster is
created and started as the ``postgres`` system user (PostgreSQL refuses to run as root).
``BAZHOU_REPLICA_TEST=1`` (CI) makes a missing prerequisite a failure instead of a skip when the tests run on
PostgreSQL (on SQLite the module is always skipped); ``BAZHOU_REPLICA_TEST=0`` skips the module.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import DEFAULT_DB_ALIAS, connections, router
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from bazhou.core import freshness, jobs, replica
from households.models import Household
from tasks.models import Task
from tests import factories
from tests.replica import DATABASES, replica_alias, route_reads

WANTED = os.environ.get("BAZHOU_REPLICA_TEST", "")
ON_POSTGRESQL = django_settings.DATABASES[DEFAULT_DB_ALIAS]["ENGINE"] == "django.db.backends.postgresql"

pytestmark = [
    pytest.mark.skipif(WANTED == "0", reason="BAZHOU_REPLICA_TEST=0"),
    pytest.mark.skipif(not ON_POSTGRESQL, reason="a streaming replica needs the tests on PostgreSQL"),
    pytest.mark.django_db(transaction=True, databases=DATABASES),
    pytest.mark.usefixtures("pinned_today"),
]

WAIT_SECONDS = 60


def unavailable(reason: str):
    if WANTED == "1":
        pytest.fail(f"BAZHOU_REPLICA_TEST=1 but {reason}")
    pytest.skip(reason)


def as_cluster_owner(command: list[str]) -> list[str]:
    """PostgreSQL will not run as root: as root, run the command as the postgres system user."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(as_cluster_owner(command), capture_output=True, text=True, timeout=600, **kwargs)


@pytest.fixture(scope="module")
def standby(django_db_setup, django_db_blocker):
    """A hot standby of the test server on a free port; stopped and removed when the module ends."""
    primary = connections.settings[DEFAULT_DB_ALIAS]
    if primary["ENGINE"] != "django.db.backends.postgresql":
        pytest.skip("a streaming replica needs the tests on PostgreSQL")
    host, port, user = primary["HOST"] or "127.0.0.1", str(primary["PORT"] or 5432), primary["USER"] or "postgres"
    if host not in ("127.0.0.1", "localhost"):
        unavailable(f"the PostgreSQL server ({host}) is not on this machine")
    with django_db_blocker.unblock(), connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('server_version_num')::int / 10000, current_setting('max_connections'), "
            "current_setting('max_worker_processes'), current_setting('max_wal_senders'), "
            "current_setting('max_prepared_transactions'), current_setting('max_locks_per_transaction')"
        )
        major, *limits = cursor.fetchone()
    bindir = Path(f"/usr/lib/postgresql/{major}/bin")
    if not all((bindir / tool).exists() for tool in ("pg_basebackup", "pg_ctl")):
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_basebackup"))
        unavailable(f"pg_basebackup and pg_ctl of PostgreSQL {major} not found under {bindir} (found: {found})")
    if os.geteuid() == 0 and not shutil.which("runuser"):
        unavailable("running as root without runuser to start PostgreSQL as the postgres user")

    folder = Path(tempfile.mkdtemp(prefix="bazhou-replica-"))
    data = folder / "data"
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        os.chown(folder, owner.pw_uid, owner.pw_gid)
    folder.chmod(0o700)
    standby_port = free_port()
    started = False
    try:
        backup = run(
            [str(bindir / "pg_basebackup"), "-h", host, "-p", port, "-U", user, "-D", str(data)]
            + ["-R", "-X", "stream", "-c", "fast", "--no-sync", "-w"]
        )
        if backup.returncode:
            unavailable(f"pg_basebackup failed (pg_hba.conf needs a replication line?): {backup.stderr.strip()}")
        names = ("max_connections", "max_worker_processes", "max_wal_senders", "max_prepared_transactions")
        config = [f"{name} = {value}" for name, value in zip(names, limits, strict=False)]
        config += [
            f"max_locks_per_transaction = {limits[-1]}",
            f"port = {standby_port}",
            "listen_addresses = '127.0.0.1'",
            f"unix_socket_directories = '{folder}'",
            "hot_standby = on",
            "fsync = off",
            "shared_buffers = 32MB",
            "max_standby_streaming_delay = -1",  # a paused or slow replay never cancels the test's reads
        ]
        # Debian keeps postgresql.conf and pg_hba.conf outside the data folder, so the copy has none of its own.
        files = {
            "postgresql.conf": "\n".join(config) + "\n",
            "pg_hba.conf": "local all all trust\nhost all all 127.0.0.1/32 trust\n",
            "pg_ident.conf": "",
        }
        for name, text in files.items():
            run(["sh", "-c", f"cat > {data / name}"], input=text)
        start = run([str(bindir / "pg_ctl"), "-D", str(data), "-l", str(folder / "log"), "-w", "-t", "120", "start"])
        started = True
        if start.returncode:
            log = (folder / "log").read_text() if (folder / "log").exists() else ""
            pytest.fail(f"the standby did not start: {start.stderr.strip()} {log[-2000:]}")
        with replica_alias(HOST="127.0.0.1", PORT=str(standby_port)):
            with django_db_blocker.unblock():
                wait_until(lambda: replica_answers(), "the standby accepts connections")
            yield standby_port
    finally:
        if started:
            run([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "-t", "60", "stop"])
        shutil.rmtree(folder, ignore_errors=True)


def wait_until(condition, what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"waited {WAIT_SECONDS} s for: {what}")
        time.sleep(0.1)


def replica_answers() -> bool:
    try:
        connections[replica.REPLICA].ensure_connection()
    except Exception:  # noqa: BLE001  (still starting)
        connections[replica.REPLICA].close()
        return False
    return True


def on_replica(sql: str, params=()):
    with connections[replica.REPLICA].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]


def replayed_everything() -> None:
    """Wait until the standby has replayed everything the primary has written so far."""
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_lsn()::text")
        position = cursor.fetchone()[0]
    wait_until(lambda: on_replica("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [position]), "replay")


@contextmanager
def replay_paused():
    """The standby stops applying the primary's changes (it still receives them) until the block ends."""
    on_replica("SELECT pg_wal_replay_pause()::text")
    wait_until(lambda: on_replica("SELECT pg_get_wal_replay_pause_state()") == "paused", "replay paused")
    try:
        yield
    finally:
        on_replica("SELECT pg_wal_replay_resume()::text")


@pytest.fixture
def routed(standby, settings):
    route_reads(settings)
    assert on_replica("SELECT pg_is_in_recovery()")  # a real standby, not the primary again


@pytest.fixture
def rows(area):
    plan = factories.plan(area.village_a)
    return [factories.task(plan, item="通村硬化路")]


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def edit(client, task, item):
    from tests.test_task_pages import full_data  # noqa: PLC0415  (the plan-row form's fields, kept in one place)

    return client.post(reverse("tasks:task_edit", args=[task.pk]), full_data(task, item=item))


def test_an_edit_shows_to_its_author_at_once_while_another_user_reads_the_lagging_replica(personas, rows, routed):
    task = rows[0]
    author, other = signed_in(personas.village_cadre), signed_in(personas.district_admin)
    plan_page = reverse("tasks:plan", args=[task.plan_id])
    replayed_everything()  # the standby has the rows and both sessions

    with replay_paused():
        response = edit(author, task, "通村硬化路（二期）")
        assert response.status_code == 302
        assert Task.objects.get(pk=task.pk).item == "通村硬化路（二期）"  # on the primary
        assert on_replica("SELECT item FROM tasks_task WHERE id = %s", [task.pk]) == "通村硬化路"  # not yet here

        with CaptureQueriesContext(connections[replica.REPLICA]) as at_replica:
            mine = author.get(response.url)  # the redirect after the edit: the pin cookie reads the primary
        assert "通村硬化路（二期）" in mine.content.decode()
        assert at_replica.captured_queries == []

        with CaptureQueriesContext(connections[replica.REPLICA]) as at_replica:
            theirs = other.get(plan_page)
        page = theirs.content.decode()
        assert theirs.status_code == 200
        assert "通村硬化路" in page and "通村硬化路（二期）" not in page  # the replica, behind
        assert any("tasks_task" in q["sql"] for q in at_replica.captured_queries)

    replayed_everything()
    assert "通村硬化路（二期）" in other.get(plan_page).content.decode()


def test_stored_figures_are_not_computed_on_a_replica_behind_their_versions(personas, rows, routed):
    other = signed_in(personas.district_admin)
    other.get(reverse("dashboard"))  # the first load may build what the dashboard keeps (a write: it pins)
    other.cookies.pop(replica.COOKIE, None)
    replayed_everything()

    with replay_paused():
        factories.task(rows[0].plan, item="新增的路")  # a write the replica has not applied: versions move on
        with CaptureQueriesContext(connections[replica.REPLICA]) as at_replica:
            with CaptureQueriesContext(connections[DEFAULT_DB_ALIAS]) as at_primary:
                assert other.get(reverse("dashboard")).status_code == 200
            read_on_primary = " ".join(q["sql"] for q in at_primary.captured_queries)
        read_on_replica = " ".join(q["sql"] for q in at_replica.captured_queries)

    # The replica was asked how far it had replayed and, being behind the versions, read nothing of the plan:
    # the figures stored under the new versions were computed on the primary.
    assert "pg_last_wal_replay_lsn" in read_on_replica
    assert 'FROM "tasks_' not in read_on_replica and 'FROM "tasks_' in read_on_primary
    assert freshness.current()["tasks"] > 0


@pytest.fixture
def probe_job():
    """A kind of job that notes where it reads before it writes."""
    seen = []

    @jobs.register("test-replica-standby-probe")
    def run(job, progress):
        seen.append(router.db_for_read(Household))
        return jobs.Outcome()

    yield seen
    jobs.KINDS.pop("test-replica-standby-probe")


def test_a_job_reads_from_the_replica_only_once_it_has_the_jobs_data(personas, area, routed, probe_job):
    from tests.jobs import run_jobs  # noqa: PLC0415

    replayed_everything()
    jobs.start(personas.district_admin, "test-replica-standby-probe", {"n": 1}, title="探测")
    replayed_everything()
    assert run_jobs() == 1
    with replay_paused():  # the job and the data it is about are not on the replica yet
        jobs.start(personas.district_admin, "test-replica-standby-probe", {"n": 2}, title="探测")
        assert run_jobs() == 1
    assert probe_job == [replica.REPLICA, DEFAULT_DB_ALIAS]
