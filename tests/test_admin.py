"""The Chinese admin: every page opens, forms save back, lists run a fixed number of queries, IDs stay masked."""

import datetime
from decimal import Decimal

import pytest
from django import forms
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from bazhou.core.models import AnnualGoal, ApiToken, ExportLog, ImportBatch, Role, User
from households.models import Household, HouseholdHelper, HouseholdIncome, Member, PovertyLine
from supervision.models import Accountability, Bulletin, DailyDigest, Inspection, OverdueRecord, RectificationEvidence
from tasks.models import FundLine, Plan, ProgressEvidence, ProgressUpdate, Task
from tests import factories
from villages.models import ExitIndicator, VillageIndicator

TODAY = "2017-09-15"
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"


@pytest.fixture(autouse=True)
def fast_and_isolated(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.BAZHOU_TODAY = TODAY


@pytest.fixture
def root(db):
    return User.objects.create_superuser(username="root", password="pw-for-tests-2017")


@pytest.fixture
def root_client(client, root):
    client.force_login(root)
    return client


def build_everything(area, user, n: int):
    """A new poor village in township A with one or two rows of every model, all consistent."""
    day = datetime.date(2017, 9, 1)
    village = factories.poor_village(area.township_a, number=100 + n, name=f"测试村{n}")
    indicator = ExitIndicator.objects.create(year=2017, code=f"road-{n}", name="有硬化路", order=n)
    VillageIndicator.objects.create(village=village, indicator=indicator, met=True, assessed_on=day)
    factories.assignment(village, person=f"第一书记{n}")
    factories.assignment(village, role="unit", person="", unit="区扶贫局")
    PovertyLine.objects.create(year=2000 + n, yuan=Decimal("3100"))
    households = [factories.household(village), factories.household(village)]
    for h in households:
        HouseholdIncome.objects.create(household=h, year=2016, wage=Decimal("8000"), dibao=Decimal("1200"))
        HouseholdHelper.objects.create(household=h, name="李帮扶", unit="区财政局", start_date=day)
    plan = factories.plan(village, state="approved", approved_by=user, approved_at=datetime.datetime.now(datetime.UTC))
    road = factories.task(plan, responsible_person="吴玉峰")
    house = factories.task(
        plan, households[0], category="housing", item="危房改造", deadline=datetime.date(2017, 12, 31)
    )
    FundLine.objects.create(task=road, source="central", amount=Decimal("60"))
    FundLine.objects.create(task=road, source="district", amount=Decimal("40"))
    update = ProgressUpdate.objects.create(
        task=road, reported_on=day, progress=50, status="in_progress", invested_funds=Decimal("10"), reported_by=user
    )
    ProgressEvidence.objects.create(
        update=update,
        file=SimpleUploadedFile("road.pdf", PDF, content_type="application/pdf"),
        original_name="road.pdf",
        content_type="application/pdf",
        size=len(PDF),
        uploaded_by=user,
    )
    inspection = Inspection.objects.create(
        district=area.district,
        title=f"第{n}次暗访",
        kind="unannounced",
        organiser="inspection_office",
        start_date=day,
        end_date=day,
        methods=["visit", "records"],
    )
    inspection.townships.add(area.township_a)
    inspection.villages.add(village)
    inspection.households.add(households[0])
    inspection.tasks.add(road, house)
    finding = factories.finding(road, inspection=inspection, reported_by=user, description="通村路进度滞后")
    factories.finding(households[1], type="housing", severity="major", description="住房存在安全隐患")
    factories.finding(village, type="records", description="档案不全")
    rectification = factories.rectification(finding, status="in_progress", deadline=datetime.date(2017, 9, 10))
    RectificationEvidence.objects.create(
        rectification=rectification,
        file=SimpleUploadedFile("fix.pdf", PDF, content_type="application/pdf"),
        original_name="fix.pdf",
        content_type="application/pdf",
        size=len(PDF),
        uploaded_by=user,
    )
    Accountability.objects.create(finding=finding, subject="王某", measure="interview", decided_on=day)
    Bulletin.objects.create(
        district=area.district,
        year=2017,
        number=n,
        title=f"第{n}期通报",
        issued_on=day,
        period_start=datetime.date(2017, 8, 1),
        period_end=datetime.date(2017, 8, 31),
        snapshot={"overdue_tasks": [road.pk]},
        created_by=user,
    )
    AnnualGoal.objects.create(
        district=area.district, year=2017, name=f"贫困村退出{n}", target=68, unit="个", metric="villages_exited"
    )
    factories.user(Role.VILLAGE_CADRE, village, username=f"cadre{n}")
    return village


@pytest.fixture
def everything(area, personas, root):
    build_everything(area, root, 1)
    return area


def admin_url(model, view, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


# Read here, never written: the plan table (its own pages), the supervision bookkeeping, logs, tokens and uploads.
VIEW_ONLY = {
    Plan,
    Task,
    FundLine,
    ProgressUpdate,
    ProgressEvidence,
    OverdueRecord,
    DailyDigest,
    ExportLog,
    ApiToken,
    ImportBatch,
}
REGISTERED = sorted(admin.site._registry, key=lambda m: m._meta.label)


def test_all_models_of_the_project_are_registered():
    ours = {"bazhou", "villages", "households", "tasks", "supervision"}
    # The product's own bookkeeping, not data anybody maintains: the data version and the stored figures.
    internal = {"bazhou.DataVersion", "bazhou.CachedFigures"}
    from django.apps import apps

    missing = [
        m._meta.label
        for m in apps.get_models()
        if m._meta.app_label in ours
        and not m.__name__.startswith("Historical")
        and m not in admin.site._registry
        and m._meta.label not in internal
    ]
    assert missing == []


def test_every_add_change_and_history_page_opens_and_every_change_form_saves_back(root_client, everything):
    """Changelists are opened (and their queries counted) below; here the other pages, and a save of each form."""
    failures = []
    for model in REGISTERED:
        obj = model._default_manager.order_by("pk").first()
        if model in VIEW_ONLY:
            # The plan table is edited on its own pages (versions, reasons); here it is only read.
            if root_client.get(admin_url(model, "add")).status_code != 403:
                failures.append(f"{model.__name__}: the admin must not add plan-table rows")
            if obj is not None and root_client.get(admin_url(model, "change", obj.pk)).status_code != 200:
                failures.append(f"{model.__name__}: the admin must show plan-table rows read-only")
            continue
        urls = [admin_url(model, "add")]
        if obj is not None:
            urls.append(admin_url(model, "history", obj.pk))
            try:
                resubmit(root_client, admin_url(model, "change", obj.pk))  # Opens the change page, then saves it.
            except AssertionError as e:
                failures.append(str(e))
        for url in urls:
            status = root_client.get(url).status_code
            if status != 200:
                failures.append(f"{url}: {status}")
    assert failures == []


@pytest.mark.parametrize("model", [Household, Task, Member], ids=lambda m: m.__name__)
def test_change_and_history_pages_of_household_task_and_member(root_client, everything, model):
    obj = model.objects.first()
    change = root_client.get(admin_url(model, "change", obj.pk))
    assert change.status_code == 200
    history = root_client.get(admin_url(model, "history", obj.pk))
    assert history.status_code == 200
    assert history.context["object"] == obj  # simple_history's page, not Django's log-entry page.
    assert "page_obj" in history.context


def test_every_changelist_opens_and_runs_a_fixed_number_of_queries(root_client, everything, root):
    def counts():
        result = {}
        for model in REGISTERED:
            url = admin_url(model, "changelist")
            with CaptureQueriesContext(connection) as ctx:
                assert root_client.get(url).status_code == 200
            result[model._meta.label] = len(ctx.captured_queries)
        return result

    before = counts()
    for n in (2, 3, 4):
        build_everything(everything, root, n)
    after = counts()
    assert {label: (before[label], after[label]) for label in before if before[label] != after[label]} == {}


def test_household_changelist_query_count_does_not_grow_with_households(root_client, area):
    url = admin_url(Household, "changelist")
    root_client.get(url)
    assert Household.objects.count() == 2
    with CaptureQueriesContext(connection) as two:
        root_client.get(url)
    for _ in range(8):
        factories.household(area.village_a)
    assert Household.objects.count() == 10
    with CaptureQueriesContext(connection) as ten:
        response = root_client.get(url)
    assert len(response.context["cl"].result_list) == 10
    assert len(ten.captured_queries) == len(two.captured_queries)


def test_household_changelist_shows_the_heads_name_and_refuses_an_id_number_search(root_client, area):
    head = area.household_a.members.get(relation=Member.Relation.HEAD)
    head.name = "秦大富"
    head.save()
    response = root_client.get(admin_url(Household, "changelist"))
    row = {h.number: h for h in response.context["cl"].result_list}[area.household_a.number]
    assert row.head_name == "秦大富"
    assert row.member_count == 3
    assert "秦大富" in response.content.decode()

    # The admin's search is a GET: an ID number would land in the address and the logs. It finds nothing and
    # points to the household list's ID-number search (a POST).
    son = area.household_b.members.exclude(relation=Member.Relation.HEAD).first()
    found = root_client.get(admin_url(Household, "changelist"), {"q": son.id_number})
    assert list(found.context["cl"].result_list) == []
    assert "按身份证号查找" in found.content.decode()


def test_member_changelist_shows_id_numbers_masked(root_client, area):
    response = root_client.get(admin_url(Member, "changelist"))
    content = response.content.decode()
    members = list(Member.objects.all())
    assert len(response.context["cl"].result_list) == len(members) == 6
    for member in members:
        assert member.id_number not in content
        assert member.masked_id_number in content


def test_a_user_who_needs_no_id_numbers_sees_them_masked_on_the_member_form(client, personas, area):
    leader = personas.leader
    leader.is_staff = True
    leader.save()
    leader.user_permissions.add(Permission.objects.get(codename="view_member"))
    client.force_login(leader)
    member = area.household_a.members.first()
    response = client.get(admin_url(Member, "change", member.pk))
    assert response.status_code == 200
    content = response.content.decode()
    assert member.id_number not in content
    assert member.masked_id_number in content
    # Nor may they search by ID number or read the history, which shows old values in full.
    found = client.get(admin_url(Member, "changelist"), {"q": member.id_number})
    assert list(found.context["cl"].result_list) == []
    assert client.get(admin_url(Member, "history", member.pk)).status_code == 403


def test_a_staff_user_who_is_not_a_superuser_sees_only_their_area(client, personas, area):
    staff = personas.township_a
    staff.is_staff = True
    staff.save()
    staff.user_permissions.add(*Permission.objects.filter(codename__in=["view_household", "view_village"]))
    client.force_login(staff)
    households = client.get(admin_url(Household, "changelist")).context["cl"].result_list
    assert list(households) == [area.household_a]
    villages = client.get(admin_url(Household, "changelist").replace("household", "village"))
    assert set(villages.context["cl"].result_list) == {area.village_a, area.village_a2}
    assert client.get(admin_url(Household, "change", area.household_b.pk)).status_code == 302  # "does not exist"


def test_a_user_may_change_only_the_rows_their_role_may_edit(client, personas, area):
    permissions = Permission.objects.filter(codename__in=["view_household", "change_household"])
    for user in (personas.township_a, personas.leader):
        user.is_staff = True
        user.save()
        user.user_permissions.add(*permissions)
    url = admin_url(Household, "change", area.household_a.pk)
    client.force_login(personas.township_a)
    assert client.get(url).context["has_change_permission"] is True
    client.force_login(personas.leader)  # Reads the district, writes nothing.
    assert client.get(url).context["has_change_permission"] is False
    assert client.post(url, {"phone": "1"}).status_code == 403


def test_task_overdue_filter_uses_the_configured_today(root_client, area):
    plan = factories.plan(area.village_a)
    overdue = factories.task(plan, item="逾期任务", deadline=datetime.date(2017, 8, 31))
    factories.task(plan, item="未到期任务", deadline=datetime.date(2017, 10, 31))
    factories.task(
        plan, item="已完成任务", status="done", progress=100, completed_on=datetime.date(2017, 8, 20)
    )  # Past its deadline, but done.
    response = root_client.get(admin_url(Task, "changelist"), {"overdue": "overdue"})
    assert list(response.context["cl"].result_list) == [overdue]
    assert "逾期" in response.content.decode()


def resubmit(client, url, **changes):
    """POST the change form at ``url`` back with the values it shows, plus ``changes``."""
    page = client.get(url)
    assert page.status_code == 200, url
    all_forms = [page.context["adminform"].form]
    for inline in page.context["inline_admin_formsets"]:
        all_forms += [inline.formset.management_form, *inline.formset.forms]
    data = {}
    for form in all_forms:
        for field in form:
            if field.field.disabled or isinstance(field.field, forms.FileField):
                continue
            value = field.value()
            widget = field.field.widget
            if isinstance(widget, forms.MultiWidget) and not isinstance(value, list):
                for i, part in enumerate(widget.decompress(value)):
                    if part is not None:
                        data[f"{field.html_name}_{i}"] = str(part)
            elif isinstance(value, bool):
                if value:
                    data[field.html_name] = "on"
            elif isinstance(value, list | tuple):
                data[field.html_name] = [str(v) for v in value]
            elif value is not None:
                data[field.html_name] = str(value)
    data.update(changes)
    response = client.post(url, data)
    if response.status_code != 302:
        errors = [page.context["adminform"].form.errors]
        if response.context:
            errors = [response.context["adminform"].form.errors] + [
                inline.formset.errors for inline in response.context["inline_admin_formsets"]
            ]
        raise AssertionError(f"{url} was not saved: {errors}")
    return response


def test_changing_a_household_bumps_its_version_and_records_history(root_client, area):
    household = area.household_a
    resubmit(
        root_client,
        admin_url(Household, "change", household.pk),
        phone="13800000000",
        other_causes=["skills", "capital"],
    )
    household.refresh_from_db()
    assert household.phone == "13800000000"
    assert household.other_causes == ["skills", "capital"]
    assert household.version == 2
    assert household.history.count() == 2
    assert household.history.first().history_user.username == "root"


def test_plan_table_rows_cannot_be_changed_or_deleted_in_the_admin(root_client, area):
    task = factories.task(factories.plan(area.village_a))
    before = (task.planned_funds, task.version)
    response = root_client.post(admin_url(Task, "change", task.pk), {"planned_funds": "-1", "item": "x"})
    assert response.status_code == 403
    assert root_client.post(admin_url(Task, "delete", task.pk), {"post": "yes"}).status_code == 403
    task.refresh_from_db()
    assert (task.planned_funds, task.version) == before


def test_adding_a_user_sets_role_and_area(root_client, area):
    response = root_client.post(
        admin_url(User, "add"),
        {
            "username": "yueming",
            "usable_password": "true",
            "password1": "Dasi-cun-2017!",
            "password2": "Dasi-cun-2017!",
            "name": "岳明",
            "phone": "",
            "role": Role.VILLAGE_CADRE,
            "village": area.village_b.pk,
        },
    )
    assert response.status_code == 302
    user = User.objects.get(username="yueming")
    assert (user.name, user.role, user.village, user.township, user.district) == (
        "岳明",
        Role.VILLAGE_CADRE,
        area.village_b,
        None,
        None,
    )

    wrong = root_client.post(
        admin_url(User, "add"),
        {
            "username": "wrong",
            "usable_password": "true",
            "password1": "Dasi-cun-2017!",
            "password2": "Dasi-cun-2017!",
            "role": Role.VILLAGE_CADRE,
            "township": area.township_b.pk,
        },
    )
    assert wrong.status_code == 200
    assert not User.objects.filter(username="wrong").exists()


def test_autocomplete_finds_plans_by_village_name_and_villages_by_code(root_client, area):
    factories.plan(area.village_a)
    factories.plan(area.village_b)
    url = reverse("admin:autocomplete")
    plans = root_client.get(url, {"app_label": "tasks", "model_name": "task", "field_name": "plan", "term": "茅垭"})
    assert [r["text"] for r in plans.json()["results"]] == ["茅垭村 2017年施工图"]
    villages = root_client.get(
        url, {"app_label": "households", "model_name": "household", "field_name": "village", "term": "511902212"}
    )
    assert [r["text"] for r in villages.json()["results"]] == ["大寺村"]


def test_a_superuser_revokes_api_tokens_in_the_admin(root_client, root):
    from bazhou.core.api.tokens import token_create

    token, _key = token_create(user=root, name="统计局对接")
    response = root_client.post(
        admin_url(ApiToken, "changelist"), {"action": "revoke", "_selected_action": [token.pk]}, follow=True
    )
    assert "已撤销 1 个令牌" in response.content.decode()
    token.refresh_from_db()
    assert token.revoked_at is not None


@pytest.mark.parametrize("model", [ExportLog, ApiToken, ImportBatch], ids=lambda m: m.__name__)
def test_logs_tokens_and_uploads_are_for_superusers_only_even_with_the_permission(client, area, model):
    from django.contrib.auth.models import Permission

    staff = factories.user(Role.DISTRICT_ADMIN, area.district, username="staff", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename=f"view_{model._meta.model_name}"))
    client.force_login(staff)
    assert client.get(admin_url(model, "changelist")).status_code == 403
