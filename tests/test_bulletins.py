"""Bulletins (通报): numbering 第N期, what a generation lists and ranks, drafts and publishing, who sees
what, the print page and the Excel file."""

import datetime
import io
import re
import threading
import zipfile
from decimal import Decimal
from urllib.parse import quote

import pytest
from django.db import connection, connections
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from bazhou.core.models import Role
from supervision import bulletin_data, bulletin_services, exports
from supervision.models import Bulletin, Rectification
from tasks.models import Task
from tests import factories

pytestmark = pytest.mark.usefixtures("pinned_today")

TODAY = datetime.date(2017, 9, 15)
SEPTEMBER = {"period_start": datetime.date(2017, 9, 1), "period_end": datetime.date(2017, 9, 30)}
LIST = reverse("supervision:bulletins")
CREATE = reverse("supervision:bulletin_create")


def detail(bulletin):
    return reverse("supervision:bulletin", args=[bulletin.pk])


def generate(user, today=TODAY, **period):
    return bulletin_services.bulletin_generate(user=user, today=today, **(period or SEPTEMBER))


@pytest.fixture
def data(area, personas):
    """Hand-built rows on 2017-09-15.

    白庙乡: four overdue rows (three of 吴玉峰, one of 秦和平) and one open rectification, not yet due;
    寺岭乡: one overdue row (岳明), an overdue and an open rectification, and a closed one;
    plus rows that are not overdue (done, due later, withdrawn) and another district's overdue row.
    """

    class Data:
        plan_a = factories.plan(area.village_a)
        plan_a2 = factories.plan(area.village_a2)
        plan_b = factories.plan(area.village_b)
        wu = {"responsible_person": "吴玉峰", "responsible_unit": "白庙乡人民政府"}
        road = factories.task(plan_a, item="通村硬化路", status="in_progress", progress=50, **wu)
        water = factories.task(plan_a, item="安全饮用水", category="water", **wu)
        house = factories.task(
            plan_a,
            area.household_a,
            item="危房改造",
            category="housing",
            deadline=datetime.date(2017, 9, 10),
            responsible_person="秦和平",
            responsible_unit="区住建局",
        )
        culture = factories.task(
            plan_a2, item="村文化室", category="culture_room", deadline=datetime.date(2017, 7, 31), **wu
        )
        siling = factories.task(
            plan_b,
            item="大寺村产业路",
            deadline=datetime.date(2017, 9, 1),
            responsible_person="岳明",
            responsible_unit="寺岭乡人民政府",
        )
        done = factories.done_task(plan_a, item="已完成的路")
        later = factories.task(plan_a, item="十月的路", deadline=datetime.date(2017, 10, 31))
        withdrawn = factories.task(plan_a, item="撤销的路", is_removed=True, removed_reason="重复录入")

        rect_a = factories.rectification(
            factories.finding(road), deadline=datetime.date(2017, 9, 20), responsible_person="吴玉峰"
        )
        rect_b_overdue = factories.rectification(
            factories.finding(area.township_b, type="conduct", description="帮扶干部未按要求入户"),
            deadline=datetime.date(2017, 9, 10),
            responsible_unit="寺岭乡人民政府",
            responsible_person="岳明",
        )
        rect_b_open = factories.rectification(
            factories.finding(area.household_b, type="housing", description="仍住C级危房"),
            status="in_progress",
        )
        rect_b_closed = factories.rectification(
            factories.finding(area.village_b),
            status="closed",
            result="已整改",
            answered_by=personas.township_b,
            rechecked_by=personas.supervisor,
            rechecked_at=timezone.now(),
            closed_on=datetime.date(2017, 9, 5),
        )
        rect_found_later = factories.rectification(
            factories.finding(area.village_b, found_on=datetime.date(2017, 9, 20)),
            deadline=datetime.date(2017, 11, 20),
        )

        other_district = factories.district("511921", "恩阳区")
        other_township = factories.township(other_district, number=101, name="恩阳镇")
        other_task = factories.task(factories.plan(factories.village(other_township)), item="恩阳区的路")

    return Data


# ---------------------------------------------------------------------------------------------
# What a generation lists and ranks
# ---------------------------------------------------------------------------------------------


