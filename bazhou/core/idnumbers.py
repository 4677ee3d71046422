"""Citizen ID numbers (GB 11643-1999): check, mask, and the same check as a database expression."""

import datetime
import re

from django.core.exceptions import ValidationError
from django.db.models import IntegerField, Value
from django.db.models.functions import Mod, Ord, Substr
from django.utils.translation import gettext as _

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARS = "10X98765432"
# The shape of a valid number, birth date included: days per month, and 29 February only in leap years
# (1800 and 1900 were not leap years, 2000 was). The same pattern is a database constraint.
_MONTH_DAY = r"((0[13578]|1[02])(0[1-9]|[12][0-9]|3[01])|(0[469]|11)(0[1-9]|[12][0-9]|30)|02(0[1-9]|1[0-9]|2[0-8]))"
_LEAP_YEAR = r"((18|19)(0[48]|[2468][048]|[13579][26])|20([02468][048]|[13579][26]))"
PATTERN = rf"^[0-9]{{6}}((18|19|20)[0-9]{{2}}{_MONTH_DAY}|{_LEAP_YEAR}0229)[0-9]{{3}}[0-9X]$"
_PATTERN = re.compile(PATTERN)


def check_char(first17: str) -> str:
    return CHECK_CHARS[sum(int(d) * w for d, w in zip(first17, WEIGHTS, strict=True)) % 11]


def birth_date(id_number: str) -> datetime.date:
    return datetime.date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))


def normalize(value: str) -> str:
    return (value or "").strip().upper()


def validate_id_number(value: str, today: datetime.date | None = None) -> None:
    """Raise a ValidationError in Chinese unless ``value`` is a valid 18-character ID number."""
    value = normalize(value)
    if not re.fullmatch(r"[0-9]{17}[0-9X]", value):
        raise ValidationError(_("身份证号应为18位：前17位为数字，最后一位为数字或X。"), code="id_format")
    try:
        born = birth_date(value)
    except ValueError:
        raise ValidationError(
            _("身份证号中的出生日期 %(d)s 不存在。") % {"d": value[6:14]}, code="id_birth_date"
        ) from None
    if born.year < 1880 or (today is not None and born > today):
        raise ValidationError(_("身份证号中的出生日期 %(d)s 不合理。") % {"d": value[6:14]}, code="id_birth_date")
    if value[17] != check_char(value[:17]):
        raise ValidationError(_("身份证号校验码错误，请核对后重新输入。"), code="id_check_digit")
    if not _PATTERN.match(value):  # pragma: no cover - implied by the checks above
        raise ValidationError(_("身份证号格式不正确。"), code="id_format")


def is_male(id_number: str) -> bool:
    return int(id_number[16]) % 2 == 1


def mask(id_number: str) -> str:
    """511902********1234: the area and the last four, as the registry shows to those who need not see more."""
    if not id_number:
        return ""
    return id_number[:6] + "*" * (len(id_number) - 10) + id_number[-4:]


def check_char_expression(field: str):
    """The check character computed in SQL from the first 17 characters of ``field``.

    Uses the character codes (Ord) rather than casts, so that a malformed value makes the
    constraint false instead of raising a conversion error.
    """
    total = sum(
        ((Ord(Substr(field, i + 1, 1)) - Value(48)) * Value(w) for i, w in enumerate(WEIGHTS)),
        start=Value(0),
    )
    return Substr(Value(CHECK_CHARS), Mod(total, Value(11), output_field=IntegerField()) + Value(1), 1)


def build(area: str, born: datetime.date, sequence: int) -> str:
    """A valid ID number for a person born on ``born``; an odd ``sequence`` makes a man, even a woman."""
    first17 = f"{area}{born:%Y%m%d}{sequence % 1000:03d}"
    return first17 + check_char(first17)
