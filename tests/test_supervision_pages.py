"""The supervision pages through HTTP: the review queue (filters, order, rankings, query counts), inspections,
findings (list, filing, the page with its actions) and who may open and do what, in which area."""

import datetime
import re

import pytest
from django.urls import reverse

from supervision import services
from supervision.models import Accountability, Finding, Inspection, Rectification, RectificationEvidence
from tasks.models import Task
from tests import factories

pytestmark = pytest.mark.usefixtures("pinned_today")

TODAY = datetime.date(2017, 9, 15)
QUEUE = reverse("supervision:queue")
FINDINGS = reverse("supervision:findings")
NEW_FINDING = reverse("supervision:finding_create")
INSPECTIONS = reverse("supervision:inspections")
NEW_INSPECTION = reverse("supervision:inspection_create")
Status = Rectification.Status
PERSONAS = ("district_admin", "township_a", "township_b", "village_cadre", "supervisor", "leader")


def get(client, user, url, params=None, **headers):
    client.force_login(user)
    return client.get(url, params or {}, headers=headers)


def post(client, user, url, data):
    client.force_login(user)
    return client.post(url, data)


def html(response) -> str:
    return response.content.decode()


def finding_url(finding) -> str:
    return reverse("supervision:finding", args=[finding.pk])


def file_finding(target, user, **data):
    return services.finding_create(
        user=user,
        target=target,
        data={"type": "delay", "severity": "minor", "description": "进度滞后。", "found_on": TODAY, **data},
        rectification={"requirement": "限期整改。", "responsible_person": "吴玉峰"},
    )


def snapshot(finding):
    """What a refused request must leave as it was: the rectification, its history, evidence, accountability."""
    rectification = Rectification.objects.get(finding=finding)
    return (
        Rectification.objects.filter(pk=rectification.pk).values().get(),
        rectification.history.count(),
        RectificationEvidence.objects.filter(rectification=rectification).count(),
        Accountability.objects.filter(finding=finding).count(),
        finding.history.count(),
    )


# The review queue: hand-built rows ----------------------------------------------------------------------------------


@pytest.fixture
def queue(area):
    """Open rows past their deadline in both townships, and rows the queue must leave out."""
    plan_a = factories.plan(area.village_a)
    plan_a2 = factories.plan(area.village_a2)
    plan_b = factories.plan(area.village_b)

    def row(plan, item, deadline, person, unit, category="road", progress=0, household=None, **fields):
        status = Task.Status.IN_PROGRESS if progress else Task.Status.NOT_STARTED
        return factories.task(
            plan,
            household,
            item=item,
            deadline=deadline,
            responsible_person=person,
            responsible_unit=unit,
            responsible_phone="13800000000",
            category=category,
            progress=progress,
            status=status,
            **fields,
        )

    class Rows:
        room = row(plan_a, "村文化室", datetime.date(2017, 8, 31), "吴玉峰", "白庙乡人民政府", "culture_room", 80)
        road = row(plan_a, "通村硬化路", datetime.date(2017, 6, 30), "吴玉峰", "白庙乡人民政府", "road", 20)
        house = row(
            plan_a,
            "危房改造",
            datetime.date(2017, 9, 10),
            "秦和平",
            "茅垭村村委会",
            "housing",
            household=area.household_a,
        )
        bridge = row(plan_a2, "产业路", datetime.date(2017, 7, 31), "李四", "区交通运输局", "road", 10)
        water = row(plan_b, "安全饮用水", datetime.date(2017, 9, 1), "王五", "寺岭乡人民政府", "water", 50)
        # Left out of the overdue list: done, withdrawn, not yet due.
        done = factories.done_task(plan_a, item="已完成", deadline=datetime.date(2017, 6, 1))
        removed = row(
            plan_a,
            "已撤销",
            datetime.date(2017, 6, 1),
            "吴玉峰",
            "白庙乡人民政府",
            is_removed=True,
            removed_reason="重复",
        )
        soon = row(plan_a, "村卫生室", datetime.date(2017, 9, 25), "吴玉峰", "白庙乡人民政府", "clinic")
        later = row(plan_b, "广播电视", datetime.date(2017, 11, 30), "王五", "寺岭乡人民政府", "broadcast")

    return Rows


def items(response) -> list[str]:
    return [task.item for task in response.context["page_obj"]]


def ranking(response, which) -> dict:
    rows = response.context["ranking"][which]
    if which == "townships":
        return {r["name"]: r["n"] for r in rows}
    return {r["unit"]: r["n"] for r in rows}


@pytest.mark.parametrize(
    ("persona", "status"),
    [
        ("supervisor", 200),
        ("district_admin", 200),
        ("township_a", 404),
        ("township_b", 404),
        ("village_cadre", 404),
        ("leader", 404),
    ],
)
def test_the_queue_is_open_to_supervisors_and_district_admins_only(client, personas, queue, persona, status):
    response = get(client, getattr(personas, persona), QUEUE)
    assert response.status_code == status
    if status == 404:
        assert "村文化室" not in html(response)


def test_anonymous_visitors_are_sent_to_the_login_page(client, queue):
    for url in (QUEUE, FINDINGS, INSPECTIONS, NEW_FINDING, NEW_INSPECTION):
        response = client.get(url)
        assert response.status_code == 302 and response.url.startswith("/login/"), url


def test_the_queue_lists_open_rows_past_their_deadline_most_days_overdue_first(client, personas, queue):
    response = get(client, personas.supervisor, QUEUE)
    assert items(response) == ["通村硬化路", "产业路", "村文化室", "安全饮用水", "危房改造"]
    days = {task.item: task.days_overdue for task in response.context["page_obj"]}
    assert days == {"通村硬化路": 77, "产业路": 46, "村文化室": 15, "安全饮用水": 14, "危房改造": 5}