def test_it_lists_the_districts_overdue_rows_and_open_rectifications_as_of_today(data, personas):
    bulletin = generate(personas.supervisor)
    snap = bulletin.snapshot
    assert snap["as_of"] == "2017-09-15"  # the period runs to 9-30: counted as of today
    ids = [t["id"] for t in snap["tasks"]]
    assert sorted(ids) == sorted([data.road.pk, data.water.pk, data.house.pk, data.culture.pk, data.siling.pk])
    assert [r["id"] for r in snap["rectifications"]] == [data.rect_a.pk, data.rect_b_overdue.pk, data.rect_b_open.pk]
    assert snap["totals"] == {
        "overdue_tasks": 5,
        "baseline_overdue_tasks": 0,  # the plans are drafts: no baseline (tests/test_baseline.py counts it)
        "new_overdue_tasks": 2,  # deadlines 9-01 and 9-10, inside the period
        "open_rectifications": 3,
        "overdue_rectifications": 1,
        "townships_with_overdue": 2,
        "people_with_overdue": 3,
    }


def test_a_row_is_stored_as_the_bulletin_prints_it(data, personas):
    snap = generate(personas.supervisor).snapshot
    house = next(t for t in snap["tasks"] if t["id"] == data.house.pk)
    assert house == {
        "id": data.house.pk,
        "township_code": "511902204",
        "township": "白庙乡",
        "village": "茅垭村",
        "household": "成员户",  # the factories' head is called 成员
        "category": "危房改造",
        "item": "危房改造",
        "deadline": "2017-09-10",
        "deadline_text": "",
        "baseline_deadline": None,  # a draft plan: no baseline (tests/test_baseline.py has the approved ones)
        "baseline_overdue": False,
        "days_overdue": 5,
        "status": "未启动",
        "progress": 0,
        "unit": "区住建局",
        "person": "秦和平",
    }
    township_rect, household_rect = (r for r in snap["rectifications"] if r["township"] == "寺岭乡")
    assert (township_rect["target"], township_rect["type"], township_rect["overdue"]) == ("寺岭乡", "帮扶作风", True)
    assert township_rect["days_overdue"] == 5
    assert (household_rect["target"], household_rect["overdue"], household_rect["status"]) == (
        "大寺村 成员户",
        False,
        "整改中",
    )


def test_townships_are_ranked_by_overdue_rows_and_open_rectifications_worst_first(data, personas):
    townships = generate(personas.supervisor).snapshot["townships"]
    assert [
        (t["rank"], t["name"], t["overdue_tasks"], t["open_rectifications"], t["overdue_rectifications"])
        for t in townships
    ] == [
        (1, "白庙乡", 4, 1, 0),
        (2, "寺岭乡", 1, 2, 1),
    ]


def test_people_are_ranked_by_overdue_rows_and_equal_counts_share_a_rank(data, personas):
    people = generate(personas.supervisor).snapshot["people"]
    assert [(p["rank"], p["person"], p["unit"], p["overdue_tasks"], p["longest_days"]) for p in people] == [
        (1, "吴玉峰", "白庙乡人民政府", 3, 46),
        (2, "岳明", "寺岭乡人民政府", 1, 14),  # longer overdue first among equals
        (2, "秦和平", "区住建局", 1, 5),
    ]


def test_a_past_period_is_counted_as_of_its_last_day(data, personas):
    snap = generate(
        personas.supervisor, period_start=datetime.date(2017, 8, 1), period_end=datetime.date(2017, 8, 31)
    ).snapshot
    assert snap["as_of"] == "2017-08-31"
    # On 8-31 only the row due 7-31 was past its deadline (a deadline of 8-31 is not overdue that day).
    assert [t["id"] for t in snap["tasks"]] == [data.culture.pk]
    assert data.rect_found_later.pk not in [r["id"] for r in snap["rectifications"]]


def test_the_draft_body_and_title_are_written_in_chinese(data, personas):
    bulletin = generate(personas.supervisor)
    assert bulletin.title == "关于2017年9月脱贫攻坚施工图任务推进情况的通报"
    assert bulletin.body.startswith("截至2017年9月15日，全区施工图任务逾期未完成5项（其中本期新增2项），")
    assert "督查发现问题尚未整改销号3项，其中超过整改时限1项。" in bulletin.body
    assert "白庙乡（逾期任务4项、未销号问题1项）" in bulletin.body
    assert "报巴州区脱贫办" in bulletin.body
    assert (bulletin.state, bulletin.issued_on, bulletin.created_by) == ("draft", TODAY, personas.supervisor)


