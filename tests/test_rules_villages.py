"""Area codes, village status and assistance forces: the rules hold in validation and in the database."""

import datetime

import pytest

from tests import factories
from tests.factories import clean_errors, refused_by_database
from villages.models import AssistanceAssignment, Township, Village


def new_village(township, code, **fields):
    return Village(township=township, code=code, name=fields.pop("name", "新村"), **fields)


# Townships: code within the district, last three digits by kind ----------------------------------------------


@pytest.mark.parametrize(
    ("kind", "number"),
    [("subdistrict", 1), ("subdistrict", 99), ("town", 100), ("town", 199), ("township", 200), ("township", 399)],
)
def test_township_codes_within_their_kinds_range_are_accepted(area, kind, number):
    township = Township(district=area.district, code=f"511902{number:03d}", name=f"乡镇{number}", kind=kind)
    township.full_clean()
    township.save()
    assert Township.objects.filter(code=f"511902{number:03d}", kind=kind).exists()


@pytest.mark.parametrize(
    ("kind", "number", "message"),
    [
        ("township", 104, "乡的代码后三位应在 200–399 之间。"),
        ("township", 400, "乡的代码后三位应在 200–399 之间。"),
        ("town", 204, "镇的代码后三位应在 100–199 之间。"),
        ("town", 99, "镇的代码后三位应在 100–199 之间。"),
        ("subdistrict", 104, "街道的代码后三位应在 001–099 之间。"),
        ("subdistrict", 0, "街道的代码后三位应在 001–099 之间。"),
    ],
)
def test_township_code_not_matching_its_kind_is_refused(area, kind, number, message):
    code = f"511902{number:03d}"
    errors = clean_errors(Township(district=area.district, code=code, name="新乡镇", kind=kind))
    assert errors["kind"] == [message]
    with refused_by_database(Township, "township_code_matches_kind"):
        Township.objects.create(district=area.district, code=code, name="新乡镇", kind=kind)


def test_changing_a_townships_kind_against_its_code_is_refused_by_the_database(area):
    with refused_by_database(Township, "township_code_matches_kind"):
        Township.objects.filter(pk=area.township_a.pk).update(kind=Township.Kind.TOWN)


def test_township_code_outside_its_district_is_refused(area):
    other = factories.district(code="511903", name="恩阳区")
    errors = clean_errors(Township(district=area.district, code="511903204", name="新乡镇", kind="township"))
    assert errors["code"] == ["乡镇代码应以所属区县代码 511902 开头。"]
    with refused_by_database(Township, "township_code_within_district"):
        Township.objects.create(district=other, code="511902205", name="新乡镇", kind="township")


# Villages: code ------------------------------------------------------------------------------------------


def test_village_code_outside_its_township_is_refused_by_validation(area):
    errors = clean_errors(new_village(area.township_a, area.township_b.code + "009"))
    assert errors["code"] == ["村代码应以所属乡镇代码 511902204 开头。"]


def test_village_code_outside_its_township_is_refused_by_the_database(area):
    with refused_by_database(Village, "village_code_within_township"):
        Village.objects.create(township=area.township_a, code=area.township_b.code + "009", name="新村")


def test_moving_a_village_to_another_township_without_its_code_is_refused_by_the_database(area):
    with refused_by_database(Village, "village_code_within_township"):
        Village.objects.filter(pk=area.village_a.pk).update(township=area.township_b)
    area.village_a.refresh_from_db()
    assert area.village_a.township == area.township_a


@pytest.mark.parametrize("code", ["51190220401", "51190220401A", "5119022040 1"])
def test_village_code_not_12_digits_is_refused(area, code):
    errors = clean_errors(new_village(area.township_a, code))
    assert errors["code"] == ["代码应为12位数字。"]
    with refused_by_database(Village, "village_code_12_digits"):
        Village.objects.create(township=area.township_a, code=code, name="新村")


def test_a_village_code_is_unique(area):
    errors = clean_errors(new_village(area.township_a, area.village_a.code))
    assert errors["code"] == ["具有 区划代码 的 村（社区） 已存在。"]
    with refused_by_database(Village):
        Village.objects.create(township=area.township_a, code=area.village_a.code, name="重复村")


# Villages: poor flag, status and years ------------------------------------------------------------------------


def test_a_non_poor_village_cannot_have_a_poverty_status(area):
    errors = clean_errors(new_village(area.township_a, "511902204020", is_poor=False, status=Village.Status.POOR))
    assert errors["status"] == ["非贫困村的状态只能是“非贫困村”。"]
    with refused_by_database(Village, "village_status_matches_poor_flag"):
        Village.objects.filter(pk=area.village_a2.pk).update(status=Village.Status.POOR)


def test_a_poor_village_cannot_have_status_not_poor(area):
    errors = clean_errors(new_village(area.township_a, "511902204020", is_poor=True, status=Village.Status.NOT_POOR))
    assert errors["status"] == ["贫困村的状态不能是“非贫困村”。"]
    with refused_by_database(Village, "village_status_matches_poor_flag"):
        Village.objects.create(
            township=area.township_a, code="511902204020", name="新村", is_poor=True, status=Village.Status.NOT_POOR
        )


def test_an_exited_poor_village_stays_poor(area):
    Village.objects.filter(pk=area.village_a.pk).update(status=Village.Status.EXITED, exit_year=2017)
    with refused_by_database(Village, "village_status_matches_poor_flag"):
        Village.objects.filter(pk=area.village_a.pk).update(is_poor=False)


