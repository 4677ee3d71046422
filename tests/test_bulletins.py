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
from django.db import IntegrityError, connection, connections, transaction
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from bazhou.core import submissions
from bazhou.core.models import Role
from supervision import bulletin_data, bulletin_services, exports
from supervision.models import Bulletin, Rectification
from tasks.models import Task
from tests import factories
from tests.jobs import job_of, run_jobs

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
        # Went overdue within the period: due 8-31 (overdue from 9-01, the period's first day), 9-01 and 9-10.
        "new_overdue_tasks": 4,
        "open_rectifications": 3,
        "overdue_rectifications": 1,
        "townships_with_overdue": 2,
        "units_with_overdue": 3,
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
        "new": True,
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


def test_townships_are_ranked_by_overdue_rows_and_rate_with_shared_ranks_said_as_tied(area, personas):
    """Dense ranks (1, 2, 2, 3) by overdue rows, and a second rank by the overdue rate (overdue ÷ rows due)."""
    third = factories.township(number=215, name="三江镇")
    fourth = factories.township(number=220, name="四方乡")
    plans = {t: factories.plan(factories.village(t)) for t in (area.township_a, area.township_b, third, fourth)}
    late, later = datetime.date(2017, 9, 1), datetime.date(2017, 10, 31)
    for township, overdue, done in ((area.township_a, 3, 1), (area.township_b, 2, 0), (third, 2, 2), (fourth, 0, 1)):
        for n in range(overdue):
            factories.task(plans[township], item=f"逾期{n}", deadline=late)
        for n in range(done):
            factories.done_task(plans[township], item=f"已完成{n}", deadline=late)
    factories.task(plans[area.township_b], item="未到期", deadline=later)  # not due: not in the rate's base
    factories.task(plans[third], item="撤销", deadline=late, is_removed=True, removed_reason="重复")  # never counted
    townships = generate(personas.supervisor).snapshot["townships"]
    assert [
        (t["name"], t["rank"], t["rank_tied"], t["overdue_tasks"], t["due_tasks"], t["overdue_rate"])
        + (t["rate_rank"], t["rate_rank_tied"])
        for t in townships
    ] == [
        ("白庙乡", 1, False, 3, 4, 75.0, 2, False),
        ("寺岭乡", 2, True, 2, 2, 100.0, 1, False),  # the higher rate first among equal counts
        ("三江镇", 2, True, 2, 4, 50.0, 3, False),
        ("四方乡", 3, False, 0, 1, 0.0, 4, False),  # dense: 3, not 4
    ]


def test_units_are_ranked_by_overdue_rows_and_the_longest_rows_are_listed_with_ties(data, personas):
    snap = generate(personas.supervisor).snapshot
    assert [
        (u["rank"], u["rank_tied"], u["unit"], u["overdue_tasks"], u["longest_days"], u["people"])
        for u in snap["units"]
    ] == [
        (1, False, "白庙乡人民政府", 3, 46, 1),
        (2, True, "寺岭乡人民政府", 1, 14, 1),
        (2, True, "区住建局", 1, 5, 1),
    ]
    longest = bulletin_data.longest_overdue(snap["tasks"], 3)
    # 46 days (村文化室), then the two rows due 8-31 (15 days), tied.
    assert [(t["item"], t["days_overdue"], t["rank"], t["rank_tied"]) for t in longest] == [
        ("村文化室", 46, 1, False),
        ("通村硬化路", 15, 2, True),
        ("安全饮用水", 15, 2, True),
    ]