def test_a_district_with_nothing_overdue_says_so(area, personas):
    bulletin = generate(personas.district_admin)
    assert bulletin.snapshot["tasks"] == [] and bulletin.snapshot["townships"] == []
    assert "全区施工图任务无逾期未完成项目；督查发现问题均已整改销号。" in bulletin.body


def test_the_snapshot_does_not_follow_later_changes_to_the_data(data, personas, client):
    bulletin = generate(personas.supervisor)
    before = bulletin.snapshot
    Task.objects.filter(pk=data.road.pk).update(item="改名后的路", status="done", progress=100, completed_on=TODAY)
    Rectification.objects.filter(pk=data.rect_a.pk).delete()
    bulletin.refresh_from_db()
    assert bulletin.snapshot == before
    client.force_login(personas.supervisor)
    page = client.get(detail(bulletin)).content.decode()
    assert "通村硬化路" in page and "改名后的路" not in page


def test_generation_takes_the_same_number_of_queries_for_ten_times_the_rows(area, personas, django_assert_num_queries):
    def grow(villages):
        for village in factories.populate(area.township_a, villages=villages, households=2, household_tasks=2):
            task = village.plans.get().tasks.first()
            factories.rectification(factories.finding(task), deadline=datetime.date(2017, 9, 1))
            factories.rectification(factories.finding(village))

    grow(1)
    # savepoint (the service's transaction); the user's district (the access check); the overdue rows; the open
    # rectifications; the last number of the year; savepoint for the insert; the insert; its history record;
    # release; release.
    with django_assert_num_queries(10):
        small = generate(personas.supervisor)
    grow(9)
    with django_assert_num_queries(10):
        large = generate(personas.supervisor)
    assert (len(small.snapshot["tasks"]), len(large.snapshot["tasks"])) == (5, 50)
    assert (len(small.snapshot["rectifications"]), len(large.snapshot["rectifications"])) == (2, 20)


# ---------------------------------------------------------------------------------------------
# Numbering: 第1期, 第2期 … per district and year, safe when two generations race
# ---------------------------------------------------------------------------------------------


def test_numbers_run_per_district_and_year(area, personas):
    first, second = generate(personas.supervisor), generate(personas.district_admin)
    assert [(b.year, b.number) for b in (first, second)] == [(2017, 1), (2017, 2)]
    next_year = generate(
        personas.supervisor,
        today=datetime.date(2018, 1, 5),
        period_start=datetime.date(2017, 12, 1),
        period_end=datetime.date(2017, 12, 31),
    )
    assert (next_year.year, next_year.number, next_year.issued_on) == (2018, 1, datetime.date(2018, 1, 5))
    other = factories.district("511921", "恩阳区")
    other_supervisor = factories.user(Role.SUPERVISOR, other)
    assert (generate(other_supervisor).district, generate(other_supervisor).number) == (other, 2)


def test_a_number_taken_meanwhile_is_read_again(area, personas, monkeypatch):
    """As when another generation commits number 1 between this one's read and its insert."""
    taken = generate(personas.supervisor)
    reads = []
    real = bulletin_services.next_number

    def stale_then_real(district, year):
        reads.append(year)
        return 1 if len(reads) == 1 else real(district, year)

    monkeypatch.setattr(bulletin_services, "next_number", stale_then_real)
    bulletin = generate(personas.district_admin)
    assert (bulletin.number, len(reads)) == (2, 2)
    assert sorted(Bulletin.objects.values_list("number", flat=True)) == [taken.number, 2]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite runs one writing transaction at a time")
@pytest.mark.django_db(transaction=True)
def test_two_generations_at_the_same_moment_take_different_numbers(area, personas, monkeypatch):
    """Both read “no bulletin yet” before either inserts: the second insert waits for the first transaction,
    is refused by the unique constraint, and takes the next number."""
    real = bulletin_services.next_number
    barrier = threading.Barrier(2, timeout=20)
    local = threading.local()

    reads = []

    def read_together(district, year):
        number = real(district, year)
        reads.append(number)
        if not getattr(local, "waited", False):
            local.waited = True
            barrier.wait()
        return number

    monkeypatch.setattr(bulletin_services, "next_number", read_together)
    numbers, errors = [], []

    def run(user):
        try:
            numbers.append(generate(user).number)
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(u,)) for u in (personas.supervisor, personas.district_admin)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert sorted(numbers) == [1, 2]
    assert sorted(reads) == [1, 1, 2]  # both read 1; the refused one read again and took 2


