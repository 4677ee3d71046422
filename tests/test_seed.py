"""The demo district: the figures of the 2017 plan hold exactly, the named rows are there, a rerun changes nothing."""

import datetime
import io
from decimal import Decimal

import pytest
from django.apps import apps
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command
from django.db import transaction
from django.db.models import Exists, F, OuterRef

from bazhou.core import idnumbers
from bazhou.core.models import Role, User
from bazhou.surfaces.demo import data
from households.models import Household, Member
from supervision.models import Finding, Rectification
from tasks.models import Task
from villages.models import AssistanceAssignment, Department, District, Township, Village

TODAY = data.DEMO_TODAY
OUR_APPS = ("villages", "households", "tasks", "supervision", "bazhou")


def row_counts():
    return {m._meta.label: m.objects.count() for a in OUR_APPS for m in apps.get_app_config(a).get_models()}


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker):
    """Seed once for the module inside a transaction that is rolled back afterwards."""
    with django_db_blocker.unblock(), transaction.atomic():
        out = io.StringIO()
        call_command("seed_demo", stdout=out)
        yield out.getvalue()
        transaction.set_rollback(True)


pytestmark = [pytest.mark.usefixtures("demo"), pytest.mark.slow]


@pytest.mark.django_db
def test_68_poor_villages_plan_to_exit_in_2017():
    assert Village.objects.planned_to_exit(2017).count() == 68
    assert Village.objects.count() >= 300


@pytest.mark.django_db
def test_members_of_2017_targeted_households_sum_to_33479():
    people = Member.objects.filter(is_active=True, household__planned_exit_year=2017).count()
    assert people == 33479
    # Besides the targets, other registered poor households: exited earlier, still poor, relapsed.
    others = set(Household.objects.exclude(planned_exit_year=2017).values_list("status", flat=True))
    assert {"exited", "poor", "relapsed"} <= others


@pytest.mark.django_db
def test_the_28_townships_of_2015_with_their_real_names_and_codes():
    townships = Township.objects.all()
    assert townships.count() == 28
    names = set(townships.values_list("name", flat=True))
    assert names == set(data.SUBDISTRICTS + data.TOWNS + data.TOWNSHIPS)
    assert Township.objects.get(name="白庙乡").code == "511902204"
    baimiao = set(Village.objects.filter(township__name="白庙乡").values_list("name", flat=True))
    assert set(data.BAIMIAO_VILLAGES) <= baimiao


@pytest.mark.django_db
def test_maoya_village_rows_are_exactly_those_of_the_plan():
    maoya = Village.objects.get(township__name="白庙乡", name="茅垭村")
    rows = Task.objects.filter(plan__village=maoya, plan__year=2017).village_rows().order_by("deadline", "id")
    got = [(t.item, t.quantity, t.unit, t.deadline, t.planned_funds, t.responsible_person) for t in rows]
    assert got == [
        ("通村硬化路", Decimal("3"), "公里", datetime.date(2017, 8, 31), Decimal("0"), ""),
        ("安全饮用水", None, "", datetime.date(2017, 8, 31), Decimal("0"), ""),
        ("村文化室", Decimal("1"), "处", datetime.date(2017, 8, 31), Decimal("0"), ""),
        ("道地巴药产业", Decimal("900"), "亩", datetime.date(2017, 9, 30), Decimal("170"), "吴玉峰"),
    ]
    herbs = rows.get(item="道地巴药产业")
    assert sum(line.amount for line in herbs.fund_lines.all()) == Decimal("170")
    assert maoya.is_poor and maoya.planned_exit_year == 2017


@pytest.mark.django_db
def test_the_first_secretaries_named_in_the_plan_are_in_post():
    current = AssistanceAssignment.objects.current(TODAY).filter(role="first_secretary")
    assert current.get(village__name="茅垭村", village__township__name="白庙乡").person == "秦和平"
    assert current.get(village__name="大寺村", village__township__name="寺岭乡").person == "岳明"
    # Every poor village has its five forces.
    in_post = AssistanceAssignment.objects.current(TODAY)
    poor_villages = Village.objects.filter(is_poor=True).count()
    for role in ("leader", "unit", "first_secretary", "work_team", "technician"):
        assert in_post.filter(role=role).values("village").distinct().count() == poor_villages


@pytest.mark.django_db
def test_every_poor_village_still_to_exit_and_every_targeted_household_has_plan_rows():
    live = Task.objects.live()
    villages_with_rows = set(live.village_rows().values_list("plan__village", flat=True))
    to_exit = set(Village.objects.filter(status=Village.Status.PLANNED).values_list("pk", flat=True))
    assert to_exit <= villages_with_rows
    targeted = set(Household.objects.filter(planned_exit_year=2017).values_list("pk", flat=True))
    assert targeted == set(live.household_rows().values_list("household", flat=True))
    # A household row belongs to its household's village.
    assert not live.household_rows().exclude(plan__village=F("household__village")).exists()


@pytest.mark.django_db
def test_against_the_demo_today_some_rows_are_done_some_in_progress_some_overdue():
    tasks = Task.objects.live()
    assert tasks.filter(status__in=Task.DONE_STATUSES).count() > 1000
    assert tasks.filter(status="in_progress").count() > 1000
    overdue = tasks.overdue(TODAY).count()
    assert 100 < overdue < tasks.count() / 4
    assert tasks.due_within(TODAY, 30).exists()
    assert tasks.stale(TODAY, 30).exists()
    # The cultural room of 茅垭村, due by the end of August, is late on 2017-09-15.
    assert tasks.overdue(TODAY).filter(plan__village__name="茅垭村", item="村文化室").exists()


