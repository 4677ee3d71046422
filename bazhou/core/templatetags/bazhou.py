"""Template filters shared by every page: ID-number masking by role, money in 万元 and 元, percentages."""

from decimal import Decimal

from django import template

from bazhou.core import access
from bazhou.core.idnumbers import mask

register = template.Library()


@register.filter
def id_number_for(id_number: str, user) -> str:
    """The ID number in full for roles that need it, masked (511902********1234) for everyone else."""
    if access.sees_id_numbers(user):
        return id_number
    return mask(id_number)


@register.filter
def wan(value) -> str:
    """An amount in 万元 as the office writes it: up to four decimals, trailing zeros dropped."""
    if value is None or value == "":
        return "–"
    d = Decimal(value).quantize(Decimal("0.0001"))
    text = f"{d:,.4f}".rstrip("0").rstrip(".")
    return text


@register.filter
def yuan(value) -> str:
    if value is None or value == "":
        return "–"
    return f"{Decimal(value):,.2f}"


@register.filter
def percent(part, whole) -> int:
    """part / whole as a whole percentage (0 when whole is 0)."""
    try:
        return int(round(Decimal(part or 0) * 100 / Decimal(whole))) if whole else 0
    except (TypeError, ValueError, ArithmeticError):
        return 0