# ---------------------------------------------------------------------------------------------
# Pages: create, edit the draft, publish, read-only afterwards
# ---------------------------------------------------------------------------------------------


def test_a_supervisor_generates_a_draft_from_the_form(data, personas, client):
    client.force_login(personas.supervisor)
    form = client.get(CREATE)
    assert form.status_code == 200
    assert form.context["form"]["period_start"].value() == datetime.date(2017, 9, 1)
    response = client.post(
        CREATE, {"period_start": "2017-09-01", "period_end": "2017-09-30", "issuer": "poverty_office"}
    )
    bulletin = Bulletin.objects.get()
    assert response.status_code == 302 and response.url == detail(bulletin)
    page = client.get(detail(bulletin))
    text = page.content.decode()
    assert "已生成通报草稿（2017年第1期），请核对正文后发布。" in text
    assert 'data-testid="bulletin-edit-form"' in text and 'data-testid="bulletin-publish"' in text
    assert page.context["report"].full_title == "巴州区脱贫攻坚工作通报 2017年第1期"


def test_the_form_says_what_is_wrong_beside_the_field(area, personas, client):
    client.force_login(personas.district_admin)
    response = client.post(
        CREATE, {"period_start": "2017-09-10", "period_end": "2017-09-01", "issuer": "poverty_office"}
    )
    assert response.status_code == 200
    assert response.context["form"].errors["period_end"] == ["通报期间的止日不能早于起日。"]
    response = client.post(
        CREATE, {"period_start": "2017-10-01", "period_end": "2017-10-31", "issuer": "poverty_office"}
    )
    assert response.context["form"].errors["period_start"] == ["通报期间不能从今天（2017年9月15日）之后开始。"]
    response = client.post(CREATE, {"period_start": "9月1日", "period_end": "", "issuer": "poverty_office"})
    assert response.context["form"].errors == {
        "period_start": ["请输入有效日期，如 2017-09-01。"],
        "period_end": ["请填写日期。"],
    }
    assert 'data-field-error="period_end"' in response.content.decode()
    assert not Bulletin.objects.exists()


def edit_data(bulletin, **changes):
    return {
        "expected": bulletin_services.fingerprint(bulletin),
        "title": bulletin.title,
        "issuer": bulletin.issuer,
        "issued_on": bulletin.issued_on.isoformat(),
        "body": bulletin.body,
        **changes,
    }


def test_the_draft_is_edited_and_then_published(data, personas, client):
    bulletin = generate(personas.supervisor)
    client.force_login(personas.district_admin)
    response = client.post(detail(bulletin), edit_data(bulletin, body="截至9月15日，逾期5项。\n\n请限期整改。"))
    assert response.status_code == 302
    bulletin.refresh_from_db()
    assert bulletin.body == "截至9月15日，逾期5项。\n\n请限期整改。"

    response = client.post(
        reverse("supervision:bulletin_publish", args=[bulletin.pk]),
        {"expected": bulletin_services.fingerprint(bulletin)},
    )
    assert response.status_code == 302
    bulletin.refresh_from_db()
    assert (bulletin.state, bulletin.published_by) == ("published", personas.district_admin)
    assert bulletin.published_at is not None
    page = client.get(detail(bulletin)).content.decode()
    assert "已发布2017年第1期通报。发布后不能再修改。" in page
    assert 'data-testid="bulletin-edit-form"' not in page and 'data-testid="bulletin-publish"' not in page
    assert "<p>截至9月15日，逾期5项。</p>" in page


