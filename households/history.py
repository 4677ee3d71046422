"""The registry's history as people read it: who changed a household, a member, a year's income or a helper, when,
from what to what, and why (``bazhou.core.timeline``). The household page and the API show the same entries.

Each function reads a fixed number of queries however long the history is: one per model it shows."""

from __future__ import annotations

from bazhou.core import idnumbers
from bazhou.core.access import sees_id_numbers
from bazhou.core.timeline import Entry, history_entries, newest_first, records_of
from households.models import Cause, Household, HouseholdHelper, HouseholdIncome, Member
from households.services import HOUSEHOLD_FIELDS, INCOME_FIELDS, MEMBER_FIELDS

MEMBER_SHOWN = (*MEMBER_FIELDS, "is_active")
HELPER_FIELDS = ("name", "unit", "post", "phone", "start_date", "end_date")


def _masking(user):
    """Shows an ID number masked to those who do not see them in full (``access.sees_id_numbers``)."""
    if sees_id_numbers(user):
        return None
    return lambda field, value: idnumbers.mask(value) if field == "id_number" and value else None


def _causes(field, value):
    """Other poverty causes (a list of codes) by their names: 因病、缺技术."""
    if field == "other_causes" and isinstance(value, list):
        names = dict(Cause.choices)
        return "、".join(str(names.get(code, code)) for code in value) or "–"
    return None


def household_own_entries(household_id: int) -> list[Entry]:
    return history_entries(
        records_of(Household.history.filter(id=household_id)),
        model=Household,
        fields=HOUSEHOLD_FIELDS,
        shown=_causes,
    )


def member_entries(user, *, member_id: int | None = None, household_id: int | None = None) -> list[Entry]:
    records = (
        Member.history.filter(id=member_id)
        if member_id is not None
        else Member.history.filter(household_id=household_id)
    )
    return history_entries(
        records_of(records), model=Member, fields=MEMBER_SHOWN, label=lambda r: r.name, shown=_masking(user)
    )


def income_entries(*, income_id: int | None = None, household_id: int | None = None) -> list[Entry]:
    records = (
        HouseholdIncome.history.filter(id=income_id)
        if income_id is not None
        else HouseholdIncome.history.filter(household_id=household_id)
    )
    return history_entries(
        records_of(records), model=HouseholdIncome, fields=INCOME_FIELDS, label=lambda r: f"{r.year}年"
    )


def helper_entries(household_id: int) -> list[Entry]:
    return history_entries(
        records_of(HouseholdHelper.history.filter(household_id=household_id)),
        model=HouseholdHelper,
        fields=HELPER_FIELDS,
        label=lambda r: r.name,
    )


def household_timeline(user, household_id: int) -> list[Entry]:
    """Everything the household's evidence rests on: the household itself (living conditions, status …), its
    members, its incomes and its helpers, the newest first. Four queries."""
    return newest_first(
        household_own_entries(household_id),
        member_entries(user, household_id=household_id),
        income_entries(household_id=household_id),
        helper_entries(household_id),
    )


def member_timeline(user, member_id: int) -> list[Entry]:
    return newest_first(member_entries(user, member_id=member_id))


def income_timeline(income_id: int) -> list[Entry]:
    return newest_first(income_entries(income_id=income_id))
