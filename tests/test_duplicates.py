"""Duplicate projects (避免重复): the same item (category and normalised name) planned twice for one village or one
household in a year is warned about, never refused: on the task form (saved only once confirmed, and a second
submit never saves twice), in the Excel import preview (warnings that do not block) and in the report
``tasks:duplicates`` (the user's area only, a fixed number of queries)."""

import datetime
from decimal import Decimal

import pytest
from django.urls import reverse

from bazhou.core.models import ImportBatch
from tasks import imports, services
from tasks.models import Task, duplicate_key, item_key, same_item_q
from tests import factories
from tests.excel.helpers import body, calamine_rows, edit, upload
from tests.jobs import get_file, run_jobs, upload_and_check

pytestmark = pytest.mark.usefixtures("pinned_today")
SHEET = "施工图"


# ---------------------------------------------------------------------------------------------
# The normaliser
# ---------------------------------------------------------------------------------------------

SAME = [
    ("村文化室建设", "村 文化室建设"),
    ("村文化室建设", " 村文化室建设　"),  # ideographic (full-width) space
    ("村文化室建设", "村文化室建设。"),
    ("村文化室建设", "村文化室\u200b建设"),  # zero-width space pasted from a web page
    ("村文化室（一期）", "村文化室(一期)"),  # full-width and half-width brackets
    ("通村硬化路３公里", "通村硬化路3公里"),  # full-width digit
    ("ＡＢ段道路", "ab段道路"),  # full-width letters, case
    ("“道地巴药”产业", "道地巴药产业"),
    ("安全饮用水、通电", "安全饮用水通电"),
    ("危房改造-C级", "危房改造－Ｃ级"),
    ("新建㎡", "新建m2"),
]
DIFFERENT = [
    ("村文化室（一期）", "村文化室（二期）"),
    ("通村硬化路", "通组硬化路"),
    ("村文化室", "村卫生室"),
    ("道地巴药产业", "道地巴药产业园"),
    ("产业路3公里", "产业路5公里"),
]


@pytest.mark.parametrize(("a", "b"), SAME)
def test_names_that_differ_only_in_spaces_punctuation_width_or_case_are_one_item(a, b):
    assert item_key(a) == item_key(b)


@pytest.mark.parametrize(("a", "b"), DIFFERENT)
def test_names_that_differ_in_a_character_that_matters_are_two_items(a, b):
    assert item_key(a) != item_key(b)


def test_the_database_question_and_its_python_twin_agree_on_every_pair(area):
    plan = factories.plan(area.village_a)
    ask = {"year": 2017, "village_id": area.village_a.pk, "household_id": None, "category": "road"}
    for a, b in [*SAME, *DIFFERENT]:
        row = factories.task(plan, item=a)
        found = Task.objects.filter(same_item_q(**ask, item=b)).filter(pk=row.pk).exists()
        assert found == (duplicate_key(**ask, item=a) == duplicate_key(**ask, item=b)), (a, b)
        assert found == ((a, b) in SAME), (a, b)
        row.delete()


def test_a_name_of_only_punctuation_is_never_a_duplicate():
    assert item_key("—— 。") == ""
    assert duplicate_key(year=2017, village_id=1, household_id=None, category="road", item="——") is None


def test_the_normalised_name_is_stored_on_every_write(personas, area):
    plan = factories.plan(area.village_a)
    task = factories.task(plan, item="村 文化室（一期）")
    assert Task.objects.get(pk=task.pk).item_key == "村文化室一期"
    services.task_update(task_id=task.pk, user=personas.district_admin, expected_version=1, data={"item": "ＡＢ 路"})
    assert Task.objects.get(pk=task.pk).item_key == "ab路"
    task.item = "村卫生室。"
    task.save(update_fields=["item"])
    assert Task.objects.get(pk=task.pk).item_key == "村卫生室"
    (made,) = Task.objects.bulk_create([Task(plan=plan, category="road", item="通村 硬化路", deadline=plan_day())])
    assert Task.objects.get(pk=made.pk).item_key == "通村硬化路"


def plan_day():
    return datetime.date(2017, 8, 31)