def test_a_published_bulletin_cannot_be_changed(data, personas, client):
    bulletin = generate(personas.supervisor)
    bulletin_services.bulletin_publish_draft(
        bulletin_id=bulletin.pk, user=personas.supervisor, expected=bulletin_services.fingerprint(bulletin)
    )
    bulletin.refresh_from_db()
    before = Bulletin.objects.filter(pk=bulletin.pk).values().get()
    client.force_login(personas.supervisor)

    response = client.post(detail(bulletin), edit_data(bulletin, body="改过的正文"), follow=True)
    assert "该通报已发布，不能再修改。" in response.content.decode()
    response = client.post(
        reverse("supervision:bulletin_publish", args=[bulletin.pk]),
        {"expected": bulletin_services.fingerprint(bulletin)},
        follow=True,
    )
    assert "该通报已发布，不能再修改。" in response.content.decode()
    with pytest.raises(Exception, match="该通报已发布"):
        bulletin_services.bulletin_update_draft(
            bulletin_id=bulletin.pk,
            user=personas.supervisor,
            expected=bulletin_services.fingerprint(bulletin),
            title="新标题",
            issuer="poverty_office",
            issued_on=TODAY,
            body="新正文",
        )
    assert Bulletin.objects.filter(pk=bulletin.pk).values().get() == before


def test_an_edit_on_a_draft_changed_meanwhile_is_refused_with_the_current_text(data, personas, client):
    bulletin = generate(personas.supervisor)
    stale = edit_data(bulletin, body="我的修改")
    bulletin_services.bulletin_update_draft(
        bulletin_id=bulletin.pk,
        user=personas.district_admin,
        expected=bulletin_services.fingerprint(bulletin),
        title=bulletin.title,
        issuer=bulletin.issuer,
        issued_on=bulletin.issued_on,
        body="管理员的修改",
    )
    client.force_login(personas.supervisor)
    response = client.post(detail(bulletin), stale)
    assert response.status_code == 409
    assert "已被他人修改，未保存" in response.content.decode()
    assert response.context["form"]["body"].value() == "管理员的修改"
    publish = client.post(reverse("supervision:bulletin_publish", args=[bulletin.pk]), {"expected": stale["expected"]})
    assert publish.status_code == 302
    bulletin.refresh_from_db()
    assert (bulletin.body, bulletin.state) == ("管理员的修改", "draft")


def test_the_issue_date_stays_in_the_bulletins_year_and_the_body_is_needed_to_publish(data, personas, client):
    bulletin = generate(personas.supervisor)
    client.force_login(personas.supervisor)
    response = client.post(detail(bulletin), edit_data(bulletin, issued_on="2018-01-02", body=""))
    assert response.context["form"].errors["issued_on"] == ["本期是2017年第1期，发布日期须在2017年内。"]
    response = client.post(detail(bulletin), edit_data(bulletin, body="  "))
    assert response.status_code == 302
    bulletin.refresh_from_db()
    response = client.post(
        reverse("supervision:bulletin_publish", args=[bulletin.pk]),
        {"expected": bulletin_services.fingerprint(bulletin)},
        follow=True,
    )
    assert "正文为空，不能发布。" in response.content.decode()
    bulletin.refresh_from_db()
    assert bulletin.state == "draft"


# ---------------------------------------------------------------------------------------------
# Who sees what
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def published_and_draft(data, personas):
    published = generate(personas.supervisor)
    bulletin_services.bulletin_publish_draft(
        bulletin_id=published.pk, user=personas.supervisor, expected=bulletin_services.fingerprint(published)
    )
    draft = generate(personas.supervisor)
    other_supervisor = factories.user(Role.SUPERVISOR, data.other_district, username="enyang")
    other = generate(other_supervisor)
    bulletin_services.bulletin_publish_draft(
        bulletin_id=other.pk, user=other_supervisor, expected=bulletin_services.fingerprint(other)
    )
    return published, draft, other


@pytest.mark.parametrize("who", ["township_a", "township_b", "village_cadre", "leader"])
def test_everyone_in_the_district_reads_its_published_bulletins_only(client, personas, published_and_draft, who):
    published, draft, other = published_and_draft
    client.force_login(getattr(personas, who))
    listed = client.get(LIST).context["bulletins"]
    assert listed == [published]
    assert client.get(detail(published)).status_code == 200
    assert client.get(reverse("supervision:bulletin_print", args=[published.pk])).status_code == 200
    assert client.get(reverse("supervision:bulletin_xlsx", args=[published.pk])).status_code == 200
    for hidden in (draft, other):
        assert client.get(detail(hidden)).status_code == 404
        assert client.get(reverse("supervision:bulletin_print", args=[hidden.pk])).status_code == 404
        assert client.get(reverse("supervision:bulletin_xlsx", args=[hidden.pk])).status_code == 404