def test_each_queue_row_shows_where_who_and_links_to_the_row_its_history_and_filing_a_finding(
    client, personas, area, queue
):
    page = html(get(client, personas.supervisor, QUEUE))
    row = re.search(rf'<tr data-testid="queue-row" data-task-id="{queue.house.pk}".*?</tr>', page, re.S).group(0)
    for text in ("白庙乡", "茅垭村", area.household_a.number, "危房改造", "2017-09-10", "秦和平", "茅垭村村委会"):
        assert text in row, text
    assert re.search(r'data-testid="days-overdue"><span class="badge badge-overdue">5</span>', row)
    assert reverse("tasks:task_detail", args=[queue.house.pk]) in row
    assert reverse("tasks:task_history", args=[queue.house.pk]) in row
    assert f"{NEW_FINDING}?task={queue.house.pk}" in row


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"township": "511902204"}, ["通村硬化路", "产业路", "村文化室", "危房改造"]),
        ({"category": "road"}, ["通村硬化路", "产业路"]),
        ({"responsible_person": "吴玉峰"}, ["通村硬化路", "村文化室"]),
        ({"responsible_unit": "交通"}, ["产业路"]),
        ({"min_days_overdue": "15"}, ["通村硬化路", "产业路", "村文化室"]),
        ({"min_days_overdue": "16"}, ["通村硬化路", "产业路"]),
        ({"township": "511902204", "category": "road", "min_days_overdue": "50"}, ["通村硬化路"]),
    ],
)
def test_the_queue_filters_by_township_category_responsible_unit_and_person_and_days_overdue(
    client, personas, queue, params, expected
):
    assert items(get(client, personas.supervisor, QUEUE, params)) == expected


def test_the_queue_filters_by_village(client, personas, area, queue):
    response = get(client, personas.supervisor, QUEUE, {"village": area.village_a2.pk})
    assert items(response) == ["产业路"]


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("days", ["通村硬化路", "产业路", "村文化室", "安全饮用水", "危房改造"]),
        ("deadline", ["危房改造", "安全饮用水", "村文化室", "产业路", "通村硬化路"]),
        ("township", ["通村硬化路", "村文化室", "危房改造", "产业路", "安全饮用水"]),
        ("progress", ["危房改造", "产业路", "通村硬化路", "安全饮用水", "村文化室"]),
    ],
)
def test_the_queue_sorts_by_days_overdue_deadline_township_or_progress(client, personas, queue, sort, expected):
    assert items(get(client, personas.supervisor, QUEUE, {"sort": sort})) == expected


def test_the_queue_ranks_townships_and_responsible_units_for_the_current_filter(client, personas, queue):
    response = get(client, personas.supervisor, QUEUE)
    assert ranking(response, "townships") == {"白庙乡": 4, "寺岭乡": 1}
    townships = response.context["ranking"]["townships"]
    assert [(t["name"], t["rank"], t["rank_tied"], t["longest"]) for t in townships] == [
        ("白庙乡", 1, False, 77),  # 通村硬化路, due 6-30
        ("寺岭乡", 2, False, 14),
    ]
    units = response.context["ranking"]["units"]
    assert [(u["unit"], u["n"], u["rank"], u["rank_tied"], u["longest"]) for u in units] == [
        ("白庙乡人民政府", 2, 1, False, 77),
        ("区交通运输局", 1, 2, True, 46),  # equal counts: the longest overdue first, the rank shared
        ("寺岭乡人民政府", 1, 2, True, 14),
        ("茅垭村村委会", 1, 2, True, 5),
    ]
    page = html(response)
    assert re.search(
        r'data-testid="township-ranking".*?白庙乡</a></td><td class="num" data-col="count"><a [^>]*>4<', page, re.S
    )
    assert re.search(r'data-testid="unit-ranking".*?<td class="text-nowrap" data-col="rank">并列2</td>', page, re.S)
    assert "按责任人" not in page

    filtered = get(client, personas.supervisor, QUEUE, {"category": "road"})
    assert ranking(filtered, "townships") == {"白庙乡": 2}
    assert ranking(filtered, "units") == {"白庙乡人民政府": 1, "区交通运输局": 1}


def test_each_ranking_figure_opens_the_queue_filtered_by_it_with_the_same_count(client, personas, queue):
    response = get(client, personas.supervisor, QUEUE, {"category": "road", "page": "1"})
    ranked = response.context["ranking"]
    for entry in ranked["townships"] + ranked["units"]:
        assert "page=" not in entry["url"] and "category=road" in entry["url"]  # the current filters are kept
        opened = client.get(entry["url"])
        assert opened.status_code == 200
        assert opened.context["page_obj"].paginator.count == entry["n"]
        longest = client.get(entry["longest_url"]).context["page_obj"][0]
        assert longest.days_overdue == entry["longest"]  # the longest overdue row comes first
    township = ranked["townships"][0]
    assert township["url"] == f"{QUEUE}?category=road&township=511902204"


def test_rows_without_a_responsible_unit_are_ranked_without_a_link(client, personas, queue):
    Task.objects.filter(pk=queue.water.pk).update(responsible_unit="")
    units = get(client, personas.supervisor, QUEUE).context["ranking"]["units"]
    blank = next(u for u in units if u["unit"] == "")
    assert blank["n"] == 1 and "url" not in blank


def test_the_due_soon_list_uses_n_days_from_the_form_or_the_setting(client, personas, queue, settings):
    # 村卫生室 is due in more than 9 and at most 30 days; the default window is 7 days (BAZHOU_DUE_SOON_DAYS).
    assert items(get(client, personas.supervisor, QUEUE, {"view": "due"})) == []
    assert items(get(client, personas.supervisor, QUEUE, {"view": "due", "days": "90"})) == ["村卫生室", "广播电视"]
    assert items(get(client, personas.supervisor, QUEUE, {"view": "due", "days": "9"})) == []
    settings.BAZHOU_DUE_SOON_DAYS = 30
    assert items(get(client, personas.supervisor, QUEUE, {"view": "due"})) == ["村卫生室"]