def test_the_same_item_means_same_year_village_household_and_category_and_live(area):
    plan = factories.plan(area.village_a)
    road = factories.task(plan, item="通村硬化路")
    factories.task(plan, item="通村 硬化路", category="irrigation")  # another category
    factories.task(plan, area.household_a, item="通村硬化路")  # a household row
    factories.task(factories.plan(area.village_a, year=2016), item="通村硬化路")  # another year
    factories.task(factories.plan(area.village_a2), item="通村硬化路")  # another village
    factories.task(plan, item="通村硬化路。", is_removed=True, removed_reason="重复")  # withdrawn
    twin = factories.task(plan, item=" 通村硬化路 ")

    ask = {"year": 2017, "village_id": area.village_a.pk, "household_id": None, "category": "road"}
    assert Task.objects.duplicates_of(**ask, item="通村　硬化路") == [road, twin]
    assert Task.objects.duplicates_of(**ask, item="通村硬化路", exclude_pk=road.pk) == [twin]
    assert Task.objects.duplicates_of(**ask, item="通组硬化路") == []
    household_ask = {**ask, "household_id": area.household_a.pk}
    assert [t.household for t in Task.objects.duplicates_of(**household_ask, item="通村硬化路")] == [area.household_a]
    (group,) = Task.objects.all().duplicate_groups(2017)
    assert [row["id"] for row in group] == [road.pk, twin.pk]


# ---------------------------------------------------------------------------------------------
# The task form
# ---------------------------------------------------------------------------------------------


def form_data(**fields):
    data = {
        "version": "",
        "household": "",
        "category": "culture_room",
        "item": "村文化室建设",
        "quantity": "1",
        "unit": "处",
        "deadline": "2017-08-31",
        "deadline_text": "",
        "planned_funds": "10",
        "invested_funds": "0",
        "responsible_unit": "",
        "responsible_person": "",
        "responsible_phone": "",
        "status": "not_started",
        "progress": "0",
        "completed_on": "",
        "reason": "",
        "fund-TOTAL_FORMS": "0",
        "fund-INITIAL_FORMS": "0",
        "fund-MIN_NUM_FORMS": "0",
        "fund-MAX_NUM_FORMS": "1000",
    }
    data.update(fields)
    return data


@pytest.fixture
def culture(area):
    plan = factories.plan(area.village_a)
    return factories.task(plan, category="culture_room", item="村文化室建设", quantity=Decimal("1"), unit="处")


def test_the_form_warns_of_a_duplicate_and_saves_only_once_confirmed(client, personas, area, culture):
    client.force_login(personas.village_cadre)
    url = reverse("tasks:task_create", args=[culture.plan_id])

    warned = client.post(url, form_data(item="村 文化室建设"))
    page = warned.content.decode()
    assert warned.status_code == 200
    assert "本村（户）本年度已有同类同名任务：" in page
    assert reverse("tasks:task_detail", args=[culture.pk]) in page
    assert 'data-testid="confirm-duplicate"' in page
    assert f'name="duplicates_seen" value="{culture.pk}"' in page
    assert Task.objects.count() == 1

    # The checkbox alone, without the rows the warning showed, is not a confirmation of them.
    assert client.post(url, form_data(item="村 文化室建设", confirm_duplicate="on")).status_code == 200
    assert Task.objects.count() == 1

    confirmed = form_data(item="村 文化室建设", confirm_duplicate="on", duplicates_seen=str(culture.pk))
    saved = client.post(url, confirmed)
    assert saved.status_code == 302
    assert Task.objects.count() == 2

    # The same confirmed form sent again (a double click): the row just saved is a duplicate nobody confirmed.
    again = client.post(url, confirmed)
    assert again.status_code == 200 and "本村（户）本年度已有同类同名任务：" in again.content.decode()
    assert Task.objects.count() == 2


def test_a_row_that_is_no_duplicate_saves_at_once(client, personas, area, culture):
    client.force_login(personas.village_cadre)
    url = reverse("tasks:task_create", args=[culture.plan_id])
    assert client.post(url, form_data(item="村卫生室建设", category="clinic")).status_code == 302
    assert client.post(url, form_data(household=area.household_a.pk)).status_code == 302  # a household row
    assert Task.objects.count() == 3