@pytest.mark.parametrize("who", ["township_a", "village_cadre", "leader"])
def test_only_supervisors_and_district_admins_generate_edit_and_publish(client, personas, published_and_draft, who):
    published, draft, _ = published_and_draft
    client.force_login(getattr(personas, who))
    before = list(Bulletin.objects.order_by("pk").values())
    assert 'data-testid="bulletin-create"' not in client.get(LIST).content.decode()
    assert client.get(CREATE).status_code == 404
    assert (
        client.post(
            CREATE, {**{k: v.isoformat() for k, v in SEPTEMBER.items()}, "issuer": "poverty_office"}
        ).status_code
        == 404
    )
    assert client.post(detail(published), edit_data(published, body="改")).status_code == 404
    assert (
        client.post(
            reverse("supervision:bulletin_publish", args=[draft.pk]), {"expected": bulletin_services.fingerprint(draft)}
        ).status_code
        == 404
    )
    assert list(Bulletin.objects.order_by("pk").values()) == before


def test_supervisors_see_their_districts_drafts_but_not_another_districts(client, personas, published_and_draft):
    published, draft, other = published_and_draft
    client.force_login(personas.supervisor)
    assert client.get(LIST).context["bulletins"] == [draft, published]
    assert client.get(detail(draft)).status_code == 200
    assert client.get(detail(other)).status_code == 404
    before = Bulletin.objects.filter(pk=other.pk).values().get()
    assert client.post(reverse("supervision:bulletin_publish", args=[other.pk]), {"expected": "x"}).status_code == 404
    assert Bulletin.objects.filter(pk=other.pk).values().get() == before


def test_the_list_needs_a_login(client, published_and_draft):
    response = client.get(LIST)
    assert response.status_code == 302 and response.url.startswith(reverse("login"))


# ---------------------------------------------------------------------------------------------
# Print page and Excel file
# ---------------------------------------------------------------------------------------------