@pytest.mark.parametrize(
    ("period", "deadline", "listed", "new"),
    [
        # September, as of 9-15 (today).
        ("sep", datetime.date(2017, 8, 30), True, False),  # overdue on 8-31, the eve: not new
        ("sep", datetime.date(2017, 8, 31), True, True),  # overdue on 9-01, the period's first day: new
        ("sep", datetime.date(2017, 9, 1), True, True),
        ("sep", datetime.date(2017, 9, 14), True, True),  # overdue on 9-15, the last day counted: new
        ("sep", datetime.date(2017, 9, 15), False, False),  # due today: not overdue yet
        # August, a past period: as of its last day, 8-31.
        ("aug", datetime.date(2017, 7, 30), True, False),  # overdue on 7-31, the eve
        ("aug", datetime.date(2017, 7, 31), True, True),  # overdue on 8-01, the first day
        ("aug", datetime.date(2017, 8, 30), True, True),  # overdue on 8-31, the last day
        ("aug", datetime.date(2017, 8, 31), False, False),  # overdue on 9-01, the day after the period
    ],
)
def test_new_in_the_period_is_what_went_overdue_within_it(area, personas, period, deadline, listed, new):
    """本期新增: overdue on the period's last day counted and not yet overdue on the eve of its first day."""
    row = factories.task(factories.plan(area.village_a), item="边界的路", deadline=deadline)
    periods = {
        "sep": SEPTEMBER,
        "aug": {"period_start": datetime.date(2017, 8, 1), "period_end": datetime.date(2017, 8, 31)},
    }
    snap = generate(personas.supervisor, **periods[period]).snapshot
    entries = [t for t in snap["tasks"] if t["id"] == row.pk]
    assert bool(entries) == listed
    assert snap["totals"]["new_overdue_tasks"] == int(new)
    if entries:
        assert entries[0]["new"] == new


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
    assert bulletin.body.startswith(
        "截至2017年9月15日，全区施工图任务逾期未完成5项（其中本期新增4项），涉及2个乡镇（街道）、3个责任单位、3名责任人；"
    )
    assert "督查发现问题尚未整改销号3项，其中超过整改时限1项。" in bulletin.body
    # 白庙乡: 4 of its 5 rows due by 9-15 are overdue (the done one was due 8-31; the withdrawn one and the one due
    # 10-31 are not counted); 寺岭乡: 1 of 1.
    assert (
        "逾期任务较多的乡镇（街道）：白庙乡（逾期4项，逾期率80.0%）、寺岭乡（逾期1项，逾期率100.0%）。" in bulletin.body
    )
    assert "逾期任务较多的责任单位：白庙乡人民政府（3项）、寺岭乡人民政府（1项）、区住建局（1项）。" in bulletin.body
    assert "报巴州区脱贫办" in bulletin.body
    assert (bulletin.state, bulletin.issued_on, bulletin.created_by) == ("draft", TODAY, personas.supervisor)


def test_a_district_with_nothing_overdue_says_so(area, personas):
    bulletin = generate(personas.district_admin)
    assert bulletin.snapshot["tasks"] == []
    # Every township is ranked, all tied with nothing overdue.
    assert [(t["name"], t["overdue_tasks"], t["rank"], t["rank_tied"]) for t in bulletin.snapshot["townships"]] == [
        ("白庙乡", 0, 1, True),
        ("寺岭乡", 0, 1, True),
    ]
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
    # rectifications; the townships' rows due (the base of the overdue rate); the last number of the year;
    # savepoint for the insert; the insert; its history record; release; release; the last two snapshots (较上月).
    with django_assert_num_queries(12):
        small = generate(personas.supervisor)
    grow(9)
    with django_assert_num_queries(12):
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
    job = job_of(response)  # counting the period is a background job with a progress bar
    assert job.title == "生成巴州区督查通报（2017年9月1日至2017年9月30日）" and not Bulletin.objects.exists()
    assert (
        client.post(CREATE, {"period_start": "2017-09-01", "period_end": "2017-09-30", "issuer": "poverty_office"})[
            "Location"
        ]
        == response["Location"]
    )  # a second click follows the same job
    run_jobs()
    bulletin = Bulletin.objects.get()
    done = client.get(response["Location"])
    assert done.status_code == 302 and done.url == detail(bulletin)
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


def publish_url(bulletin):
    return reverse("supervision:bulletin_publish", args=[bulletin.pk])