def test_editing_a_row_into_a_duplicate_warns_and_editing_other_fields_does_not(client, personas, area, culture):
    client.force_login(personas.village_cadre)
    other = factories.task(culture.plan, category="culture_room", item="村文化广场")
    url = reverse("tasks:task_edit", args=[other.pk])
    base = form_data(version=other.version, item="村文化广场", quantity="3", unit="公里", planned_funds="100")

    warned = client.post(url, {**base, "item": "村文化室建设"})
    assert warned.status_code == 200 and "本村（户）本年度已有同类同名任务：" in warned.content.decode()
    other.refresh_from_db()
    assert (other.item, other.version) == ("村文化广场", 1)

    done = client.post(
        url, {**base, "item": "村文化室建设", "confirm_duplicate": "on", "duplicates_seen": str(culture.pk)}
    )
    assert done.status_code == 302
    other.refresh_from_db()
    assert other.item == "村文化室建设"

    # Both rows are now the same item, accepted once: changing the deadline asks nothing more.
    later = client.post(url, {**base, "item": "村文化室建设", "version": other.version, "deadline": "2017-09-30"})
    assert later.status_code == 302
    other.refresh_from_db()
    assert other.deadline == datetime.date(2017, 9, 30)


# ---------------------------------------------------------------------------------------------
# The Excel import preview
# ---------------------------------------------------------------------------------------------


def test_the_import_preview_lists_duplicates_as_warnings_that_do_not_block(client, personas, area, culture):
    client.force_login(personas.township_a)
    content = body(get_file(client, reverse("tasks:plan_table_xlsx"), {"year": 2017}))
    last = len(calamine_rows(content, SHEET)) + 2
    new_row = {"B": "白庙乡", "C": "茅垭村", "G": "文化室", "K": "2017-10-31"}
    changed = edit(
        content,
        SHEET,
        {
            **{f"{c}{last}": v for c, v in new_row.items()},
            f"H{last}": "村文化室 建设",  # the row already there
            **{f"{c}{last + 1}": v for c, v in new_row.items()},
            f"H{last + 1}": "村文化广场",
            **{f"{c}{last + 2}": v for c, v in new_row.items()},
            f"H{last + 2}": "村文化广场。",  # the row above
            **{f"{c}{last + 3}": v for c, v in new_row.items()},
            f"H{last + 3}": "村卫生室",  # no duplicate
        },
    )
    result = imports.preview_plan_import(user=personas.township_a, content=changed, file_name="x.xlsx", year=2017)
    assert result.problems == []
    tail = "。确认导入仍会保存此行，请核对是否重复。"
    assert [(w.row, w.message) for w in result.warnings] == [
        (last, f"本村（户）本年度已有同类同名任务：编号 {culture.pk}“村文化室建设”{tail}"),
        (last + 1, f"与本表第 {last + 2} 行“村文化广场。”同类同名{tail}"),
        (last + 2, f"与本表第 {last + 1} 行“村文化广场”同类同名{tail}"),
    ]

    # Through the pages: the preview shows them, and confirming imports every row.
    _, preview_url = upload_and_check(client, reverse("tasks:plan_import"), {"file": upload(changed), "year": 2017})
    batch = ImportBatch.objects.get()
    page = client.get(preview_url).content.decode()
    assert 'data-testid="import-warnings"' in page
    assert page.count('data-testid="import-warning"') == 3
    assert f"第 {last} 行：本村（户）本年度已有同类同名任务：编号 {culture.pk}“村文化室建设”" in page
    assert client.post(preview_url, {"fingerprint": batch.fingerprint}).status_code == 302
    run_jobs()
    assert Task.objects.count() == 5


def test_an_imported_change_of_name_that_makes_a_duplicate_is_warned_and_a_row_is_never_its_own(
    client, personas, area, culture
):
    factories.task(culture.plan, category="culture_room", item="村文化广场")
    client.force_login(personas.township_a)
    content = body(get_file(client, reverse("tasks:plan_table_xlsx"), {"year": 2017}))
    rows = {row[7]: number for number, row in enumerate(calamine_rows(content, SHEET), start=1) if len(row) > 7}
    changed = edit(
        content, SHEET, {f"H{rows['村文化广场']}": "村文化室建设", f"H{rows['村文化室建设']}": "村文化室 建设"}
    )
    result = imports.preview_plan_import(user=personas.township_a, content=changed, file_name="x.xlsx", year=2017)
    assert result.problems == [] and len(result.updates) == 2
    assert sorted((w.row, w.message.split("。")[0]) for w in result.warnings) == sorted(
        [
            (rows["村文化广场"], f"与本表第 {rows['村文化室建设']} 行“村文化室 建设”同类同名"),
            (rows["村文化室建设"], f"与本表第 {rows['村文化广场']} 行“村文化室建设”同类同名"),
        ]
    )
    # Renaming the one row back to itself, without the other, warns of nothing.
    alone = edit(content, SHEET, {f"H{rows['村文化室建设']}": "村文化室 建设。"})
    result = imports.preview_plan_import(user=personas.township_a, content=alone, file_name="x.xlsx", year=2017)
    assert (len(result.updates), result.warnings) == (1, [])


