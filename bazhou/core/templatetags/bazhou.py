"""Template filters shared by every page: ID-number masking by role, money in 万元 and 元 (one format for the whole
site: two decimals and thousands separators, "6,446.03"), percentages, and the one-time submission key of a form."""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django import template
from django.utils.html import format_html

from bazhou.core import access, submissions
from bazhou.core.idnumbers import mask

register = template.Library()
CENT = Decimal("0.01")
SELF = "您本人"  # how a conflict names the user's own earlier save (``changer``)


@register.filter
def id_number_for(id_number: str, user) -> str:
    """The ID number in full for roles that need it, masked (511902********1234) for everyone else."""
    if access.sees_id_numbers(user):
        return id_number
    return mask(id_number)


def money(value, *, exact: bool = False) -> str:
    """The site's one money format: two decimals and thousands separators (55,542.96); "–" when there is none.

    ``exact`` keeps the third and fourth decimals of a 万元 amount (1 元) where they are not zero (12.3456), for
    the places where a difference of a few 元 must show: history, import previews, conflict and mismatch messages.
    """
    if value is None or value == "":
        return "–"
    try:
        d = Decimal(value)
        if not d.is_finite():
            return "–"
        if exact and d != d.quantize(CENT):
            text = f"{d.quantize(Decimal('0.0001'), rounding=ROUND_HALF_UP):,.4f}"
            return text.rstrip("0")
        return f"{d.quantize(CENT, rounding=ROUND_HALF_UP):,.2f}"
    except (InvalidOperation, TypeError, ValueError):
        return "–"


@register.filter
def wan(value) -> str:
    """An amount in 万元, in the site's money format (17.10, 6,446.03)."""
    return money(value)


@register.filter
def wan_exact(value) -> str:
    """An amount in 万元 to the 元: the site's format, plus the third and fourth decimals when not zero."""
    return money(value, exact=True)


@register.filter
def yuan(value) -> str:
    """An amount in 元, in the site's money format."""
    return money(value)


@register.filter
def percent(part, whole) -> int:
    """part / whole as a whole percentage (0 when whole is 0)."""
    try:
        return int(round(Decimal(part or 0) * 100 / Decimal(whole))) if whole else 0
    except (TypeError, ValueError, ArithmeticError):
        return 0


@register.filter
def thousands(value) -> str:
    """A count with thousands separators (12,345); "" when there is none."""
    try:
        return f"{int(value):,}"
    except (TypeError, ValueError):
        return ""


@register.filter
def duration(seconds) -> str:
    """A time left in words: 约 40 秒, 约 3 分钟, 约 1 小时 5 分."""
    try:
        seconds = int(seconds)
    except (TypeError, ValueError):
        return ""
    if seconds < 60:
        return f"约 {max(seconds, 1)} 秒"
    if seconds < 3600:
        return f"约 {round(seconds / 60)} 分钟"
    return f"约 {seconds // 3600} 小时 {seconds % 3600 // 60} 分"


@register.simple_tag
def submission_key() -> str:
    """The hidden one-time key of a POST form: sent twice, the form is acted on once (bazhou.core.submissions)."""
    return format_html('<input type="hidden" name="{}" value="{}">', submissions.FIELD, submissions.new_key())


@register.filter
def changer(person, user) -> str:
    """Who made the change a conflict is about, as told to ``user``: "您本人" when it was the user (another tab, a
    second sending), their name when it was someone else, "他人" when nobody is recorded."""
    if person is None:
        return "他人"
    return SELF if is_user(person, user) else str(person)


@register.filter
def is_user(person, user) -> bool:
    """Whether ``person`` (who saved a record) is ``user`` (who is looking at it)."""
    return person is not None and user is not None and getattr(person, "pk", None) == getattr(user, "pk", object())