def test_the_stale_list_shows_open_rows_without_progress_for_n_days(client, personas, queue):
    Task.objects.filter(pk=queue.room.pk).update(last_progress_on=datetime.date(2017, 7, 1))
    Task.objects.filter(pk=queue.water.pk).update(last_progress_on=datetime.date(2017, 9, 1))
    Task.objects.filter(pk=queue.done.pk).update(last_progress_on=datetime.date(2017, 5, 1))
    assert items(get(client, personas.supervisor, QUEUE, {"view": "stale"})) == ["村文化室"]
    assert items(get(client, personas.supervisor, QUEUE, {"view": "stale", "days": "10"})) == ["村文化室", "安全饮用水"]
    assert items(get(client, personas.supervisor, QUEUE, {"view": "stale", "days": "90"})) == []


def test_the_queue_counts_overdue_against_the_products_today(client, personas, queue, settings):
    settings.BAZHOU_TODAY = "2017-09-02"
    response = get(client, personas.supervisor, QUEUE)
    assert items(response) == ["通村硬化路", "产业路", "村文化室", "安全饮用水"]
    assert response.context["page_obj"][0].days_overdue == 64


def test_a_bad_filter_value_is_reported_beside_the_field_and_the_rest_still_apply(client, personas, queue):
    response = get(client, personas.supervisor, QUEUE, {"min_days_overdue": "-3", "category": "road"})
    assert response.status_code == 200
    assert 'data-field-error="min_days_overdue">逾期天数不能为负数。' in html(response)
    assert items(response) == ["通村硬化路", "产业路"]


def test_an_htmx_filter_request_gets_only_the_filters_and_results(client, personas, queue):
    response = get(client, personas.supervisor, QUEUE, {"category": "road"}, HX_Request="true")
    body = html(response)
    assert 'data-testid="queue-table"' in body and "<html" not in body
    assert response["Vary"] and "HX-Request" in response["Vary"]


def test_the_queue_pages_by_fifty_and_keeps_the_filters(client, personas, area):
    plan = factories.plan(area.village_b)
    for n in range(55):
        factories.task(plan, item=f"任务{n}", deadline=datetime.date(2017, 9, 1) - datetime.timedelta(days=n))
    first = get(client, personas.supervisor, QUEUE, {"township": "511902212"})
    assert len(first.context["page_obj"]) == 50 and first.context["page_obj"].paginator.count == 55
    assert "?township=511902212&page=2" in html(first)
    second = get(client, personas.supervisor, QUEUE, {"township": "511902212", "page": "2"})
    assert items(second) == [f"任务{n}" for n in range(4, -1, -1)]


def test_the_queue_makes_the_same_number_of_queries_for_ten_times_the_rows(
    client, personas, area, django_assert_num_queries
):
    factories.populate(area.township_a, villages=1)
    client.force_login(personas.supervisor)
    # savepoint; session; user; the paginator's count; the page of rows with village, township and household;
    # the rows per township; the rows per responsible person; the user's district (navigation); the township
    # and the village options of the filters; the plan years of the year selector; the navigation's 我的待办 and 消息
    # numbers (the data having changed: the data versions with the stored numbers, the numbers counted in one query,
    # stored); release savepoint.
    with django_assert_num_queries(15):
        small = client.get(QUEUE)
    factories.populate(area.township_a, villages=8)
    factories.populate(area.township_b, villages=1)
    with django_assert_num_queries(15):
        large = client.get(QUEUE)
    assert small.context["page_obj"].paginator.count == 3
    assert large.context["page_obj"].paginator.count == 30
    assert {r["name"]: r["n"] for r in large.context["ranking"]["townships"]} == {"白庙乡": 27, "寺岭乡": 3}


# Inspections --------------------------------------------------------------------------------------------------------


@pytest.fixture
def inspection(area, personas):
    inspection = services.inspection_create(
        user=personas.supervisor,
        data={
            "title": "2017年9月明察",
            "kind": "open",
            "organiser": "poverty_office",
            "start_date": datetime.date(2017, 9, 4),
            "end_date": datetime.date(2017, 9, 8),
            "inspectors": "区脱贫办督查一组",
            "methods": ["visit", "records"],
        },
        townships=[area.township_a],
        villages=[area.village_a],
    )
    a = services.finding_create(
        user=personas.supervisor,
        target=area.village_a,
        data={"type": "records", "severity": "minor", "description": "茅垭村档案不全。", "found_on": TODAY},
        rectification={"requirement": "补齐档案。"},
        inspection=inspection,
    )
    b = services.finding_create(
        user=personas.supervisor,
        target=area.village_b,
        data={"type": "records", "severity": "minor", "description": "大寺村台账未更新。", "found_on": TODAY},
        rectification={"requirement": "更新台账。"},
        inspection=inspection,
    )
    inspection.finding_a, inspection.finding_b = a, b
    return inspection


@pytest.mark.parametrize("persona", PERSONAS)
def test_every_user_of_the_district_sees_the_inspections_and_only_the_findings_of_their_area(
    client, personas, inspection, persona
):
    user = getattr(personas, persona)
    listed = get(client, user, INSPECTIONS)
    assert [i.title for i in listed.context["page_obj"]] == ["2017年9月明察"]
    expected = {
        "township_a": 1,
        "village_cadre": 1,
        "township_b": 1,
    }.get(persona, 2)
    assert listed.context["page_obj"][0].finding_count == expected

    detail = get(client, user, reverse("supervision:inspection", args=[inspection.pk]))
    assert detail.status_code == 200
    page = html(detail)
    assert "入户、查资料" in page and "白庙乡" in page and "区脱贫办督查一组" in page
    shown = {f.description for f in detail.context["findings"]}
    if persona in ("township_a", "village_cadre"):
        assert shown == {"茅垭村档案不全。"} and "大寺村台账未更新" not in page
    elif persona == "township_b":
        assert shown == {"大寺村台账未更新。"} and "茅垭村档案不全" not in page
    else:
        assert shown == {"茅垭村档案不全。", "大寺村台账未更新。"}


