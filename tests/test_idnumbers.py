"""Citizen ID numbers (GB 11643): the check character, validation messages, masking, and the SQL check."""

import datetime

import pytest
from django.core.exceptions import ValidationError

from bazhou.core import idnumbers
from households.models import Member
from tests import factories

# Published examples of valid numbers (GB 11643-1999 and its common worked example).
KNOWN_VALID = ["11010519491231002X", "440524188001010014"]
TODAY = datetime.date(2017, 9, 15)


def messages(value, today=TODAY):
    with pytest.raises(ValidationError) as exc:
        idnumbers.validate_id_number(value, today=today)
    return exc.value.messages


@pytest.mark.parametrize("number", KNOWN_VALID)
def test_check_char_of_known_valid_numbers(number):
    assert idnumbers.check_char(number[:17]) == number[17]
    idnumbers.validate_id_number(number, today=TODAY)


def test_check_char_follows_the_weights_and_table():
    # 1×7+1×9+0×10+1×5+0×8+5×4+1×2+9×1+4×6+9×3+1×7+2×9+3×10+1×5+0×8+0×4+2×2 = 167; 167 mod 11 = 2 → "X"
    assert idnumbers.check_char("11010519491231002") == "X"
    # All zeros: sum 0 → "1"; a single 1 in the 8th place (weight 1): sum 1 → "0".
    assert idnumbers.check_char("0" * 17) == "1"
    assert idnumbers.check_char("0" * 7 + "1" + "0" * 9) == "0"


@pytest.mark.parametrize("position", range(17))
def test_any_single_mistyped_digit_is_caught(position):
    valid = KNOWN_VALID[0]
    for digit in "0123456789":
        if digit == valid[position]:
            continue
        typo = valid[:position] + digit + valid[position + 1 :]
        assert idnumbers.check_char(typo[:17]) != typo[17], typo


def test_swapped_neighbouring_digits_are_caught():
    valid = "440524188001010014"
    for i in range(16):
        if valid[i] != valid[i + 1]:
            swapped = valid[:i] + valid[i + 1] + valid[i] + valid[i + 2 :]
            assert idnumbers.check_char(swapped[:17]) != swapped[17], swapped


# validate_id_number ---------------------------------------------------------------------------------


def test_lowercase_x_and_surrounding_spaces_are_accepted():
    idnumbers.validate_id_number(" 11010519491231002x ", today=TODAY)
    assert idnumbers.normalize(" 11010519491231002x ") == "11010519491231002X"
    assert idnumbers.normalize(None) == ""


def test_wrong_check_character_message():
    assert messages("110105194912310021") == ["身份证号校验码错误，请核对后重新输入。"]
    assert messages("440524188001010015") == ["身份证号校验码错误，请核对后重新输入。"]


@pytest.mark.parametrize(
    "value",
    ["", "1101051949123100", "11010519491231002XX", "1101051949123100XX", "11010519491231002Y", "A10105194912310020"],
)
def test_format_message(value):
    assert messages(value) == ["身份证号应为18位：前17位为数字，最后一位为数字或X。"]


@pytest.mark.parametrize("birth", ["19800230", "19810229", "19801232", "19801301", "19800431", "19800000"])
def test_nonexistent_birth_date_message(birth):
    first17 = f"511902{birth}123"
    assert messages(first17 + idnumbers.check_char(first17)) == [f"身份证号中的出生日期 {birth} 不存在。"]


def test_29_february_of_a_leap_year_is_a_real_date():
    idnumbers.validate_id_number(idnumbers.build("511902", datetime.date(1980, 2, 29), 123), today=TODAY)
    idnumbers.validate_id_number(idnumbers.build("511902", datetime.date(2000, 2, 29), 124), today=TODAY)


@pytest.mark.parametrize("born", [datetime.date(1879, 12, 31), datetime.date(2017, 9, 16), datetime.date(2030, 1, 1)])
def test_implausible_birth_date_message(born):
    number = idnumbers.build("511902", born, 123)
    assert messages(number) == [f"身份证号中的出生日期 {born:%Y%m%d} 不合理。"]


def test_born_today_is_plausible_and_the_future_is_only_judged_against_today():
    born_today = idnumbers.build("511902", TODAY, 123)
    idnumbers.validate_id_number(born_today, today=TODAY)
    tomorrow = idnumbers.build("511902", TODAY + datetime.timedelta(days=1), 123)
    idnumbers.validate_id_number(tomorrow)  # no today given: only the calendar and 1880 are checked
    assert messages(tomorrow) == [f"身份证号中的出生日期 {TODAY + datetime.timedelta(days=1):%Y%m%d} 不合理。"]


def test_each_error_has_its_code():
    codes = {}
    for value in ("123", "511902198002301235", "110105194912310021"):
        with pytest.raises(ValidationError) as exc:
            idnumbers.validate_id_number(value, today=TODAY)
        codes[value] = exc.value.code
    assert codes == {"123": "id_format", "511902198002301235": "id_birth_date", "110105194912310021": "id_check_digit"}


# build, birth date, sex ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("born", "sequence"),
    [
        (datetime.date(1949, 12, 31), 2),
        (datetime.date(1970, 5, 1), 123),
        (datetime.date(1980, 2, 29), 999),
        (datetime.date(2010, 10, 10), 0),
        (datetime.date(2016, 1, 1), 1001),
    ],
)
def test_build_produces_valid_numbers(born, sequence):
    number = idnumbers.build("511902", born, sequence)
    assert len(number) == 18
    assert number.startswith(f"511902{born:%Y%m%d}{sequence % 1000:03d}")
    idnumbers.validate_id_number(number, today=TODAY)
    assert idnumbers.birth_date(number) == born
    assert idnumbers.is_male(number) is (sequence % 2 == 1)


def test_build_reproduces_the_standard_example():
    assert idnumbers.build("110105", datetime.date(1949, 12, 31), 2) == "11010519491231002X"


# mask --------------------------------------------------------------------------------------------------------


def test_mask_keeps_the_area_and_the_last_four():
    assert idnumbers.mask("511902198002281234") == "511902********1234"
    assert idnumbers.mask("11010519491231002X") == "110105********002X"


def test_mask_hides_the_birth_date():
    masked = idnumbers.mask("511902198002281256")
    assert "19800228" not in masked
    assert len(masked) == 18


def test_mask_of_nothing_is_empty():
    assert idnumbers.mask("") == ""
    assert idnumbers.mask(None) == ""


def test_a_members_masked_id_number(area):
    member = area.household_a.members.first()
    assert member.masked_id_number == member.id_number[:6] + "********" + member.id_number[-4:]
    assert member.birth_date == idnumbers.birth_date(member.id_number)


# The same check in SQL -----------------------------------------------------------------------------------------


def test_the_database_computes_the_same_check_character(area):
    wanted = {"X", "0", "1", "5"}
    numbers = {}
    sequence = 1
    while wanted - set(numbers):
        number = idnumbers.build("511902", datetime.date(1975, 3, 14), sequence)
        numbers.setdefault(number[17], number)
        sequence += 2
    for number in numbers.values():
        factories.member(area.household_b, id_number=number)
    computed = dict(
        Member.objects.filter(id_number__in=numbers.values())
        .annotate(check=idnumbers.check_char_expression("id_number"))
        .values_list("id_number", "check")
    )
    assert computed == {number: number[17] for number in numbers.values()}