@pytest.mark.django_db
def test_supervision_records_cover_the_whole_lifecycle():
    statuses = set(Rectification.objects.values_list("status", flat=True))
    assert statuses == {"pending", "in_progress", "awaiting_recheck", "closed"}
    assert Rectification.objects.overdue(TODAY).exists()
    assert Finding.objects.filter(task__item="村文化室", task__plan__village__name="茅垭村").exists()
    for r in Rectification.objects.filter(status="closed"):
        assert r.result and r.rechecked_by_id and r.rechecked_by_id != r.answered_by_id


@pytest.mark.django_db
def test_the_demo_data_passes_the_same_validation_as_user_input():
    for model in (Village, Household, Member, Task, Finding, Rectification):
        for obj in model.objects.order_by("?")[:150]:
            obj.full_clean()
    for id_number in Member.objects.values_list("id_number", flat=True):
        assert id_number[17] == idnumbers.check_char(id_number[:17])
    # Every household with active members has an active head.
    active = Member.objects.filter(household=OuterRef("pk"), is_active=True)
    headless = Household.objects.filter(Exists(active)).exclude(Exists(active.filter(relation=Member.Relation.HEAD)))
    assert not headless.exists()


@pytest.mark.django_db
def test_plan_rows_households_and_members_have_their_first_history_record():
    for model in (Task, Household, Member):
        assert model.history.filter(history_type="+").count() == model.objects.count()
    record = Task.history.filter(item="道地巴药产业", plan__village__name="茅垭村").get()
    assert record.history_user.username == "admin"
    assert record.history_change_reason


@pytest.mark.django_db
def test_every_demo_login_works_and_is_printed_with_its_role_and_phone(demo):
    lines = {line.split()[0]: line for line in demo.splitlines() if line.startswith("  ") and line.split()}
    for spec in data.DEMO_USERS:
        user = authenticate(username=spec.username, password=data.DEMO_PASSWORD)
        assert user is not None and user.role == spec.role
        assert user.phone == spec.phone and len(spec.phone) == 11
        assert str(Role(spec.role).label) in lines[spec.username]
        assert spec.phone in lines[spec.username]
        user.full_clean()  # role, area, department: the model's rules (and the database's user_area_matches_role)
    assert User.objects.get(username="maoya").village.name == "茅垭村"
    assert "共创建" in demo


@pytest.mark.django_db
def test_the_demo_has_a_user_for_every_role_of_the_supervision_chain(demo):
    assert {spec.role for spec in data.DEMO_USERS} == set(Role.values)
    leader = User.objects.get(username="pianqu")
    assert leader.role == Role.PATCH_LEADER and leader.district.name == "巴州区"
    assert sorted(leader.charge_townships.values_list("name", flat=True)) == sorted(["白庙乡", "寺岭乡", "关渡乡"])
    assert "挂包 白庙乡、寺岭乡、关渡乡" in demo
    assert {u.username: u.department.name for u in User.objects.filter(role=Role.DEPARTMENT)} == {
        "jiaotong": "区交通运输局",
        "shuiwu": "区水务局",
    }
    informant = User.objects.get(username="xinxiyuan")
    assert (informant.role, informant.village.name, informant.village.township.name) == (
        Role.INFORMANT,
        "茅垭村",
        "白庙乡",
    )
    assert User.objects.get(username="renda").role == Role.OVERSIGHT
    assert User.objects.get(username="jiwei").role == Role.DISCIPLINE


@pytest.mark.django_db
def test_plan_rows_of_a_sector_unit_point_to_its_department_and_the_others_keep_their_text(demo):
    district = District.objects.get(code=data.DISTRICT[0])
    departments = {d.name: d for d in Department.objects.filter(district=district)}
    assert {"区交通运输局", "区水务局", "区农业局", "区教育科技局"} <= set(departments)
    assert "巴州区农村商业银行" not in departments and not any(name.endswith("人民政府") for name in departments)
    assert all(d.phone for d in departments.values())
    assert departments["区交通运输局"].history.count() == 1
    roads = Task.objects.filter(responsible_unit="区交通运输局")
    assert roads.exists() and not roads.exclude(department=departments["区交通运输局"]).exists()
    assert Task.objects.filter(department=departments["区水务局"]).exists()
    # Township governments are no sector departments: their rows keep the text and no department.
    township_rows = Task.objects.filter(responsible_unit__endswith="人民政府")
    assert township_rows.exists() and not township_rows.filter(department__isnull=False).exists()
    # Every unit that names a department points to it.
    for unit, department in Task.objects.exclude(department=None).values_list("responsible_unit", "department"):
        assert departments[unit].pk == department


@pytest.mark.django_db
def test_a_second_run_changes_nothing():
    before = row_counts()
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    assert row_counts() == before
    assert "演示数据已存在，未做任何更改" in out.getvalue()
    assert "maoya" in out.getvalue()


@pytest.mark.django_db
def test_a_scale_outside_1_to_100_is_refused_in_chinese():
    with pytest.raises(CommandError, match="规模倍数应为 1–100 之间的整数"):
        call_command("seed_demo", "--scale", "0", stdout=io.StringIO())


@pytest.fixture(autouse=True)
def fast_password_hashing():
    """The demo's passwords are hashed once for the module with the real hasher; keep it for these tests."""