def test_an_inspection_of_another_district_does_not_exist_for_its_users(client, personas):
    other = factories.district("511921", "恩阳区")
    foreign = Inspection.objects.create(
        district=other,
        title="恩阳区暗访",
        kind="unannounced",
        organiser="inspection_office",
        start_date=TODAY,
        end_date=TODAY,
    )
    assert get(client, personas.supervisor, reverse("supervision:inspection", args=[foreign.pk])).status_code == 404
    assert "恩阳区暗访" not in html(get(client, personas.supervisor, INSPECTIONS))


@pytest.mark.parametrize(
    ("persona", "status"), [(p, 200 if p in ("supervisor", "district_admin") else 404) for p in PERSONAS]
)
def test_only_supervisors_and_district_admins_open_the_pages_that_file_records(client, personas, area, persona, status):
    user = getattr(personas, persona)
    assert get(client, user, NEW_INSPECTION).status_code == status
    assert get(client, user, NEW_FINDING).status_code == status


def test_a_supervisor_records_an_inspection_and_lands_on_its_page(client, personas, area):
    response = post(
        client,
        personas.supervisor,
        NEW_INSPECTION,
        {
            "title": "区人大专题督导",
            "kind": "congress",
            "organiser": "congress",
            "start_date": "2017-09-05",
            "end_date": "2017-09-07",
            "inspectors": "区人大常委会督导组",
            "methods": ["meeting", "visit"],
            "townships": [area.township_a.pk, area.township_b.pk],
            "villages": [area.village_b.pk],
            "summary": "督导一低七有。",
        },
    )
    inspection = Inspection.objects.get()
    assert response.status_code == 302 and response.url == reverse("supervision:inspection", args=[inspection.pk])
    assert (inspection.kind, inspection.methods, inspection.created_by) == (
        "congress",
        ["meeting", "visit"],
        personas.supervisor,
    )
    assert set(inspection.townships.all()) == {area.township_a, area.township_b}


def test_an_inspection_form_with_mistakes_says_so_beside_the_fields(client, personas):
    data = {"title": "", "kind": "open", "organiser": "congress", "start_date": "2017-09-07", "end_date": "2017-09-05"}
    response = post(client, personas.supervisor, NEW_INSPECTION, data)
    assert response.status_code == 200
    assert 'data-field-error="title">请填写督查名称。' in html(response)
    response = post(client, personas.supervisor, NEW_INSPECTION, {**data, "title": "明察"})
    assert response.status_code == 200
    assert 'data-field-error="end_date">结束日期不能早于开始日期。' in html(response)
    assert not Inspection.objects.exists()


def test_an_inspection_cannot_name_a_village_outside_the_users_area(client, personas):
    other = factories.village(factories.township(factories.district("511921", "恩阳区"), number=101), number=1)
    response = post(
        client,
        personas.supervisor,
        NEW_INSPECTION,
        {
            "title": "明察",
            "kind": "open",
            "organiser": "poverty_office",
            "start_date": "2017-09-05",
            "end_date": "2017-09-07",
            "villages": [other.pk],
        },
    )
    assert response.status_code == 200 and 'data-field-error="villages"' in html(response)
    assert not Inspection.objects.exists()


# Findings: list ----------------------------------------------------------------------------------------------------


@pytest.fixture
def findings(area, personas):
    """Findings in both townships, at every stage; one closed, one past its deadline."""
    plan_a = factories.plan(area.village_a)
    task_a = factories.task(plan_a, item="村文化室")
    late = factories.finding(task_a, description="文化室进度滞后", severity="major", found_on=datetime.date(2017, 6, 1))
    factories.rectification(late, deadline=datetime.date(2017, 8, 1))
    house = factories.finding(area.household_a, type="housing", description="危房未改造", severity="severe")
    factories.rectification(house, status=Status.IN_PROGRESS, deadline=datetime.date(2017, 11, 1))
    township = factories.finding(area.township_a, type="conduct", description="帮扶作风不实")
    factories.rectification(township, deadline=datetime.date(2017, 9, 15))
    other = factories.finding(area.village_b, type="records", description="大寺村档案不全")
    factories.rectification(other, deadline=datetime.date(2017, 9, 10))

    class Findings:
        pass

    Findings.late, Findings.house, Findings.township, Findings.other = late, house, township, other
    return Findings


def descriptions(response) -> set[str]:
    return {f.description for f in response.context["page_obj"]}


@pytest.mark.parametrize(
    ("persona", "expected"),
    [
        ("supervisor", {"文化室进度滞后", "危房未改造", "帮扶作风不实", "大寺村档案不全"}),
        ("district_admin", {"文化室进度滞后", "危房未改造", "帮扶作风不实", "大寺村档案不全"}),
        ("leader", {"文化室进度滞后", "危房未改造", "帮扶作风不实", "大寺村档案不全"}),
        ("township_a", {"文化室进度滞后", "危房未改造", "帮扶作风不实"}),
        ("village_cadre", {"文化室进度滞后", "危房未改造", "帮扶作风不实"}),
        ("township_b", {"大寺村档案不全"}),
    ],
)
def test_the_finding_list_shows_exactly_the_findings_of_the_users_area(client, personas, findings, persona, expected):
    response = get(client, getattr(personas, persona), FINDINGS)
    assert descriptions(response) == expected
    page = html(response)
    for text in {"文化室进度滞后", "危房未改造", "帮扶作风不实", "大寺村档案不全"} - expected:
        assert text not in page


def test_a_finding_past_its_rectification_deadline_and_not_closed_is_marked_overdue(client, personas, findings):
    response = get(client, personas.supervisor, FINDINGS)
    overdue = {f.description for f in response.context["page_obj"] if f.overdue}
    assert overdue == {"文化室进度滞后", "大寺村档案不全"}  # the deadline on today itself is not yet overdue
    page = html(response)
    row = re.search(rf'data-finding-id="{findings.late.pk}" class="row-overdue">.*?</tr>', page, re.S).group(0)
    assert 'data-testid="overdue-badge">逾期' in row
    row = re.search(rf'data-finding-id="{findings.township.pk}">.*?</tr>', page, re.S).group(0)
    assert "逾期" not in row


