"""The registry's rules (years, causes, one head, valid unique ID numbers) hold in validation and the database."""

import datetime

import pytest

from bazhou.core import idnumbers
from households.models import Household, Member
from tests import factories
from tests.factories import clean_errors, refused_by_database

# 1980-02-28, sequence 125 (odd: a man); its check character is 6.
VALID_ID = idnumbers.build("511902", datetime.date(1980, 2, 28), 125)


def with_check_char(first17: str) -> str:
    """``first17`` completed with its correct check character (whatever the date in it)."""
    return first17 + idnumbers.check_char(first17)


def wrong_check_char(id_number: str) -> str:
    return id_number[:17] + next(c for c in idnumbers.CHECK_CHARS if c != id_number[17])


def new_household(village, **fields):
    fields = {"main_cause": "illness", "identified_year": 2014, "status": Household.Status.POOR, **fields}
    return Household(village=village, number=f"{village.code}9999", **fields)


def new_member(household, id_number, relation=Member.Relation.SON, **fields):
    if "sex" not in fields:
        fields["sex"] = Member.Sex.MALE if idnumbers.is_male(id_number) else Member.Sex.FEMALE
    fields = {"name": "王小明", **fields}
    return Member(household=household, id_number=id_number, relation=relation, **fields)


# Households: years ----------------------------------------------------------------------------------


def test_a_valid_household_passes_validation(area):
    new_household(
        area.village_a, status=Household.Status.RELAPSED, exit_year=2016, relapse_year=2017, other_causes=["skills"]
    ).full_clean()


def test_exit_year_before_identified_year_is_refused_by_validation(area):
    errors = clean_errors(new_household(area.village_a, status=Household.Status.EXITED, exit_year=2013))
    assert errors["exit_year"] == ["脱贫年度不能早于识别年度。"]


def test_exit_year_before_identified_year_is_refused_by_the_database(area):
    with refused_by_database(Household, "household_exit_not_before_identified"):
        Household.objects.filter(pk=area.household_a.pk).update(exit_year=2013)
    area.household_a.refresh_from_db()
    assert area.household_a.exit_year is None


def test_exit_in_the_identified_year_is_allowed(area):
    new_household(area.village_a, status=Household.Status.EXITED, exit_year=2014).full_clean()


def test_planned_exit_before_identified_year_is_refused(area):
    errors = clean_errors(new_household(area.village_a, status=Household.Status.PLANNED, planned_exit_year=2013))
    assert errors["planned_exit_year"] == ["计划脱贫年度不能早于识别年度。"]
    with refused_by_database(Household, "household_planned_exit_not_before_identified"):
        factories.household(area.village_a, members=0, planned_exit_year=2013)


def test_relapse_not_after_exit_is_refused_by_validation(area):
    household = new_household(area.village_a, status=Household.Status.RELAPSED, exit_year=2016, relapse_year=2016)
    assert clean_errors(household)["relapse_year"] == ["返贫年度须晚于脱贫年度。"]


def test_relapse_not_after_exit_is_refused_by_the_database(area):
    with refused_by_database(Household, "household_relapse_after_exit"):
        factories.household(
            area.village_a, members=0, status=Household.Status.RELAPSED, exit_year=2016, relapse_year=2015
        )


def test_relapse_without_exit_is_refused(area):
    household = new_household(area.village_a, relapse_year=2017)
    assert clean_errors(household)["relapse_year"] == ["返贫年度须晚于脱贫年度。"]
    with refused_by_database(Household, "household_relapse_after_exit"):
        Household.objects.filter(pk=area.household_a.pk).update(relapse_year=2017)


@pytest.mark.parametrize("status", [Household.Status.EXITED, Household.Status.EXITED_NO_POLICY])
def test_exited_without_exit_year_is_refused_by_validation(area, status):
    errors = clean_errors(new_household(area.village_a, status=status))
    assert errors["exit_year"] == ["已脱贫或返贫的户须填写脱贫年度。"]


def test_exited_without_exit_year_is_refused_by_the_database(area):
    with refused_by_database(Household, "household_exited_has_year"):
        Household.objects.filter(pk=area.household_a.pk).update(status=Household.Status.EXITED)
    area.household_a.refresh_from_db()
    assert area.household_a.status == Household.Status.PLANNED


def test_relapsed_without_relapse_year_is_refused(area):
    household = new_household(area.village_a, status=Household.Status.RELAPSED, exit_year=2016)
    assert clean_errors(household)["relapse_year"] == ["返贫户须填写返贫年度。"]
    with refused_by_database(Household, "household_relapsed_has_year"):
        Household.objects.filter(pk=area.household_a.pk).update(status=Household.Status.RELAPSED, exit_year=2016)


