"""The plan-row list is written from values() rows (tasks.api.TaskRows), not through TaskSerializer: the two must
give the same JSON, byte for byte, for rows with every field filled (household, department, carried from an earlier
year, a pending change request, fund lines, baselines, times with microseconds), in any ordering and on any page;
and the list keeps a fixed number of queries whatever the page holds."""

import datetime
import json
from decimal import Decimal

import pytest
from rest_framework.renderers import JSONRenderer

from tasks.api import TaskSerializer
from tasks.models import ChangeRequest, FundSource, Task
from tests import factories
from tests.api.conftest import TODAY
from tests.api.helpers import results

TASKS = "/api/v1/tasks/"
CREATED = datetime.datetime(2017, 3, 1, 2, 3, 4, 567890, tzinfo=datetime.UTC)  # 10:03:04.567890 in 巴州
UPDATED = datetime.datetime(2017, 9, 14, 16, 30, tzinfo=datetime.UTC)  # 00:30 on 15 September in 巴州: the date moves


@pytest.fixture
def full(area, personas):
    """An approved 2017 plan of township A with a household row filled in every field (carried from 2016, with a
    department, fund lines, baselines, a pending change request) and a village row with the fewest fields."""
    department = factories.department(area.district, name="区交通运输局")
    earlier = factories.task(factories.plan(area.village_a, year=2016), item="产业路（2016）")
    plan = factories.plan(area.village_a, year=2017, state="approved", approved_at=CREATED)
    filled = factories.task(
        plan,
        area.household_a,
        category="housing",
        item="危房改造",
        quantity=Decimal("1.5"),
        unit="户",
        deadline=datetime.date(2017, 9, 14),
        deadline_text="9月中旬",
        planned_funds=Decimal("2.5"),
        invested_funds=Decimal("1.25"),
        responsible_unit="区交通运输局",
        department=department,
        responsible_person="秦和平",
        responsible_phone="13800000000",
        responsible_email="qin@example.cn",
        status="in_progress",
        progress=40,
        carried_from=earlier,
        carry_reason="上年未完成",
        created_by=personas.village_cadre,
    )
    factories.fund_line(filled, "district", Decimal("1"))
    factories.fund_line(filled, "central", Decimal("1.5"))
    Task.objects.filter(pk=filled.pk).update(
        baseline_deadline=datetime.date(2017, 8, 31),
        baseline_planned_funds=Decimal("2"),
        baseline_quantity=Decimal("1"),
        change_count=2,
        last_progress_on=datetime.date(2017, 9, 10),
        version=7,
        created_at=CREATED,
        updated_at=UPDATED,
    )
    request = ChangeRequest.objects.create(
        plan=plan,
        task=filled,
        kind="change",
        reason_category="policy",
        reason="政策调整",
        requested_by=personas.township_a,
    )
    bare = factories.done_task(plan, item="村道", quantity=None, unit="", planned_funds=Decimal("0"))
    removed = factories.task(plan, item="撤销的", is_removed=True, removed_reason="重复")
    return {"filled": filled, "request": request, "bare": bare, "removed": removed, "earlier": earlier}


def serializer_rows(ids: list[int]) -> list[dict]:
    """The same rows through TaskSerializer, read as the single-row path reads them."""
    from tasks.api import pending_request_of_row

    by_id = {
        task.pk: task
        for task in Task.objects.filter(pk__in=ids)
        .select_related("plan__village__township", "household", "department")
        .prefetch_related("fund_lines")
        .annotate(pending_change_request=pending_request_of_row())
    }
    return [TaskSerializer(by_id[pk], context={"today": TODAY}).data for pk in ids]


def rendered(data) -> bytes:
    return JSONRenderer().render(data)


@pytest.mark.parametrize("query", ["", "?removed=true", "?ordering=-deadline", "?ordering=-updated_at&page_size=1"])
def test_the_list_writes_what_the_serializer_writes_byte_for_byte(api, personas, full, query):
    listed = results(api(personas.district_admin).get(TASKS + query))
    assert listed, "the list is not empty"
    expected = serializer_rows([row["id"] for row in listed])
    assert rendered(listed) == rendered(expected)
    assert [list(row) for row in listed] == [list(row) for row in expected]  # the same keys in the same order