def test_overdue_follows_the_products_today(client, personas, findings, settings):
    settings.BAZHOU_TODAY = "2017-07-31"
    response = get(client, personas.supervisor, FINDINGS, {"overdue": "on"})
    assert descriptions(response) == set()
    settings.BAZHOU_TODAY = "2017-09-16"
    response = get(client, personas.supervisor, FINDINGS, {"overdue": "on"})
    assert descriptions(response) == {"文化室进度滞后", "大寺村档案不全", "帮扶作风不实"}


def test_a_closed_finding_is_never_overdue(client, personas, findings):
    Rectification.objects.filter(finding=findings.late).update(
        status=Status.CLOSED,
        result="已完工。",
        answered_by=personas.village_cadre,
        rechecked_by=personas.supervisor,
        rechecked_at=datetime.datetime(2017, 9, 1, tzinfo=datetime.UTC),
        closed_on=datetime.date(2017, 9, 1),
    )
    response = get(client, personas.supervisor, FINDINGS, {"overdue": "on"})
    assert descriptions(response) == {"大寺村档案不全"}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"status": "in_progress"}, {"危房未改造"}),
        ({"status": "pending"}, {"文化室进度滞后", "帮扶作风不实", "大寺村档案不全"}),
        ({"type": "housing"}, {"危房未改造"}),
        ({"severity": "major"}, {"文化室进度滞后"}),
        ({"township": "511902204"}, {"文化室进度滞后", "危房未改造", "帮扶作风不实"}),
        ({"township": "511902212"}, {"大寺村档案不全"}),
        ({"overdue": "on"}, {"文化室进度滞后", "大寺村档案不全"}),
        ({"overdue": "on", "township": "511902204"}, {"文化室进度滞后"}),
    ],
)
def test_the_finding_list_filters_by_status_type_severity_township_and_overdue(
    client, personas, findings, params, expected
):
    assert descriptions(get(client, personas.supervisor, FINDINGS, params)) == expected


def test_the_finding_list_makes_the_same_number_of_queries_for_ten_times_the_findings(
    client, personas, area, django_assert_num_queries
):
    def add(n):
        for i in range(n):
            plan = factories.plan(area.village_a)
            factories.rectification(factories.finding(factories.task(plan, item=f"任务{i}")))
            factories.rectification(factories.finding(area.household_b, type="housing"))
            factories.rectification(factories.finding(area.village_a2, type="records"))
            factories.rectification(factories.finding(area.township_b, type="conduct"))

    add(1)
    client.force_login(personas.supervisor)
    # savepoint; session; user; the paginator's count; the page of findings with their rectification and every
    # target with its village and township; the user's district (navigation); the township options of the
    # filter; the navigation's 我的待办 and 消息 numbers (the data having changed: the data versions with the stored
    # numbers, the numbers counted in one query, stored); release savepoint.
    with django_assert_num_queries(11):
        small = client.get(FINDINGS)
    add(9)
    with django_assert_num_queries(11):
        large = client.get(FINDINGS)
    assert small.context["page_obj"].paginator.count == 4
    assert large.context["page_obj"].paginator.count == 40


# Findings: filing one -----------------------------------------------------------------------------------------------


def finding_form(target_kind="task", target="", **changes):
    data = {
        "target_kind": target_kind,
        "task": "",
        "village": "",
        "household": "",
        "township": "",
        "inspection": "",
        "type": "delay",
        "severity": "major",
        "description": "村文化室超过完成时限仍未完工。",
        "found_on": "2017-09-14",
        "requirement": "9月底前完工并验收。",
        "responsible_unit": "白庙乡人民政府",
        "responsible_person": "吴玉峰",
        "responsible_phone": "13800000000",
        "responsible_email": "",
        "deadline": "",
    }
    data[target_kind] = target
    data.update(changes)
    return data


def test_filing_from_the_queue_prefills_the_task_its_responsible_people_and_a_description(client, personas, queue):
    response = get(client, personas.supervisor, NEW_FINDING, {"task": queue.room.pk})
    form = response.context["form"]
    assert form.initial["task"] == queue.room
    assert (form.initial["target_kind"], form.initial["type"]) == ("task", "delay")
    assert (form.initial["responsible_person"], form.initial["responsible_unit"]) == ("吴玉峰", "白庙乡人民政府")
    assert form.initial["found_on"] == TODAY
    assert "15 天仍未完成" in form.initial["description"]
    page = html(response)
    assert 'data-testid="target-summary"' in page and "茅垭村 村文化室" in page
    assert f'name="task" value="{queue.room.pk}"' in page


def test_filing_a_finding_creates_its_rectification_and_shows_the_finding(client, personas, queue):
    response = post(client, personas.supervisor, NEW_FINDING, finding_form("task", queue.room.pk))
    finding = Finding.objects.get()
    assert response.status_code == 302 and response.url == finding_url(finding)
    assert (finding.task, finding.severity, finding.reported_by) == (queue.room, "major", personas.supervisor)
    rectification = finding.rectification
    assert (rectification.deadline, rectification.status, rectification.responsible_person) == (
        datetime.date(2017, 11, 14),
        Status.PENDING,
        "吴玉峰",
    )
    page = html(client.get(response.url))
    assert "已立案，并下达整改：整改时限 2017-11-14。" in page
    assert reverse("tasks:task_detail", args=[queue.room.pk]) in page