def test_the_draft_is_edited_and_then_published(data, personas, client):
    bulletin = generate(personas.supervisor)
    client.force_login(personas.district_admin)
    response = client.post(detail(bulletin), edit_data(bulletin, body="截至9月15日，逾期5项。\n\n请限期整改。"))
    assert response.status_code == 302
    bulletin.refresh_from_db()
    assert bulletin.body == "截至9月15日，逾期5项。\n\n请限期整改。"

    response = client.post(publish_url(bulletin), {"expected": bulletin_services.fingerprint(bulletin)})
    assert response.status_code == 302
    bulletin.refresh_from_db()
    assert (bulletin.state, bulletin.published_by) == ("published", personas.district_admin)
    assert bulletin.published_at is not None
    assert (bulletin.doc_seq, bulletin.doc_number) == (1, "巴脱贫办督〔2017〕1号")
    page = client.get(detail(bulletin)).content.decode()
    assert "已发布2017年第1期通报（巴脱贫办督〔2017〕1号）。发布后不能再修改。" in page
    assert 'data-testid="bulletin-doc-number">巴脱贫办督〔2017〕1号<' in page
    assert 'data-testid="bulletin-edit-form"' not in page and 'data-testid="bulletin-publish"' not in page
    assert "<p>截至9月15日，逾期5项。</p>" in page


def test_publish_saves_the_text_on_the_screen_then_asks_before_publishing(data, personas, client):
    """发布… sends the form as shown: the unsaved edit is saved, then the confirmation page shows it and asks."""
    bulletin = generate(personas.supervisor)
    client.force_login(personas.supervisor)
    page = client.get(detail(bulletin)).content.decode()
    assert re.search(r'<button type="submit" name="action" value="publish"[^>]*data-testid="bulletin-publish"', page)
    assert page.count('name="_submission"') == 1  # the edit form carries its one-time key

    edited = edit_data(bulletin, title="关于9月任务推进情况的通报", body="未保存的新正文。", action="publish")
    response = client.post(detail(bulletin), edited)
    assert response.status_code == 302 and response["Location"] == publish_url(bulletin)
    bulletin.refresh_from_db()
    assert (bulletin.state, bulletin.body, bulletin.title) == ("draft", "未保存的新正文。", "关于9月任务推进情况的通报")
    assert bulletin.doc_number == "" and bulletin.doc_seq is None

    confirm = client.get(publish_url(bulletin))
    html = confirm.content.decode()
    assert confirm.status_code == 200
    assert "确认发布？发布后不可修改" in html
    assert 'data-testid="publish-body"><p>未保存的新正文。</p>' in html
    assert f'name="expected" value="{bulletin_services.fingerprint(bulletin)}"' in html
    assert 'name="_submission"' in html
    assert Bulletin.objects.get(pk=bulletin.pk).state == "draft"  # asking publishes nothing

    response = client.post(publish_url(bulletin), {"expected": confirm.context["expected"]})
    assert response.status_code == 302 and response["Location"] == detail(bulletin)
    bulletin.refresh_from_db()
    assert (bulletin.state, bulletin.body) == ("published", "未保存的新正文。")


def test_an_invalid_text_is_not_published_and_stays_on_the_form(data, personas, client):
    bulletin = generate(personas.supervisor)
    client.force_login(personas.supervisor)
    response = client.post(detail(bulletin), edit_data(bulletin, body="  ", action="publish"))
    assert response.status_code == 200  # the form again, with the error; nothing saved, nothing asked
    bulletin.refresh_from_db()
    assert bulletin.state == "draft" and bulletin.body.startswith("截至")