def test_a_row_with_every_field_filled_is_written_as_the_api_has_always_written_it(api, personas, area, full):
    filled = full["filled"]
    (row,) = [r for r in results(api(personas.district_admin).get(TASKS)) if r["id"] == filled.pk]
    assert row == {
        "id": filled.pk,
        "plan": filled.plan_id,
        "plan_year": 2017,
        "plan_state": "approved",
        "village": area.village_a.pk,
        "village_name": "茅垭村",
        "township": area.township_a.pk,
        "township_name": "白庙乡",
        "household": area.household_a.pk,
        "household_number": area.household_a.number,
        "plan_type": "household",
        "plan_type_display": "一户一策",
        "category": "housing",
        "category_display": "危房改造",
        "item": "危房改造",
        "quantity": "1.50",
        "unit": "户",
        "deadline": "2017-09-14",
        "deadline_text": "9月中旬",
        "baseline_deadline": "2017-08-31",
        "baseline_planned_funds": "2.0000",
        "baseline_quantity": "1.00",
        "change_count": 2,
        "pending_change_request": full["request"].pk,
        "planned_funds": "2.5000",
        "invested_funds": "1.2500",
        "fund_lines": [
            {"source": "central", "source_display": "中央财政专项扶贫资金", "amount": "1.5000"},
            {"source": "district", "source_display": "区级财政专项扶贫资金", "amount": "1.0000"},
        ],
        "responsible_unit": "区交通运输局",
        "department": filled.department_id,
        "department_name": "区交通运输局",
        "responsible_person": "秦和平",
        "responsible_phone": "13800000000",
        "responsible_email": "qin@example.cn",
        "status": "in_progress",
        "status_display": "进行中",
        "progress": 40,
        "completed_on": None,
        "last_progress_on": "2017-09-10",
        "overdue": True,  # the deadline (14 September) is before today (15 September) and the row is open
        "baseline_overdue": True,
        "is_removed": False,
        "removed_reason": "",
        "carried_from": full["earlier"].pk,
        "carry_reason": "上年未完成",
        "version": 7,
        "created_by": filled.created_by_id,
        "created_at": "2017-03-01T10:03:04.567890+08:00",
        "updated_at": "2017-09-15T00:30:00+08:00",
    }
    assert list(row) == list(TaskSerializer.Meta.fields)


def test_a_row_with_the_fewest_fields_has_nulls_where_the_serializer_had_them(api, personas, full):
    bare = full["bare"]
    (row,) = [r for r in results(api(personas.district_admin).get(TASKS)) if r["id"] == bare.pk]
    assert row["household"] is None and row["household_number"] is None
    assert row["plan_type"] == "village" and row["plan_type_display"] == "一村一案"
    assert row["quantity"] is None and row["department"] is None and row["department_name"] is None
    assert row["fund_lines"] == [] and row["pending_change_request"] is None and row["carried_from"] is None
    assert row["planned_funds"] == "0.0000" and row["status"] == "done" and row["overdue"] is False


# Read back from each database as the list reads them (PostgreSQL: numeric as text; SQLite: a REAL or INTEGER as
# text): the smallest amount, the largest the column holds, whole numbers, and amounts with trailing zeros.
AMOUNTS = ["0", "0.0001", "9999999999.9999", "12.5", "100", "3.3333", "0.1", "1234567.8900", "7", "60.05"]


def test_fund_lines_of_every_source_and_any_amount_are_written_as_the_serializer_writes_them(api, personas, area):
    plan = factories.plan(area.village_a2)
    many = factories.task(plan, item="十个资金来源", planned_funds=Decimal("9999999999.9999"))
    for source, amount in zip(reversed(FundSource.values), AMOUNTS, strict=True):  # created in reverse order
        factories.fund_line(many, source, Decimal(amount))
    one = factories.task(plan, item="一个资金来源")
    factories.fund_line(one, "self", Decimal("0.5"))
    listed = [row for row in results(api(personas.district_admin).get(TASKS)) if row["id"] in (many.pk, one.pk)]
    assert rendered(listed) == rendered(serializer_rows([row["id"] for row in listed]))
    lines = {row["item"]: row["fund_lines"] for row in listed}
    assert [line["source"] for line in lines["十个资金来源"]] == sorted(FundSource.values)  # by source, as before
    amounts = {line["source"]: line["amount"] for line in lines["十个资金来源"]}
    assert amounts["finance"] == "0.0000" and amounts["self"] == "0.0001" and amounts["local"] == "9999999999.9999"
    assert amounts["social"] == "12.5000" and amounts["central"] == "60.0500"
    assert lines["一个资金来源"] == [{"source": "self", "source_display": "群众自筹", "amount": "0.5000"}]