@pytest.mark.parametrize(
    ("kind", "value_of", "field"),
    [
        ("village", lambda area: area.village_a2.pk, "village"),
        ("household", lambda area: area.household_b.number, "household"),
        ("township", lambda area: area.township_b.pk, "township"),
    ],
)
def test_a_finding_may_be_filed_against_a_village_a_household_by_its_number_or_a_township(
    client, personas, area, kind, value_of, field
):
    response = post(client, personas.district_admin, NEW_FINDING, finding_form(kind, value_of(area), type="records"))
    assert response.status_code == 302
    finding = Finding.objects.get()
    assert getattr(finding, f"{field}_id") is not None
    assert [name for name in ("task", "village", "household", "township") if getattr(finding, f"{name}_id")] == [kind]


def test_a_finding_form_with_mistakes_says_so_in_chinese_beside_the_fields_and_files_nothing(client, personas, queue):
    data = finding_form("task", "", description="", found_on="2017-09-20", responsible_email="不是邮箱")
    response = post(client, personas.supervisor, NEW_FINDING, data)
    assert response.status_code == 200
    page = html(response)
    assert 'data-field-error="task">请填写任务编号。' in page
    assert 'data-field-error="description">请填写问题描述。' in page
    assert 'data-field-error="responsible_email">请输入有效的电子邮箱地址。' in page
    assert not Finding.objects.exists()

    response = post(
        client, personas.supervisor, NEW_FINDING, finding_form("task", queue.room.pk, found_on="2017-09-20")
    )
    assert 'data-field-error="found_on">发现日期不能晚于今天。' in html(response)
    response = post(client, personas.supervisor, NEW_FINDING, finding_form("task", 999999))
    assert 'data-field-error="task">没有这个任务编号，或不在您的范围内。' in html(response)
    assert not Finding.objects.exists()


def test_filing_a_finding_is_404_for_everyone_but_supervisors_and_district_admins(client, personas, queue):
    for persona in ("township_a", "village_cadre", "leader"):
        response = post(client, getattr(personas, persona), NEW_FINDING, finding_form("task", queue.room.pk))
        assert response.status_code == 404
    assert not Finding.objects.exists()


def test_a_prefilled_target_the_user_may_not_see_is_404(client, personas):
    other = factories.task(factories.plan(factories.village(factories.township(factories.district("511921")))))
    assert get(client, personas.supervisor, NEW_FINDING, {"task": other.pk}).status_code == 404
    assert get(client, personas.supervisor, NEW_FINDING, {"task": "abc"}).status_code == 404


def test_the_task_and_village_pages_offer_supervisors_to_file_a_finding(client, personas, area, queue):
    task_page = reverse("tasks:task_detail", args=[queue.room.pk])
    village_page = reverse("villages:detail", args=[area.village_a.pk])
    for persona, shown in (("supervisor", True), ("district_admin", True), ("township_a", False), ("leader", False)):
        user = getattr(personas, persona)
        assert (f"{NEW_FINDING}?task={queue.room.pk}" in html(get(client, user, task_page))) is shown
        assert (f"{NEW_FINDING}?village={area.village_a.pk}" in html(get(client, user, village_page))) is shown


# A finding's page and its actions -------------------------------------------------------------------------------


@pytest.fixture
def finding(personas, queue):
    return file_finding(queue.room, personas.supervisor)


ACTIONS = ("start", "answer", "recheck", "accountability")


def action_url(finding, name) -> str:
    """Each action on a finding posts to its own URL: findings/<id>/start/, answer/, recheck/, accountability/."""
    return reverse(f"supervision:finding_{name}", args=[finding.pk])


def evidence_url(finding, evidence) -> str:
    return reverse("supervision:finding_evidence", args=[finding.pk, evidence.pk])


def action(finding, name, **data):
    """What the action's form posts: the rectification's version as the page loaded it, and the fields."""
    rectification = Rectification.objects.get(finding=finding)
    return {"version": rectification.version, **data}


def forms_shown(response) -> set[str]:
    return set(re.findall(r'data-testid="(start|answer|recheck|accountability)-form"', html(response)))


@pytest.mark.parametrize(
    ("persona", "status"),
    [
        ("supervisor", 200),
        ("district_admin", 200),
        ("leader", 200),
        ("township_a", 200),
        ("village_cadre", 200),
        ("township_b", 404),
    ],
)
def test_a_finding_page_exists_only_for_users_whose_area_holds_it(client, personas, finding, persona, status):
    response = get(client, getattr(personas, persona), finding_url(finding))
    assert response.status_code == status
    if status == 404:
        assert "进度滞后。" not in html(response)


@pytest.mark.parametrize(
    ("persona", "expected"),
    [
        ("village_cadre", {"start", "answer"}),
        ("township_a", {"start", "answer"}),
        ("district_admin", {"start", "answer", "accountability"}),
        ("supervisor", {"accountability"}),
        ("leader", set()),
    ],
)
def test_a_pending_finding_offers_each_user_only_the_actions_they_may_take(
    client, personas, finding, persona, expected
):
    assert forms_shown(get(client, getattr(personas, persona), finding_url(finding))) == expected


def test_the_village_cadre_answers_with_a_photo_and_a_supervisor_closes_it(client, personas, finding, media):
    photo = factories.evidence_upload("png", name="现场.png")
    response = post(
        client,
        personas.village_cadre,
        action_url(finding, "answer"),
        action(finding, "answer", result="已完工。", files=photo),
    )
    assert response.status_code == 302
    rectification = Rectification.objects.get(finding=finding)
    assert (rectification.status, rectification.answered_by) == (Status.AWAITING_RECHECK, personas.village_cadre)
    evidence = rectification.evidence.get()

    # The cadre no longer has a form; the supervisor has the recheck form, and the file through the page.
    assert forms_shown(get(client, personas.village_cadre, finding_url(finding))) == set()
    page = get(client, personas.supervisor, finding_url(finding))
    assert forms_shown(page) == {"recheck", "accountability"}
    download = client.get(evidence_url(finding, evidence))
    assert download.status_code == 200 and b"".join(download.streaming_content).startswith(b"\x89PNG")

    response = post(
        client, personas.supervisor, action_url(finding, "recheck"), action(finding, "recheck", decision="approve")
    )
    assert response.status_code == 302
    rectification.refresh_from_db()
    assert (rectification.status, rectification.rechecked_by, rectification.closed_on) == (
        Status.CLOSED,
        personas.supervisor,
        TODAY,
    )
    page = html(client.get(finding_url(finding)))
    assert "复查通过，问题已销号。" in page
    titles = re.findall(r'data-testid="history-title">([^<]+)<', page)
    assert titles[:3] == ["复查通过，销号", "提交整改结果", "下达整改"] or titles[:3] == [
        "复查通过，销号",
        "提交整改结果",
        "发现问题",
    ]
    assert {"发现问题", "下达整改", "提交整改结果", "复查通过，销号"} <= set(titles)