def test_a_draft_changed_after_the_confirmation_page_is_not_published(data, personas, client):
    """What was confirmed is what is published: an edit by someone else meanwhile stops it."""
    bulletin = generate(personas.supervisor)
    client.force_login(personas.supervisor)
    confirmed = client.get(publish_url(bulletin)).context["expected"]
    bulletin_services.bulletin_update_draft(
        bulletin_id=bulletin.pk,
        user=personas.district_admin,
        expected=confirmed,
        title=bulletin.title,
        issuer=bulletin.issuer,
        issued_on=bulletin.issued_on,
        body="别人改过的正文。",
    )
    response = client.post(publish_url(bulletin), {"expected": confirmed}, follow=True)
    assert response.redirect_chain[-1][0] == publish_url(bulletin)
    html = response.content.decode()
    assert "该通报在您打开之后已被他人修改，未发布。请核对当前内容后再发布。" in html
    assert "<p>别人改过的正文。</p>" in html  # the current text, to confirm again
    assert Bulletin.objects.get(pk=bulletin.pk).state == "draft"


def test_a_repeated_confirmation_publishes_once(data, personas, client):
    bulletin = generate(personas.supervisor)
    client.force_login(personas.supervisor)
    data_ = {"expected": bulletin_services.fingerprint(bulletin), "_submission": "0f4b7f0e-1c1d-4c53-9a51-3f2f0b6f7d10"}
    first = client.post(publish_url(bulletin), data_)
    second = client.post(publish_url(bulletin), data_, follow=True)
    assert first.status_code == 302 and second.redirect_chain[-1][0] == detail(bulletin)
    assert submissions.REPLAYED in second.content.decode()
    assert list(Bulletin.objects.values_list("state", "doc_seq")) == [("published", 1)]


def test_document_numbers_follow_publication_per_district_and_year(area, personas, settings):
    """文号: given on publishing (not on generating), the next of the district's year, whatever the issuing office."""
    first_draft = generate(personas.supervisor)
    second_draft = generate(personas.supervisor)
    second_draft.issuer = "inspection_office"
    second_draft.save()

    def publish(bulletin):
        bulletin.refresh_from_db()
        return bulletin_services.bulletin_publish_draft(
            bulletin_id=bulletin.pk, user=personas.supervisor, expected=bulletin_services.fingerprint(bulletin)
        )

    assert publish(second_draft).doc_number == "巴督查室督〔2017〕1号"  # published first: 1号, though 第2期
    assert publish(first_draft).doc_number == "巴脱贫办督〔2017〕2号"
    next_year = generate(personas.supervisor, today=datetime.date(2018, 1, 5))
    assert publish(next_year).doc_number == "巴脱贫办督〔2018〕1号"
    other = factories.district("511921", "恩阳区")
    factories.township(other, number=101, name="恩阳镇")
    assert bulletin_services.next_document_seq(other, 2017) == 1


def test_the_document_number_is_unique_per_district_and_year(area, personas):
    drafts = [generate(personas.supervisor) for _ in range(3)]
    Bulletin.objects.filter(pk=drafts[0].pk).update(doc_seq=4)
    Bulletin.objects.filter(pk=drafts[1].pk).update(doc_seq=None)  # drafts have none: any number of them
    with pytest.raises(IntegrityError), transaction.atomic():
        Bulletin.objects.filter(pk=drafts[2].pk).update(doc_seq=4)


def test_a_document_number_taken_meanwhile_is_read_again(area, personas, monkeypatch):
    taken, bulletin = generate(personas.supervisor), generate(personas.supervisor)
    Bulletin.objects.filter(pk=taken.pk).update(doc_seq=1, doc_number="巴脱贫办督〔2017〕1号")
    reads = []
    real = bulletin_services.next_document_seq

    def stale_first(district, year):
        reads.append(year)
        return 1 if len(reads) == 1 else real(district, year)  # the first read missed the one taken meanwhile

    monkeypatch.setattr(bulletin_services, "next_document_seq", stale_first)
    published = bulletin_services.bulletin_publish_draft(
        bulletin_id=bulletin.pk, user=personas.supervisor, expected=bulletin_services.fingerprint(bulletin)
    )
    assert (published.doc_seq, published.doc_number, len(reads)) == (2, "巴脱贫办督〔2017〕2号", 2)
    assert Bulletin.objects.get(pk=bulletin.pk).state == "published"


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