def test_the_cursor_walks_every_row_once_in_a_descending_ordering(api, personas, area, full):
    client = api(personas.district_admin)
    plan = factories.plan(area.village_a2)
    for i in range(7):
        factories.task(plan, item=f"任务{i}", deadline=datetime.date(2017, 10, 1 + i % 3))
    everything = {row["id"] for row in results(client.get(TASKS + "?page_size=500"))}
    pages, link = [], TASKS + "?ordering=-deadline&page_size=3"
    while link:
        body = client.get(link).json()
        pages.append([row["id"] for row in body["results"]])
        last, link = body, body["next"]
    seen = [pk for page in pages for pk in page]
    assert sorted(seen) == sorted(everything) and len(seen) == len(set(seen))
    deadlines = [row["deadline"] for row in results(client.get(TASKS + "?ordering=-deadline&page_size=500"))]
    assert deadlines == sorted(deadlines, reverse=True)
    back, link = [], last["previous"]  # and back again from the last page, by the previous links
    while link:
        body = client.get(link).json()
        back.insert(0, [row["id"] for row in body["results"]])
        link = body["previous"]
    assert back == pages[:-1]


def grow(area, n: int) -> None:
    """``n`` rows in a village of township A, every other one a household's, each with two fund lines."""
    plan = factories.plan(area.village_a2)
    household = factories.household(area.village_a2)
    for i in range(n):
        task = factories.task(plan, household if i % 2 else None, item=f"任务{i}", planned_funds=Decimal("10"))
        factories.fund_line(task, "central", Decimal("6"))
        factories.fund_line(task, "district", Decimal("4"))


def test_the_list_takes_the_same_queries_at_5_and_50_rows(api, personas, area, full, django_assert_num_queries):
    client = api(personas.district_admin)
    grow(area, 2)
    # savepoint; session; user; the page of rows (plan, village and township joined; the household number,
    # department name, fund lines and pending change request as subqueries); release savepoint.
    with django_assert_num_queries(5):
        small = results(client.get(TASKS))
    grow(area, 45)
    with django_assert_num_queries(5):
        large = results(client.get(TASKS + "?ordering=-planned_funds"))
    assert len(small) == 5 and len(large) == 50
    assert all(len(row["fund_lines"]) == 2 for row in large if row["item"].startswith("任务"))


def test_an_empty_page_takes_the_same_queries(api, personas, area, django_assert_num_queries):
    client = api(personas.district_admin)
    with django_assert_num_queries(5):  # savepoint; session; user; the (empty) page; release
        body = client.get(TASKS).json()
    assert body == {"next": None, "previous": None, "results": []}


def test_the_list_json_is_what_a_renderer_makes_of_it(api, personas, full):
    response = api(personas.district_admin).get(TASKS)
    assert json.loads(response.content) == response.json()
    assert "\\u" not in response.content.decode()  # Chinese as it is, as before


def test_each_request_filters_a_copy_of_the_rows_queryset_and_leaves_the_template_as_it_was(api, personas, full):
    from tasks.api import ROW_COLUMNS, TaskRows, _rows_template, row_subqueries

    template = _rows_template()
    before = str(template.query)
    client = api(personas.district_admin)
    everything = {row["id"] for row in results(client.get(TASKS + "?removed=true"))} | {
        row["id"] for row in results(client.get(TASKS))
    }
    for query, expected in [
        ("?status=done", {full["bare"].pk}),
        ("?search=危房", {full["filled"].pk}),
        ("?plan_type=household&overdue=true", {full["filled"].pk}),
        ("?removed=true", {full["removed"].pk}),
    ]:
        assert {row["id"] for row in results(client.get(TASKS + query))} == expected, query
    assert str(template.query) == before and template._result_cache is None  # never filtered, never read
    assert everything == {full[name].pk for name in ("filled", "bare", "removed", "earlier")}
    extra = row_subqueries()
    fresh = Task.objects.annotate(**extra).values(*ROW_COLUMNS, *extra)
    assert str(TaskRows.queryset().query) == str(fresh.query) and TaskRows.queryset() is not template