def test_the_district_admin_who_answered_is_told_another_supervisor_must_recheck(client, personas, finding):
    post(client, personas.district_admin, action_url(finding, "answer"), action(finding, "answer", result="已完工。"))
    response = get(client, personas.district_admin, finding_url(finding))
    assert "recheck" not in forms_shown(response)
    assert 'data-testid="own-answer"' in html(response)
    before = snapshot(finding)
    response = post(
        client, personas.district_admin, action_url(finding, "recheck"), action(finding, "recheck", decision="approve")
    )
    assert response.status_code == 200
    assert "复查人不能是整改结果的填报人" in html(response)
    assert snapshot(finding) == before


def test_rejecting_without_a_note_says_so_beside_the_note_and_changes_nothing(client, personas, finding):
    post(client, personas.village_cadre, action_url(finding, "answer"), action(finding, "answer", result="已完工。"))
    before = snapshot(finding)
    response = post(
        client, personas.supervisor, action_url(finding, "recheck"), action(finding, "recheck", decision="reject")
    )
    assert response.status_code == 200
    assert 'data-field-error="note">退回整改须填写复查意见，说明哪里没有整改到位。' in html(response)
    assert snapshot(finding) == before
    response = post(
        client,
        personas.supervisor,
        action_url(finding, "recheck"),
        action(finding, "recheck", decision="reject", note="未验收。"),
    )
    assert response.status_code == 302
    assert Rectification.objects.get(finding=finding).status == Status.IN_PROGRESS


def test_an_answer_without_a_result_says_so_beside_the_field(client, personas, finding):
    before = snapshot(finding)
    response = post(client, personas.village_cadre, action_url(finding, "answer"), action(finding, "answer", result=""))
    assert response.status_code == 200
    assert 'data-field-error="result">请填写整改结果。' in html(response)
    assert snapshot(finding) == before


def test_an_action_on_a_page_that_is_out_of_date_shows_a_conflict_and_changes_nothing(client, personas, finding):
    stale = action(finding, "answer", result="已完工。")
    post(client, personas.township_a, action_url(finding, "start"), action(finding, "start"))
    before = snapshot(finding)
    response = post(client, personas.village_cadre, action_url(finding, "answer"), stale)
    assert response.status_code == 409
    page = html(response)
    assert 'data-testid="conflict"' in page and "整改中" in page and str(personas.township_a) in page
    assert snapshot(finding) == before


@pytest.mark.parametrize(
    ("persona", "name", "data"),
    [
        ("township_b", "answer", {"result": "已完工。"}),
        ("township_b", "start", {}),
        ("leader", "answer", {"result": "已完工。"}),
        ("supervisor", "answer", {"result": "已完工。"}),
        ("village_cadre", "accountability", {"subject": "吴玉峰", "measure": "interview", "decided_on": "2017-09-10"}),
        ("township_a", "recheck", {"decision": "approve"}),
    ],
)
def test_an_action_the_user_may_not_take_is_404_and_changes_nothing(client, personas, finding, persona, name, data):
    if name == "recheck":
        post(
            client, personas.village_cadre, action_url(finding, "answer"), action(finding, "answer", result="已完工。")
        )
    before = snapshot(finding)
    payload = action(finding, name, subject_kind="person", decided_by="discipline", **data)
    response = post(client, getattr(personas, persona), action_url(finding, name), payload)
    assert response.status_code == 404
    assert snapshot(finding) == before


ACCOUNTABILITY = {
    "subject_kind": "person",
    "subject": "吴玉峰",
    "measure": "interview",
    "decided_by": "discipline",
    "decided_on": "2017-09-10",
}
# What each action posts when the user may take it (a recheck also needs an answer first: see ``ready``).
PAYLOADS = {
    "start": {},
    "answer": {"result": "已完工。"},
    "recheck": {"decision": "approve"},
    "accountability": ACCOUNTABILITY,
}


def ready(client, personas, finding, name):
    """The finding in the state where ``name`` is offered: a recheck needs the village's answer first."""
    if name == "recheck":
        post(
            client, personas.village_cadre, action_url(finding, "answer"), action(finding, "answer", result="已完工。")
        )


@pytest.mark.parametrize("name", ACTIONS)
def test_each_action_has_its_own_url_that_refuses_get(client, personas, finding, name):
    ready(client, personas, finding, name)
    before = snapshot(finding)
    for persona in ("supervisor", "village_cadre", "township_b"):
        response = get(client, getattr(personas, persona), action_url(finding, name))
        assert response.status_code == 405
    assert snapshot(finding) == before


def test_the_finding_page_and_its_evidence_files_refuse_post(client, personas, finding, media):
    post(
        client,
        personas.village_cadre,
        action_url(finding, "answer"),
        action(finding, "answer", result="已完工。", files=factories.evidence_upload("png")),
    )
    evidence = RectificationEvidence.objects.get()
    before = snapshot(finding)
    payload = action(finding, "recheck", decision="approve")
    assert post(client, personas.supervisor, finding_url(finding), {"action": "recheck", **payload}).status_code == 405
    assert post(client, personas.supervisor, evidence_url(finding, evidence), {}).status_code == 405
    assert snapshot(finding) == before
    # The page no longer serves files from a query string: ?evidence= shows the page.
    response = get(client, personas.supervisor, finding_url(finding), {"evidence": evidence.pk})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/html")