def test_the_print_page_is_an_a4_document_with_the_rankings_and_the_rows(data, personas, client):
    bulletin = generate(personas.supervisor)
    bulletin_services.bulletin_publish_draft(
        bulletin_id=bulletin.pk, user=personas.supervisor, expected=bulletin_services.fingerprint(bulletin)
    )
    client.force_login(personas.township_a)
    response = client.get(reverse("supervision:bulletin_print", args=[bulletin.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "<title>巴州区脱贫攻坚工作通报 2017年第1期</title>" in html
    assert re.search(r'data-testid="print-title">.*巴州区脱贫攻坚工作通报.*2017年第1期', html)
    assert 'data-testid="print-issuer">巴州区脱贫办<' in html
    assert 'data-testid="print-date">2017年9月15日<' in html
    assert "截至2017年9月15日，全区施工图任务逾期未完成5项" in html
    assert html.count('data-testid="township-row"') == 2 and html.count('data-testid="person-row"') == 3
    assert html.count('data-testid="overdue-task-row"') == 5 and html.count('data-testid="rectification-row"') == 3
    assert "/static/css/bulletin_print.css" in html
    assert "<script" not in html and "style=" not in html and "<style" not in html
    assert 'data-testid="draft-mark"' not in html


def test_a_printed_draft_says_it_is_a_draft(data, personas, client):
    bulletin = generate(personas.supervisor)
    client.force_login(personas.supervisor)
    html = client.get(reverse("supervision:bulletin_print", args=[bulletin.pk])).content.decode()
    assert 'data-testid="draft-mark">草稿' in html


def test_the_excel_rows_are_built_apart_from_the_workbook(data, personas):
    report = bulletin_data.Report.of(generate(personas.supervisor))
    townships, people, tasks, rects = exports.bulletin_tables(report)
    assert townships.rows == [[1, "白庙乡", 4, 1, 0, 5], [2, "寺岭乡", 1, 2, 1, 3]]
    assert people.columns[:4] == ["排名", "责任人", "责任单位", "逾期任务（项）"]
    # By township, village (茅垭村 before 百花村 by code), deadline.
    assert [row[5] for row in tasks.rows] == ["通村硬化路", "安全饮用水", "危房改造", "村文化室", "大寺村产业路"]
    assert tasks.rows[3][:8] == [4, "白庙乡", "百花村", "", "文化室", "村文化室", datetime.date(2017, 7, 31), 46]
    assert tasks.rows[2][3] == "成员户"
    assert len(rects.rows) == 3


def sheet_xml(content: bytes) -> dict[str, str]:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        return {n: archive.read(n).decode() for n in archive.namelist() if n.startswith("xl/worksheets/")}


def test_the_excel_file_has_the_rankings_and_rows_and_never_a_formula(data, personas, client):
    Task.objects.filter(pk=data.road.pk).update(item="=SUM(A1)", responsible_person="+86 139")
    Task.objects.filter(pk=data.water.pk).update(item="-1+2", responsible_unit="@白庙乡")
    bulletin = generate(personas.supervisor)
    client.force_login(personas.supervisor)
    response = client.get(reverse("supervision:bulletin_xlsx", args=[bulletin.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    name = "巴州区脱贫攻坚工作通报2017年第1期（草稿）.xlsx"
    assert response["Content-Disposition"] == (
        f"attachment; filename=\"bulletin-2017-01-draft.xlsx\"; filename*=UTF-8''{quote(name)}"
    )

    for xml in sheet_xml(response.content).values():
        assert "<f>" not in xml and "<f " not in xml
    workbook = load_workbook(io.BytesIO(response.content))
    assert workbook.sheetnames == ["乡镇排名", "责任人排名", "逾期任务", "未销号整改"]
    ranking = workbook["乡镇排名"]
    assert (
        ranking["A1"].value == "巴州区脱贫攻坚工作通报 2017年第1期（草稿） 附表1 乡镇（街道）排名（截至2017年9月15日）"
    )
    assert [c.value for c in ranking[2]] == [
        "排名",
        "乡镇（街道）",
        "逾期任务（项）",
        "未销号问题（项）",
        "其中超过整改时限（项）",
        "合计",
    ]
    assert [c.value for c in ranking[3]] == [1, "白庙乡", 4, 1, 0, 5]
    rows = {row[5]: row for row in workbook["逾期任务"].iter_rows(min_row=3, values_only=True)}
    assert rows["=SUM(A1)"][11] == "+86 139"
    assert rows["-1+2"][10] == "@白庙乡"
    assert rows["村文化室"][6].date() == datetime.date(2017, 7, 31)  # a real date cell, read back as a datetime
    sheet = workbook["逾期任务"]
    for cell in (c for row in sheet.iter_rows(min_row=3) for c in row if isinstance(c.value, str)):
        assert cell.data_type == "s"
    # Chinese columns are wide enough for their header: 项目 holds “产业扶持”-like text, 乡镇（街道） 12 columns.
    assert sheet.column_dimensions["B"].width >= 12
    assert workbook["未销号整改"].max_row == 2 + 3


def test_a_published_bulletin_exports_under_its_plain_name(data, personas, client):
    bulletin = generate(personas.supervisor)
    bulletin_services.bulletin_publish_draft(
        bulletin_id=bulletin.pk, user=personas.supervisor, expected=bulletin_services.fingerprint(bulletin)
    )
    client.force_login(personas.leader)
    response = client.get(reverse("supervision:bulletin_xlsx", args=[bulletin.pk]))
    assert 'filename="bulletin-2017-01.xlsx"' in response["Content-Disposition"]
    assert quote("巴州区脱贫攻坚工作通报2017年第1期.xlsx") in response["Content-Disposition"]


def test_illegal_control_characters_do_not_break_the_file(data, personas):
    Task.objects.filter(pk=data.road.pk).update(item="通村\x07硬化路")
    report = bulletin_data.Report.of(generate(personas.supervisor))
    workbook = load_workbook(io.BytesIO(exports.render_bulletin(exports.bulletin_tables(report))))
    items = [row[5] for row in workbook["逾期任务"].iter_rows(min_row=3, values_only=True)]
    assert "通村硬化路" in items


def test_money_is_not_part_of_the_snapshot(data, personas):
    """The snapshot is JSON: no Decimal sneaks in (funds are not listed), and it round-trips unchanged."""
    Task.objects.filter(pk=data.road.pk).update(planned_funds=Decimal("170.5"))
    bulletin = generate(personas.supervisor)
    bulletin.refresh_from_db()
    assert bulletin.snapshot["tasks"][0].keys() >= {"id", "item", "deadline"}