def test_planned_status_without_year_is_refused(area):
    village = new_village(area.township_a, "511902204020", is_poor=True, status=Village.Status.PLANNED)
    assert clean_errors(village)["planned_exit_year"] == ["计划退出的村须填写计划退出年度。"]
    with refused_by_database(Village, "village_planned_has_year"):
        Village.objects.filter(pk=area.village_a.pk).update(planned_exit_year=None)
    area.village_a.refresh_from_db()
    assert area.village_a.planned_exit_year == 2017


@pytest.mark.parametrize("status", [Village.Status.EXITED, Village.Status.RELAPSED])
def test_exited_status_without_exit_year_is_refused(area, status):
    village = new_village(area.township_a, "511902204020", is_poor=True, status=status)
    assert clean_errors(village)["exit_year"] == ["已退出的村须填写退出年度。"]
    with refused_by_database(Village, "village_exited_has_year"):
        Village.objects.filter(pk=area.village_a.pk).update(status=status)


def test_exit_year_before_identified_year_is_refused(area):
    village = new_village(
        area.township_a,
        "511902204020",
        is_poor=True,
        status=Village.Status.EXITED,
        identified_year=2014,
        exit_year=2013,
    )
    assert clean_errors(village)["exit_year"] == ["退出年度不能早于认定年度。"]
    with refused_by_database(Village, "village_exit_not_before_identified"):
        Village.objects.filter(pk=area.village_a.pk).update(status=Village.Status.EXITED, exit_year=2013)


def test_planned_exit_year_before_identified_year_is_refused(area):
    village = new_village(
        area.township_a,
        "511902204020",
        is_poor=True,
        status=Village.Status.PLANNED,
        identified_year=2014,
        planned_exit_year=2013,
    )
    assert clean_errors(village)["planned_exit_year"] == ["计划退出年度不能早于认定年度。"]
    with refused_by_database(Village, "village_planned_exit_not_before_identified"):
        Village.objects.filter(pk=area.village_a.pk).update(planned_exit_year=2013)


def test_a_consistent_exited_village_is_accepted(area):
    village = new_village(
        area.township_a,
        "511902204020",
        is_poor=True,
        status=Village.Status.EXITED,
        identified_year=2014,
        exit_year=2014,
    )
    village.full_clean()
    village.save()
    assert Village.objects.filter(is_poor=True, code="511902204020").exists()


# Assistance forces (五个一) ------------------------------------------------------------------------------------


def test_a_second_current_first_secretary_is_refused_by_validation(area):
    factories.assignment(area.village_a, person="秦和平")
    second = AssistanceAssignment(
        village=area.village_a, role="first_secretary", person="岳明", start_date=datetime.date(2017, 3, 1)
    )
    assert "该村已有在任第一书记，请先填写前任的结束日期。" in clean_errors(second)["__all__"]


def test_a_second_current_first_secretary_is_refused_by_the_database(area):
    factories.assignment(area.village_a, person="秦和平")
    with refused_by_database(AssistanceAssignment, "one_current_first_secretary_per_village"):
        factories.assignment(area.village_a, person="岳明", start_date=datetime.date(2017, 3, 1))


def test_a_new_first_secretary_after_the_former_one_ended_is_allowed(area):
    former = factories.assignment(area.village_a, person="秦和平")
    former.end_date = datetime.date(2017, 2, 28)
    former.save()
    successor = AssistanceAssignment(
        village=area.village_a, role="first_secretary", person="岳明", start_date=datetime.date(2017, 3, 1)
    )
    successor.full_clean()
    successor.save()
    current = AssistanceAssignment.objects.current(datetime.date(2017, 9, 15))
    assert [a.person for a in current.filter(village=area.village_a)] == ["岳明"]
    before = AssistanceAssignment.objects.current(datetime.date(2017, 1, 15))
    assert [a.person for a in before.filter(village=area.village_a)] == ["秦和平"]


def test_first_secretaries_of_different_villages_and_other_roles_do_not_clash(area):
    factories.assignment(area.village_a, person="秦和平")
    factories.assignment(area.village_b, person="岳明")
    work_team = AssistanceAssignment(
        village=area.village_a, role="work_team", person="张三", start_date=datetime.date(2016, 3, 1)
    )
    work_team.full_clean()


def test_assignment_ending_before_it_starts_is_refused(area):
    assignment = AssistanceAssignment(
        village=area.village_a,
        role="technician",
        person="李四",
        start_date=datetime.date(2017, 3, 1),
        end_date=datetime.date(2017, 2, 28),
    )
    assert clean_errors(assignment)["end_date"] == ["结束日期不能早于开始日期。"]
    with refused_by_database(AssistanceAssignment, "assignment_end_not_before_start"):
        factories.assignment(
            area.village_a, role="technician", start_date=datetime.date(2017, 3, 1), end_date=datetime.date(2017, 2, 28)
        )


def test_a_person_must_be_named_except_for_a_helping_unit(area):
    assignment = AssistanceAssignment(
        village=area.village_a, role="work_team", person="", start_date=datetime.date(2017, 3, 1)
    )
    assert clean_errors(assignment)["person"] == ["请填写帮扶人员姓名。"]
    with refused_by_database(AssistanceAssignment, "assignment_person_named"):
        factories.assignment(area.village_a, role="work_team", person="")
    factories.assignment(area.village_a, role="unit", person="", unit="区财政局")
