"""Which database each kind of request reads from when a replica is configured (docs/replica.md).

The replica here is the test database itself seen through a second connection (a mirror, as in CI's tests), so
committed data is on both and every query can be attributed to the connection it ran on. The tests are
transactional: a second connection sees only committed rows, as a real replica does. tests/test_replica.py proves
the same against a real streaming standby.
"""

import logging
import re
import runpy
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import DEFAULT_DB_ALIAS, connections, router, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from bazhou.core import freshness, jobs, replica
from bazhou.core.models import Job
from households.models import Household
from tasks.models import Task
from tests import factories
from tests.replica import DATABASES, replica_alias, route_reads, unreachable

pytestmark = [
    pytest.mark.django_db(transaction=True, databases=DATABASES),
    pytest.mark.usefixtures("pinned_today"),
]


@pytest.fixture(scope="module", autouse=True)
def replica_settings(django_db_setup):
    """The alias for the whole module, set up before each test's database (the test names it)."""
    with replica_alias():
        yield


@pytest.fixture
def mirrored(settings):
    route_reads(settings)
    return connections[replica.REPLICA]


@pytest.fixture
def rows(area):
    plan = factories.plan(area.village_a)
    return [factories.task(plan, item=f"通村路{i}") for i in range(3)]


class Queries:
    """The SQL each database ran while the block ran."""

    def __enter__(self):
        self.primary = CaptureQueriesContext(connections[DEFAULT_DB_ALIAS]).__enter__()
        self.replica = CaptureQueriesContext(connections[replica.REPLICA]).__enter__()
        return self

    def __exit__(self, *exc):
        self.replica.__exit__(*exc)
        self.primary.__exit__(*exc)

    @staticmethod
    def _tables(captured):
        return {t for q in captured.captured_queries for t in re.findall(r'FROM "(\w+)"', q["sql"])}

    def on_primary(self, table):
        return table in self._tables(self.primary)

    def on_replica(self, table):
        return table in self._tables(self.replica)


def settings_with(monkeypatch, **environ):
    """The settings module's values under ``environ`` (read afresh: settings are read once at start-up)."""
    monkeypatch.delenv("DATABASE_REPLICA_URL", raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(Path(django_settings.BASE_DIR) / "bazhou" / "settings.py"))


def test_without_a_replica_url_there_is_one_database_no_router_and_no_middleware(monkeypatch):
    values = settings_with(monkeypatch)
    assert list(values["DATABASES"]) == ["default"]
    assert "DATABASE_ROUTERS" not in values
    assert "bazhou.core.replica.ReadYourWritesMiddleware" not in values["MIDDLEWARE"]


def test_a_replica_url_adds_a_mirrored_alias_the_router_and_the_middleware(monkeypatch):
    values = settings_with(monkeypatch, DATABASE_REPLICA_URL="postgres://reader@10.0.0.2:5432/bazhou")
    alias = values["DATABASES"]["replica"]
    assert (alias["HOST"], alias["PORT"], alias["NAME"], alias["USER"]) == ("10.0.0.2", 5432, "bazhou", "reader")
    assert alias["TEST"] == {"MIRROR": "default"} and alias["ATOMIC_REQUESTS"] is False
    assert alias["OPTIONS"]["connect_timeout"] == 3
    assert values["DATABASE_ROUTERS"] == ["bazhou.core.routers.ReplicaRouter"]
    middleware = values["MIDDLEWARE"]
    # Before the session and the user are read, after static files (they read nothing).
    where = middleware.index("bazhou.core.replica.ReadYourWritesMiddleware")
    assert middleware.index("whitenoise.middleware.WhiteNoiseMiddleware") < where
    assert where < middleware.index("django.contrib.sessions.middleware.SessionMiddleware")


def test_a_list_page_reads_from_the_replica_and_sets_no_cookie(client, personas, rows, mirrored):
    client.force_login(personas.township_a)
    with Queries() as queries:
        response = client.get(reverse("households:list"))
    assert response.status_code == 200
    assert queries.on_replica("households_household")
    assert not queries.on_primary("households_household")
    assert replica.COOKIE not in response.cookies


def test_the_dashboard_reads_and_recomputes_on_the_replica_and_storing_figures_pins_nobody(
    client, personas, rows, mirrored
):
    client.force_login(personas.district_admin)
    # The summary figures the writes keep, built on the primary first: a rebuild during a read of the in-memory
    # SQLite test database, shared with the mirrored replica connection, would wait on its table lock.
    factories.settle()
    client.get(reverse("dashboard"))  # the first load ever may build what the dashboard keeps (a write)
    client.cookies.pop(replica.COOKIE, None)
    freshness.bump("tasks")  # a plan-row edit elsewhere: the plan figures are computed again
    with Queries() as queries:
        response = client.get(reverse("dashboard"))
    assert response.status_code == 200
    assert queries.on_replica("tasks_plan")
    assert not queries.on_primary("tasks_plan")
    assert replica.COOKIE not in response.cookies  # the figures were stored on the primary: bookkeeping


def test_the_plan_page_of_another_user_reads_from_the_replica(client, personas, rows, mirrored):
    client.force_login(personas.district_admin)
    with Queries() as queries:
        response = client.get(reverse("tasks:plan", args=[rows[0].plan_id]))
    assert response.status_code == 200
    assert queries.on_replica("tasks_task") and not queries.on_primary("tasks_task")


def edit(client, task, item):
    from tests.test_task_pages import full_data  # noqa: PLC0415  (the plan-row form's fields, kept in one place)

    return client.post(reverse("tasks:task_edit", args=[task.pk]), full_data(task, item=item))