def test_an_unchanged_export_has_no_warnings(client, personas, area, culture):
    factories.task(culture.plan, category="culture_room", item="村文化室建设")  # a duplicate already there
    client.force_login(personas.township_a)
    content = body(get_file(client, reverse("tasks:plan_table_xlsx"), {"year": 2017}))
    result = imports.preview_plan_import(user=personas.township_a, content=content, file_name="x.xlsx", year=2017)
    assert (result.problems, result.warnings, result.unchanged) == ([], [], 2)


# ---------------------------------------------------------------------------------------------
# The report
# ---------------------------------------------------------------------------------------------


def make_groups(area, count):
    """``count`` duplicate groups in township A (village rows and household rows) and one in township B."""
    plan_a = factories.plan(area.village_a)
    for i in range(count):
        household = area.household_a if i % 2 else None
        factories.task(plan_a, household, item=f"产业路{i}号")
        factories.task(plan_a, household, item=f"产业路 {i} 号")
    factories.task(plan_a, item="不重复的任务")
    plan_b = factories.plan(area.village_b)
    factories.task(plan_b, item="大寺村产业路")
    factories.task(plan_b, item="大寺村产业路。")


def test_the_report_lists_the_groups_of_the_users_area_only(client, personas, area):
    make_groups(area, 2)
    client.force_login(personas.township_a)
    response = client.get(reverse("tasks:duplicates"), {"year": 2017})
    page = response.content.decode()
    assert response.status_code == 200
    assert page.count('data-testid="duplicate-group"') == 2
    assert page.count('data-testid="duplicate-row"') == 4
    assert "产业路 1 号" in page and f"户 {area.household_a.number}" in page
    assert "大寺村" not in page and "寺岭乡" not in page

    client.force_login(personas.district_admin)
    page = client.get(reverse("tasks:duplicates"), {"year": 2017}).content.decode()
    assert page.count('data-testid="duplicate-group"') == 3 and "大寺村产业路。" in page

    client.force_login(personas.township_b)
    page = client.get(reverse("tasks:duplicates"), {"year": 2016}).content.decode()
    assert 'data-testid="no-duplicates"' in page


def test_a_bad_year_is_a_clear_message_not_an_error(client, personas, area):
    make_groups(area, 1)
    client.force_login(personas.township_a)
    for bad in ("abc", "1900", "2017'"):
        response = client.get(reverse("tasks:duplicates"), {"year": bad})
        page = response.content.decode()
        assert response.status_code == 200
        assert "年度应为 2000–2100 之间的整数" in page and "已显示2017年" in page
        assert page.count('data-testid="duplicate-group"') == 1


def test_the_report_is_linked_from_the_plan_page_and_the_village_list(client, personas, area, culture):
    client.force_login(personas.township_a)
    link = reverse("tasks:duplicates")
    assert f"{link}?year=2017" in client.get(reverse("tasks:plan", args=[culture.plan_id])).content.decode()
    assert link in client.get(reverse("villages:list")).content.decode()


# The request's savepoint and its release, the session, the user, the user's township (the navigation), the years of
# the visible plans, the rows; the navigation's 我的待办 and 消息 numbers (the data having changed: the data versions
# with the stored numbers, the numbers counted in one query, stored).
REPORT_QUERIES = 10


@pytest.mark.parametrize("count", [1, 10])
def test_the_report_takes_a_fixed_number_of_queries(client, personas, area, count, django_assert_num_queries):
    make_groups(area, count)
    client.force_login(personas.township_a)
    with django_assert_num_queries(REPORT_QUERIES):
        response = client.get(reverse("tasks:duplicates"), {"year": 2017})
    assert response.content.decode().count('data-testid="duplicate-group"') == count