def publish(bulletin, user):
    return bulletin_services.bulletin_publish_draft(
        bulletin_id=bulletin.pk, user=user, expected=bulletin_services.fingerprint(bulletin)
    )


def test_the_print_page_is_an_a4_tongbao_with_the_rankings_and_the_lists_as_attachments(data, personas, client):
    bulletin = publish(generate(personas.supervisor), personas.supervisor)
    client.force_login(personas.township_a)
    response = client.get(reverse("supervision:bulletin_print", args=[bulletin.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "<title>巴州区脱贫攻坚工作通报 2017年第1期</title>" in html
    assert re.search(r'data-testid="print-title">.*巴州区脱贫攻坚工作通报.*2017年第1期', html)
    assert 'data-testid="print-doc-number">巴脱贫办督〔2017〕1号<' in html
    assert 'data-testid="print-issuer">巴州区脱贫办<' in html
    assert 'data-testid="print-date">2017年9月15日<' in html
    assert "截至2017年9月15日，全区施工图任务逾期未完成5项" in html
    # The 通报: the townships ranked, the longest rows, the units; the attachments only listed.
    assert html.count('data-testid="township-row"') == 2 and html.count('data-testid="longest-row"') == 5
    assert html.count('data-testid="unit-row"') == 3
    assert re.search(
        r'data-testid="township-row"><td class="text-nowrap" data-col="rank">1</td><td class="text-nowrap">白庙乡', html
    )
    assert "附件：" in html and "逾期未完成的施工图任务清单（5项）" in html and "3个单位、3名责任人" in html
    assert 'data-testid="overdue-task-row"' not in html and 'data-testid="person-row"' not in html
    assert "/static/css/bulletin_print.css" in html
    assert "<script" not in html and "style=" not in html and "<style" not in html
    assert 'data-testid="draft-mark"' not in html

    annexed = client.get(reverse("supervision:bulletin_print", args=[bulletin.pk]), {"annex": "1"}).content.decode()
    assert annexed.count('data-testid="overdue-task-row"') == 5 and annexed.count('data-testid="person-row"') == 3
    assert annexed.count('data-testid="rectification-row"') == 3
    assert annexed.count('class="bulletin-section annex-part"') == 3  # each attachment from a new page (CSS)
    # Any other value is the plain print, not an error.
    assert client.get(reverse("supervision:bulletin_print", args=[bulletin.pk]), {"annex": "²"}).status_code == 200


def test_a_printed_draft_says_it_is_a_draft(data, personas, client):
    bulletin = generate(personas.supervisor)
    client.force_login(personas.supervisor)
    html = client.get(reverse("supervision:bulletin_print", args=[bulletin.pk])).content.decode()
    assert 'data-testid="draft-mark">草稿' in html


def test_the_excel_rows_are_built_apart_from_the_workbook(data, personas):
    report = bulletin_data.Report.of(generate(personas.supervisor))
    body, townships, longest, units, tasks, people, rects = exports.bulletin_tables(report)
    assert body.name == "通报" and ["文号", "（发布时编号）"] in body.rows
    assert ["正文（1）", report.paragraphs[0]] in body.rows
    assert body.rows[-3][0] == "附件1" and body.rows[-3][1].startswith("逾期未完成的施工图任务清单（5项")
    assert townships.rows == [[1, "白庙乡", 5, 4, "80.0%", 2, 1, 0], [2, "寺岭乡", 1, 1, "100.0%", 1, 2, 1]]
    assert [row[:2] + row[5:6] for row in longest.rows] == [
        [1, "白庙乡", 46],
        ["并列2", "白庙乡", 15],
        ["并列2", "白庙乡", 15],
        [3, "寺岭乡", 14],
        [4, "白庙乡", 5],
    ]
    assert units.rows[1][:3] == ["并列2", "寺岭乡人民政府", 1]
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
    assert workbook.sheetnames == [
        "通报",
        "表1乡镇排名",
        "表2逾期最长",
        "表3责任单位排名",
        "附件1逾期任务",
        "附件2责任人",
        "附件3未销号整改",
    ]
    ranking = workbook["表1乡镇排名"]
    assert ranking["A1"].value == (
        "巴州区脱贫攻坚工作通报 2017年第1期（草稿） 表1 各乡镇（街道）逾期任务排名（截至2017年9月15日）"
    )
    assert [c.value for c in ranking[2]] == [
        "排名",
        "乡镇（街道）",
        "到期任务（项）",
        "逾期未完成（项）",
        "逾期率",
        "逾期率排名",
        "未销号问题（项）",
        "其中超过整改时限（项）",
    ]
    assert [c.value for c in ranking[3]] == [1, "白庙乡", 5, 4, "80.0%", 2, 1, 0]
    rows = {row[5]: row for row in workbook["附件1逾期任务"].iter_rows(min_row=3, values_only=True)}
    assert rows["=SUM(A1)"][11] == "+86 139"
    assert rows["-1+2"][10] == "@白庙乡"
    assert rows["村文化室"][6].date() == datetime.date(2017, 7, 31)  # a real date cell, read back as a datetime
    sheet = workbook["附件1逾期任务"]
    for cell in (c for row in sheet.iter_rows(min_row=3) for c in row if isinstance(c.value, str)):
        assert cell.data_type == "s"
    # Chinese columns are wide enough for their header: 项目 holds “产业扶持”-like text, 乡镇（街道） 12 columns.
    assert sheet.column_dimensions["B"].width >= 12
    assert workbook["附件3未销号整改"].max_row == 2 + 3


def test_a_published_bulletin_exports_under_its_plain_name(data, personas, client):
    bulletin = generate(personas.supervisor)
    bulletin_services.bulletin_publish_draft(
        bulletin_id=bulletin.pk, user=personas.supervisor, expected=bulletin_services.fingerprint(bulletin)
    )
    client.force_login(personas.leader)
    response = client.get(reverse("supervision:bulletin_xlsx", args=[bulletin.pk]))
    assert 'filename="bulletin-2017-01.xlsx"' in response["Content-Disposition"]
    assert quote("巴州区脱贫攻坚工作通报2017年第1期.xlsx") in response["Content-Disposition"]
    workbook = load_workbook(io.BytesIO(response.content))
    body = workbook["通报"]
    assert body["A1"].value == "巴州区脱贫攻坚工作通报 2017年第1期（巴脱贫办督〔2017〕1号） 通报正文"
    assert [body["A5"].value, body["B5"].value] == ["文号", "巴脱贫办督〔2017〕1号"]
    assert workbook["附件1逾期任务"]["A1"].value.startswith(
        "巴州区脱贫攻坚工作通报 2017年第1期（巴脱贫办督〔2017〕1号） 附件1"
    )
    assert workbook["附件1逾期任务"].max_row == 2 + 5


def test_illegal_control_characters_do_not_break_the_file(data, personas):
    Task.objects.filter(pk=data.road.pk).update(item="通村\x07硬化路")
    report = bulletin_data.Report.of(generate(personas.supervisor))
    workbook = load_workbook(io.BytesIO(exports.render_bulletin(exports.bulletin_tables(report))))
    items = [row[5] for row in workbook["附件1逾期任务"].iter_rows(min_row=3, values_only=True)]
    assert "通村硬化路" in items


def test_money_is_not_part_of_the_snapshot(data, personas):
    """The snapshot is JSON: no Decimal sneaks in (funds are not listed), and it round-trips unchanged."""
    Task.objects.filter(pk=data.road.pk).update(planned_funds=Decimal("170.5"))
    bulletin = generate(personas.supervisor)
    bulletin.refresh_from_db()
    assert bulletin.snapshot["tasks"][0].keys() >= {"id", "item", "deadline"}