def test_an_edit_reads_and_writes_on_the_primary_and_the_editors_next_page_too(client, personas, rows, mirrored):
    client.force_login(personas.village_cadre)
    with Queries() as queries:
        response = edit(client, rows[0], "通村路（改）")
    assert response.status_code == 302
    assert queries.on_primary("tasks_task")
    assert queries.replica.captured_queries == []
    cookie = response.cookies[replica.COOKIE]
    assert cookie["max-age"] == 15 and cookie["httponly"]

    with Queries() as queries:
        page = client.get(response.url)  # the redirect, with the cookie
    assert "通村路（改）" in page.content.decode()
    assert queries.replica.captured_queries == []

    client.cookies.pop(replica.COOKIE)  # the cookie expired: back to the replica
    with Queries() as queries:
        client.get(response.url)
    assert queries.on_replica("tasks_task")


def test_a_post_that_fails_validation_reads_from_the_primary_and_sets_no_cookie(client, personas, rows, mirrored):
    client.force_login(personas.village_cadre)
    with Queries() as queries:
        response = edit(client, rows[0], "")
    assert response.status_code == 200
    assert "这个字段是必填项" in response.content.decode() or "必填" in response.content.decode()
    assert queries.replica.captured_queries == []
    assert replica.COOKIE not in response.cookies
    assert Task.objects.get(pk=rows[0].pk).item == "通村路0"


def test_the_pin_cookie_lasts_as_configured(client, personas, rows, mirrored, settings):
    settings.DATABASE_REPLICA_PIN_SECONDS = 30
    client.force_login(personas.village_cadre)
    assert edit(client, rows[0], "通村路（改）").cookies[replica.COOKIE]["max-age"] == 30


def test_reads_in_a_transaction_or_after_a_write_go_to_the_primary(area, mirrored):
    with replica.scope(replica=True) as reads:
        assert router.db_for_read(Household) == replica.REPLICA
        with transaction.atomic():
            assert router.db_for_read(Household) == DEFAULT_DB_ALIAS  # a service reads what it locks
        assert Household.objects.select_for_update().db == DEFAULT_DB_ALIAS
        assert router.db_for_read(Household) == replica.REPLICA
        assert router.db_for_read(Job) == DEFAULT_DB_ALIAS  # the job queue: always the primary
        Household.objects.filter(pk=area.household_a.pk).update(group="改")
        assert reads.wrote
        assert router.db_for_read(Household) == DEFAULT_DB_ALIAS
    assert router.db_for_read(Household) == DEFAULT_DB_ALIAS  # outside a request or job: the primary


def test_unsafe_methods_read_from_the_primary_from_the_start(mirrored):
    with replica.scope(replica=False) as reads:
        assert router.db_for_read(Household) == DEFAULT_DB_ALIAS
        assert not reads.wrote


@pytest.fixture
def probe_job():
    """A kind of job that notes where it reads before and after it writes."""
    seen = []

    @jobs.register("test-replica-probe")
    def run(job, progress):
        progress(1, 2, phase="读")
        seen.append(router.db_for_read(Household))
        Household.objects.filter(pk=job.params["household"]).update(group="后台改")
        seen.append(router.db_for_read(Household))
        return jobs.Outcome()

    yield seen
    jobs.KINDS.pop("test-replica-probe")


def test_a_job_reads_from_the_replica_until_it_writes(area, personas, mirrored, probe_job):
    from tests.jobs import run_jobs  # noqa: PLC0415

    job = jobs.start(personas.district_admin, "test-replica-probe", {"household": area.household_a.pk}, title="探测")
    assert run_jobs() == 1
    job.refresh_from_db()
    assert job.state == Job.State.DONE
    # Its claim and progress report (bookkeeping) did not pin it; its edit did.
    assert probe_job == [replica.REPLICA, DEFAULT_DB_ALIAS]


def test_an_unreachable_replica_sends_reads_to_the_primary_and_warns_once(
    client, personas, area, rows, mirrored, caplog
):
    client.force_login(personas.township_a)
    with unreachable(), caplog.at_level(logging.WARNING, logger="bazhou.core.replica"):
        with CaptureQueriesContext(connections[DEFAULT_DB_ALIAS]) as primary:
            first = client.get(reverse("households:list"))
        read_on_primary = Queries._tables(primary)
        second = client.get(reverse("villages:list"))
    assert first.status_code == second.status_code == 200
    assert area.household_a.number in first.content.decode()
    assert "households_household" in read_on_primary
    warnings = [r for r in caplog.records if r.name == "bazhou.core.replica"]
    assert len(warnings) == 1 and "replica unreachable" in warnings[0].getMessage()


def test_routing_allows_relations_and_migrates_only_the_primary(area):
    from bazhou.core.routers import ReplicaRouter  # noqa: PLC0415

    routes = ReplicaRouter()
    a, b = Household(), Household()
    a._state.db, b._state.db = DEFAULT_DB_ALIAS, replica.REPLICA
    assert routes.allow_relation(a, b)
    assert routes.allow_migrate(DEFAULT_DB_ALIAS, "tasks")
    assert not routes.allow_migrate(replica.REPLICA, "tasks")
    assert routes.db_for_write(Task) == DEFAULT_DB_ALIAS


def test_the_household_list_on_the_replica_makes_the_same_queries_for_six_times_the_households(
    client, personas, area, mirrored
):
    client.force_login(personas.township_a)

    def counts():
        with Queries() as queries:
            assert client.get(reverse("households:list")).status_code == 200
        return len(queries.primary.captured_queries), len(queries.replica.captured_queries)

    for _ in range(2):
        factories.household(area.village_a)
    small = counts()
    for _ in range(10):
        factories.household(area.village_a)
    assert counts() == small
    assert small[1] > small[0]  # the list's reads are on the replica; the primary answers the session and user