def test_planned_without_planned_year_is_refused(area):
    household = new_household(area.village_a, status=Household.Status.PLANNED)
    assert clean_errors(household)["planned_exit_year"] == ["计划脱贫的户须填写计划脱贫年度。"]
    with refused_by_database(Household, "household_planned_has_year"):
        Household.objects.filter(pk=area.household_a.pk).update(planned_exit_year=None)


# Households: causes (validation only: a JSON list) -------------------------------------------------------


def test_main_cause_repeated_in_other_causes_is_refused(area):
    household = new_household(area.village_a, main_cause="illness", other_causes=["skills", "illness"])
    assert clean_errors(household)["other_causes"] == ["其他致贫原因不能包含主要致贫原因。"]


def test_other_causes_must_come_from_the_list_and_not_repeat(area):
    unknown = new_household(area.village_a, other_causes=["bad_luck"])
    assert clean_errors(unknown)["other_causes"] == ["其他致贫原因只能从致贫原因列表中选择。"]
    repeated = new_household(area.village_a, other_causes=["skills", "skills"])
    assert clean_errors(repeated)["other_causes"] == ["其他致贫原因有重复。"]


# Members: exactly one head -----------------------------------------------------------------------------


def test_a_second_active_head_is_refused_by_validation(area):
    errors = clean_errors(new_member(area.household_a, VALID_ID, relation=Member.Relation.HEAD))
    assert "每户只能有一名户主。" in errors["__all__"]


def test_a_second_active_head_is_refused_by_the_database(area):
    with refused_by_database(Member, "one_head_per_household"):
        factories.member(area.household_a, relation=Member.Relation.HEAD)
    assert area.household_a.members.filter(relation=Member.Relation.HEAD).count() == 1


def test_two_heads_in_one_batch_are_refused_by_the_database(area):
    household = factories.household(area.village_a, members=0)
    heads = [
        new_member(household, factories.id_number(), relation=Member.Relation.HEAD),
        new_member(household, factories.id_number(), relation=Member.Relation.HEAD),
    ]
    with refused_by_database(Member, "one_head_per_household"):
        Member.objects.bulk_create(heads)


def test_a_new_head_after_the_former_head_left_is_allowed(area):
    former = area.household_a.members.get(relation=Member.Relation.HEAD)
    former.is_active = False
    former.save()
    successor = new_member(area.household_a, VALID_ID, relation=Member.Relation.HEAD)
    successor.full_clean()
    successor.save()
    heads = area.household_a.members.filter(relation=Member.Relation.HEAD)
    assert heads.count() == 2
    assert list(heads.filter(is_active=True)) == [successor]


def test_reactivating_the_former_head_beside_a_new_head_is_refused_by_the_database(area):
    former = area.household_a.members.get(relation=Member.Relation.HEAD)
    Member.objects.filter(pk=former.pk).update(is_active=False)
    factories.member(area.household_a, relation=Member.Relation.HEAD)
    with refused_by_database(Member, "one_head_per_household"):
        Member.objects.filter(pk=former.pk).update(is_active=True)


# Members: ID numbers -------------------------------------------------------------------------------------


def test_a_valid_id_number_passes_validation(area):
    new_member(area.household_a, VALID_ID).full_clean()


def test_wrong_check_digit_is_refused_by_validation(area):
    errors = clean_errors(new_member(area.household_a, wrong_check_char(VALID_ID)))
    assert errors["id_number"] == ["身份证号校验码错误，请核对后重新输入。"]


def test_wrong_check_digit_is_refused_by_the_database(area):
    with refused_by_database(Member, "member_id_number_check_digit"):
        factories.member(area.household_a, id_number=wrong_check_char(VALID_ID))


def test_a_check_digit_x_is_refused_where_a_digit_is_due(area):
    assert VALID_ID[17] == "6"
    with refused_by_database(Member, "member_id_number_check_digit"):
        factories.member(area.household_a, id_number=VALID_ID[:17] + "X")


@pytest.mark.parametrize("birth", ["19800230", "19801301", "19810229", "19800431", "19800001", "19800100"])
def test_impossible_birth_date_is_refused_by_validation(area, birth):
    id_number = with_check_char(f"511902{birth}123")
    errors = clean_errors(new_member(area.household_a, id_number))
    assert errors["id_number"] == [f"身份证号中的出生日期 {birth} 不存在。"]


@pytest.mark.parametrize("birth", ["19801301", "19800001", "19800100", "19800132", "17990101"])
def test_impossible_birth_month_or_day_is_refused_by_the_database(area, birth):
    with refused_by_database(Member, "member_id_number_format"):
        factories.member(area.household_a, id_number=with_check_char(f"511902{birth}123"))


@pytest.mark.parametrize("birth", ["19800230", "19810229", "19800431"])
def test_impossible_calendar_date_is_refused_by_the_database(area, birth):
    with refused_by_database(Member):
        factories.member(area.household_a, id_number=with_check_char(f"511902{birth}123"))