@pytest.mark.parametrize("name", ACTIONS)
def test_each_action_is_404_for_a_user_of_another_area_who_could_take_it_in_their_own(
    client, personas, area, finding, name
):
    """Staff of another township (start, answer) and a supervisor of another district (recheck, accountability)
    get the same 404 as for a finding that does not exist: nothing tells them the finding is there."""
    ready(client, personas, finding, name)
    other_district = factories.district("511921", "恩阳区")
    outsiders = [personas.township_b, factories.user(factories.ROLES.SUPERVISOR, other_district, username="enyang")]
    before = snapshot(finding)
    payload = action(finding, name, **PAYLOADS[name])
    missing = reverse(f"supervision:finding_{name}", args=[finding.pk + 1000])
    for outsider in outsiders:
        refused = post(client, outsider, action_url(finding, name), payload)
        assert refused.status_code == 404
        assert "进度滞后" not in html(refused)
        assert post(client, outsider, missing, payload).status_code == 404
    assert snapshot(finding) == before


def test_each_form_on_the_finding_page_posts_to_its_own_action_url(client, personas, finding, media):
    page = html(get(client, personas.district_admin, finding_url(finding)))
    for name in ("start", "answer", "accountability"):
        form = re.search(rf'<form method="post" action="([^"]+)"[^>]*data-testid="{name}-form"', page)
        assert form and form.group(1) == action_url(finding, name)
    assert 'name="action"' not in page
    post(
        client,
        personas.village_cadre,
        action_url(finding, "answer"),
        action(finding, "answer", result="已完工。", files=factories.evidence_upload("png")),
    )
    page = html(get(client, personas.supervisor, finding_url(finding)))
    form = re.search(r'<form method="post" action="([^"]+)"[^>]*data-testid="recheck-form"', page)
    assert form and form.group(1) == action_url(finding, "recheck")
    evidence = RectificationEvidence.objects.get()
    assert f'href="{evidence_url(finding, evidence)}"' in page


def test_a_second_click_on_the_same_action_is_a_conflict_and_changes_nothing(client, personas, finding):
    payload = action(finding, "start")
    assert post(client, personas.township_a, action_url(finding, "start"), payload).status_code == 302
    before = snapshot(finding)
    response = post(client, personas.township_a, action_url(finding, "start"), payload)
    assert response.status_code == 409
    assert 'data-testid="conflict"' in html(response)
    assert snapshot(finding) == before


def test_an_evidence_file_is_served_only_through_its_own_findings_page_to_those_who_see_it(
    client, personas, area, finding, media
):
    photo = factories.evidence_upload("png")
    post(
        client,
        personas.village_cadre,
        action_url(finding, "answer"),
        action(finding, "answer", result="已完工。", files=photo),
    )
    evidence = RectificationEvidence.objects.get()
    assert get(client, personas.leader, evidence_url(finding, evidence)).status_code == 200
    assert get(client, personas.township_b, evidence_url(finding, evidence)).status_code == 404
    other = file_finding(area.village_a2, personas.supervisor)
    assert get(client, personas.supervisor, evidence_url(other, evidence)).status_code == 404


def test_a_supervisor_records_accountability_on_the_finding_page(client, personas, finding):
    data = {
        "subject_kind": "person",
        "subject": "吴玉峰",
        "subject_post": "白庙乡副乡长",
        "measure": "interview",
        "decided_by": "discipline",
        "decided_on": "2017-09-12",
        "document_number": "巴州纪〔2017〕15号",
        "note": "",
    }
    response = post(client, personas.supervisor, action_url(finding, "accountability"), data)
    assert response.status_code == 302
    record = Accountability.objects.get()
    assert (record.subject, record.measure, record.decided_on) == ("吴玉峰", "interview", datetime.date(2017, 9, 12))
    page = html(client.get(finding_url(finding)))
    assert re.search(r'data-testid="accountability">.*?吴玉峰.*?约谈.*?巴州纪〔2017〕15号', page, re.S)
    assert "责任追究：吴玉峰 约谈" in page


def test_the_finding_page_makes_the_same_number_of_queries_however_long_its_history(
    client, personas, finding, django_assert_num_queries, media
):
    url = finding_url(finding)

    def count_for(user, expected):
        client.force_login(user)
        with django_assert_num_queries(expected):
            return client.get(url)

    # savepoint; session; user; the finding with its target, rectification and people; evidence; accountability;
    # opinions (督导意见); the finding's history; the rectification's history; the user's district (navigation); the
    # navigation's 我的待办 and 消息 numbers (each person's first page since the data changed: the data versions with
    # the stored numbers, the numbers counted in one query, stored); for those who read supervision, the escalations
    # (提请协调); release savepoint. For an area's user, one more: may they answer it (a supervisor's answerable scope
    # is empty: no query), and no escalations.
    count_for(personas.supervisor, 15)
    count_for(personas.village_cadre, 15)
    for n in range(5):
        answer = action(finding, "answer", result=f"第{n}次整改。", files=factories.evidence_upload("png"))
        post(client, personas.village_cadre, action_url(finding, "answer"), answer)
        post(
            client,
            personas.supervisor,
            action_url(finding, "recheck"),
            action(finding, "recheck", decision="reject", note=f"第{n}次未通过。"),
        )
        services.accountability_add(
            finding_id=finding.pk,
            user=personas.supervisor,
            data={"subject": f"责任人{n}", "measure": "reminder", "decided_on": TODAY},
        )
    response = count_for(personas.supervisor, 15)
    count_for(personas.village_cadre, 15)
    assert len(response.context["timeline"]) == 2 + 2 * 5 + 5  # filed; 5 answers and 5 rejections; 5 accountability
    assert len(response.context["evidence"]) == 5
    assert len(response.context["accountabilities"]) == 5
