"""The data version (bazhou/core/freshness.py): every write to the product's data moves it on, nothing else does."""

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection, transaction

from bazhou.core import freshness
from bazhou.core.models import AnnualGoal, CachedFigures
from tasks.models import Task
from tests import factories


def moved(action) -> set[str]:
    """The kinds of data whose version ``action`` moved on."""
    before = freshness.current()
    action()
    after = freshness.current()
    assert all(after[kind] >= before[kind] for kind in before)  # Versions only grow.
    return {kind for kind in before if after[kind] != before[kind]}


@pytest.mark.parametrize(
    "sql, kind",
    [
        ('INSERT INTO "tasks_task" ("plan_id") VALUES (%s)', "tasks"),
        ('  update "households_member" SET "name" = %s', "households"),
        ('DELETE FROM "supervision_finding" WHERE "id" = %s', "supervision"),
        ('UPDATE "villages_village" SET "status" = %s', "villages"),
        ('UPDATE "bazhou_annualgoal" SET "target" = %s', "goals"),
        ('INSERT INTO "tasks_historicaltask" ("id") SELECT 1', "tasks"),
        ('UPDATE "django_session" SET "session_data" = %s', None),
        ('UPDATE "bazhou_user" SET "last_login" = %s', None),
        ('INSERT INTO "bazhou_cachedfigures" ("key") VALUES (%s)', None),
        ('INSERT INTO "bazhou_exportlog" ("kind") VALUES (%s)', None),
        ('INSERT INTO "tasks_importbatch" ("kind") VALUES (%s)', None),
        ('SELECT * FROM "tasks_task" WHERE "note" = \'UPDATE tasks_task\'', None),
    ],
)
def test_only_writes_to_the_products_data_count_each_for_its_kind(sql, kind):
    assert freshness.kind_written(sql) == kind


def test_every_kind_of_write_moves_the_version_on(area):
    task = factories.task(factories.plan(area.village_a))
    assert moved(lambda: Task.objects.filter(pk=task.pk).update(item="硬化道路")) == {"tasks"}
    assert moved(lambda: factories.task(factories.plan(area.village_a, year=2018))) == {"tasks"}
    assert moved(lambda: factories.household(area.village_a)) == {"households"}
    goal = AnnualGoal.objects.create(district=area.district, year=2017, name="道路", target=10, unit="公里")
    assert moved(goal.delete) == {"goals"}

    def raw():
        with connection.cursor() as cursor:
            cursor.execute("UPDATE tasks_task SET item = %s WHERE id = %s", ["修路", task.pk])

    assert moved(raw) == {"tasks"}


def test_writes_to_other_tables_leave_it(area, personas):
    user = personas.district_admin
    assert not moved(lambda: get_user_model().objects.filter(pk=user.pk).update(first_name="平"))
    assert not moved(lambda: CachedFigures.objects.create(key="k", version=1, day="2017-09-15", data=b""))
    assert not moved(lambda: list(Task.objects.all()))


def test_one_bump_per_transaction_until_the_version_is_read_again(area, django_assert_num_queries):
    plan = factories.plan(area.village_a)
    task = factories.task(plan)
    freshness.current()
    with transaction.atomic():
        # The first write bumps (1 more query); the next ones do not, since nobody read the version meanwhile.
        with django_assert_num_queries(2):
            Task.objects.filter(pk=task.pk).update(item="一")
        with django_assert_num_queries(1):
            Task.objects.filter(pk=task.pk).update(item="二")
        before = freshness.current()["tasks"]
        # Somebody read it (and may store figures under it): the next write bumps again.
        with django_assert_num_queries(2):
            Task.objects.filter(pk=task.pk).update(item="三")
        assert freshness.current()["tasks"] > before


@pytest.mark.django_db(transaction=True)
def test_a_committed_write_moves_the_version_past_any_reader_in_between(area):
    task = factories.task(factories.plan(area.village_a))
    with transaction.atomic():
        Task.objects.filter(pk=task.pk).update(item="一")
        during = freshness.current()["tasks"]
    after = freshness.current()["tasks"]
    if connection.vendor == "postgresql":
        # A reader in another connection saw ``during`` before the commit and may have stored the old figures
        # under it; the bump after the commit moves the version past it.
        assert after > during
    else:
        # SQLite: the version row is updated inside the writer's transaction, visible with the data.
        assert after == during
    assert moved(lambda: Task.objects.filter(pk=task.pk).update(item="二"))  # Autocommit, no transaction.


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_transaction_does_not_stop_the_next_one_bumping(area):
    task = factories.task(factories.plan(area.village_a))
    start = freshness.current()["tasks"]
    with pytest.raises(RuntimeError), transaction.atomic():
        Task.objects.filter(pk=task.pk).update(item="一")
        raise RuntimeError
    with transaction.atomic():
        Task.objects.filter(pk=task.pk).update(item="二")
    assert freshness.current()["tasks"] > start


def test_the_command_moves_the_version_on_after_writes_outside_django(db):

    assert moved(lambda: call_command("bump_data_version", stdout=io.StringIO())) == set(freshness.KINDS)