def test_a_birth_date_in_the_future_is_refused_by_validation(area):
    id_number = with_check_char("511902" + "29990101" + "123")
    errors = clean_errors(new_member(area.household_a, id_number))
    assert errors["id_number"] == ["身份证号中的出生日期 29990101 不合理。"]


def test_lowercase_x_is_normalised_by_validation(area):
    member = new_member(area.household_a, "11010519491231002x", sex=Member.Sex.FEMALE)
    member.full_clean()
    assert member.id_number == "11010519491231002X"
    member.save()
    assert Member.objects.filter(id_number="11010519491231002X").exists()


def test_lowercase_x_is_refused_by_the_database(area):
    # A lowercase x is neither the allowed shape nor the computed check character "X".
    with refused_by_database(Member, ("member_id_number_format", "member_id_number_check_digit")):
        factories.member(area.household_a, id_number="11010519491231002x", male=False)


@pytest.mark.parametrize("bad", ["51190219800228123A", "5119021980O228123X", "51190219800228-23X", "5119021980022812"])
def test_id_number_with_letters_or_wrong_length_is_refused_by_validation(area, bad):
    errors = clean_errors(new_member(area.household_a, bad, sex=Member.Sex.MALE))
    assert errors["id_number"] == ["身份证号应为18位：前17位为数字，最后一位为数字或X。"]


@pytest.mark.parametrize("bad", ["51190219800228123A", "5119021980O228123X", "5119021980022812"])
def test_id_number_with_letters_or_wrong_length_is_refused_by_the_database(area, bad):
    with refused_by_database(Member, ("member_id_number_format", "member_id_number_check_digit")):
        factories.member(area.household_a, id_number=bad)


def test_the_same_id_active_in_two_households_is_refused_by_validation(area):
    registered = area.household_a.members.first()
    errors = clean_errors(new_member(area.household_b, registered.id_number))
    assert "该身份证号已登记为另一在册成员，同一人不能在两户中同时在册。" in errors["__all__"]


def test_the_same_id_active_in_two_households_is_refused_by_the_database(area):
    registered = area.household_a.members.first()
    with refused_by_database(Member, "member_id_number_unique_active"):
        factories.member(area.household_b, id_number=registered.id_number, male=registered.sex == Member.Sex.MALE)
    assert list(Member.objects.filter(id_number=registered.id_number)) == [registered]


def test_the_same_id_is_allowed_once_the_first_registration_is_inactive(area):
    registered = area.household_a.members.first()
    registered.is_active = False
    registered.save()
    moved = new_member(area.household_b, registered.id_number)
    moved.full_clean()
    moved.save()
    assert Member.objects.filter(id_number=registered.id_number).count() == 2
    assert list(Member.objects.filter(is_active=True, id_number=registered.id_number)) == [moved]


def test_reactivating_a_registration_whose_id_is_active_elsewhere_is_refused_by_the_database(area):
    registered = area.household_a.members.first()
    Member.objects.filter(pk=registered.pk).update(is_active=False)
    factories.member(area.household_b, id_number=registered.id_number, male=registered.sex == Member.Sex.MALE)
    with refused_by_database(Member, "member_id_number_unique_active"):
        Member.objects.filter(pk=registered.pk).update(is_active=True)


def test_sex_must_match_the_17th_digit(area):
    assert idnumbers.is_male(VALID_ID)
    errors = clean_errors(new_member(area.household_a, VALID_ID, sex=Member.Sex.FEMALE))
    assert errors == {"sex": ["性别与身份证号第17位不符。"]}
    woman = idnumbers.build("511902", datetime.date(1982, 6, 1), 124)
    assert clean_errors(new_member(area.household_a, woman, sex=Member.Sex.MALE)) == {
        "sex": ["性别与身份证号第17位不符。"]
    }


def test_work_months_above_12_are_refused(area):
    member = area.household_a.members.first()
    member.work_months = 13
    assert clean_errors(member)["work_months"] == ["务工时间应在 0–12 个月之间。"]
    with refused_by_database(Member, "member_work_months_0_12"):
        Member.objects.filter(pk=member.pk).update(work_months=13)


def test_a_duplicate_written_between_the_check_and_the_save_gets_the_rules_message(area):
    """Two people register the same ID number at once: both pass the check, the database refuses the second."""
    from django.core.exceptions import ValidationError

    from bazhou.core.services import save_checked

    number = factories.id_number(born=datetime.date(1980, 3, 3))
    late = Member(
        household=area.household_b, name="李四", sex=Member.Sex.MALE, relation=Member.Relation.SON, id_number=number
    )
    late.full_clean()
    factories.member(area.household_a, id_number=number)  # The other person's save lands first.
    with pytest.raises(ValidationError) as refused:
        save_checked(late)
    assert "同一人不能在两户中同时在册" in str(refused.value)
    assert Member.objects.filter(id_number=number).count() == 1
