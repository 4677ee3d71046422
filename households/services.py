"""Writes to the registry (建档立卡): households and their members, as the Excel import and the API make them, and
the yearly incomes.

As in ``tasks.services``: keyword-only arguments and the acting ``user``; what is changed is fetched through
``bazhou.core.access`` (a household the user may not change is a 404, as if it did not exist); one transaction; the
row is locked and its ``version`` compared with the one the caller last saw (:class:`RegistryConflict`, nothing
changed); ``full_clean()`` before anything is written (Chinese messages by field); the history written in the same
step, signed with who and why.

A member is never deleted: :func:`member_leave` marks them no longer active (迁出、死亡或注销), with a reason.
A year's income (one a household and year) has no version: :func:`income_update` compares the figures the caller
read (:func:`income_fingerprint`) under the row lock instead. Its history, like every other, is signed with who and
why. A change to an income's figures or to a household's living conditions (:data:`LIVING_CONDITION_FIELDS`, the
evidence of 一超六有) must give a reason (修改原因): without one nothing is changed.

:func:`household_check` and :func:`member_check` say, without a query, what these functions would change and
refuse: the import's preview checks thousands of rows with them, and the writes check again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.shortcuts import get_object_or_404

from bazhou.core.services import EditConflict, collect_errors, raise_if, save_checked, sign
from households import decisions
from households.models import Household, HouseholdIncome, Member
from villages.models import Village

# The fields of a household and of a member a person may set (the rest: village, number, version, dates), as the
# register (households.exports) carries them; a member's in the order the admin's member list shows them.
HOUSEHOLD_FIELDS = (
    "group",
    "phone",
    "attribute",
    "main_cause",
    "other_causes",
    "identified_year",
    "status",
    "planned_exit_year",
    "exit_year",
    "relapse_year",
    "housing_grade",
    "safe_water",
    "electricity",
    "radio_tv",
    "road",
    "sanitary_toilet",
)
MEMBER_FIELDS = (
    "name",
    "relation",
    "sex",
    "id_number",
    "ethnicity",
    "education",
    "school",
    "health",
    "labour",
    "work",
    "work_months",
    "medical_insurance",
    "pension_insurance",
    "on_dibao",
)

# The figures of a year's income a person may set (in 元); the household and the year are fixed once recorded.
INCOME_FIELDS = (*HouseholdIncome.INCOME_FIELDS, "business_expenses")

# A household's living conditions: the evidence of 一超六有 (households.readiness), changed only with a reason.
LIVING_CONDITION_FIELDS = ("housing_grade", "safe_water", "electricity", "radio_tv", "road", "sanitary_toilet")

MEMBER_LEFT = "该成员已不在册（迁出、死亡或注销），不能再修改。"
REASON_LIVING = "修改住房、饮水、用电、广播电视、入户路或厕所等生活条件须填写修改原因。"
REASON_INCOME = "修改家庭年收入须填写修改原因。"
INCOME_CREATED = "登记家庭年收入"
REASON_LEAVE = "成员不再在册（迁出、死亡或注销）须填写原因。"


class RegistryConflict(EditConflict):
    """Someone changed the household or member after the caller read it; nothing was changed."""

    def __init__(self, current):
        what = f"{current._meta.verbose_name} {current}"
        super().__init__(current, f"{what} 已被他人修改（当前版本 {current.version}）。")


class IncomeConflict(EditConflict):
    """Someone changed the year's income after the caller read it (the model has no version: its figures'
    :func:`income_fingerprint` is compared); nothing was changed."""

    def __init__(self, current: HouseholdIncome):
        super().__init__(current, f"{current} 的收入已被他人修改。")


@dataclass
class Check:
    obj: Household | Member
    changed: set[str]
    errors: dict[str, list[str]]


def _assign(obj, data: Mapping, allowed: tuple[str, ...]) -> set[str]:
    unknown = set(data) - set(allowed)
    if unknown:
        raise ValueError(f"Not fields a person may set: {sorted(unknown)}")
    changed = set()
    for name, value in data.items():
        if getattr(obj, name) != value:
            changed.add(name)
            setattr(obj, name, value)
    return changed


def _clean(obj) -> None:
    """``full_clean``, its errors as a ValidationError by field (Chinese messages)."""
    errors: dict[str, list[str]] = {}
    collect_errors(errors, obj.full_clean)
    raise_if(errors)


def _check(obj, data: Mapping, allowed: tuple[str, ...], *, parent: str) -> Check:
    changed = _assign(obj, data, allowed)
    errors: dict[str, list[str]] = {}
    collect_errors(errors, lambda: obj.full_clean(exclude=[parent], validate_unique=False, validate_constraints=False))
    return Check(obj, changed, errors)


def _create(obj, data: Mapping, allowed: tuple[str, ...], *, user, reason: str):
    _assign(obj, data, allowed)
    _clean(obj)
    sign(obj, user, reason)
    save_checked(obj)
    return obj


def _check_version(obj, expected_version) -> None:
    if expected_version is None or obj.version != int(expected_version):
        raise RegistryConflict(obj)


def _save_new_version(obj, *, user, reason: str) -> None:
    _clean(obj)
    obj.version += 1
    sign(obj, user, reason)
    obj.save()


def _update(obj, data: Mapping, allowed: tuple[str, ...], *, user, expected_version, reason: str):
    _check_version(obj, expected_version)
    if _assign(obj, data, allowed):
        _save_new_version(obj, user=user, reason=reason)
    return obj


def household_check(*, household: Household, data: Mapping) -> Check:
    """The changes ``data`` makes to ``household`` (in memory, never saved) and what the rules say of them."""
    return _check(household, data, HOUSEHOLD_FIELDS, parent="village")


def member_check(*, member: Member, data: Mapping) -> Check:
    """The changes ``data`` makes to ``member`` (in memory, never saved) and what the rules say of them."""
    return _check(member, data, MEMBER_FIELDS, parent="household")


@transaction.atomic
@decisions.judged(decisions.Source.HOUSEHOLD_NEW)
def household_create(*, user, village_id: int, number: str, data: Mapping, reason: str) -> Household:
    """Register a household in a village ``user`` may change."""
    village = get_object_or_404(Village.objects.editable_by(user), pk=village_id)
    decisions.watch_villages([village.pk], detail=f"户 {number}")
    household = Household(village=village, number=(number or "").strip())
    _create(household, data, HOUSEHOLD_FIELDS, user=user, reason=reason)
    decisions.registered_now(household.pk)
    return household


@transaction.atomic
@decisions.judged(decisions.Source.HOUSEHOLD)
def household_update(*, household_id: int, user, expected_version: int, data: Mapping, reason: str) -> Household:
    """Change a household's facts; nothing is written when nothing changes. A change to the living conditions
    (:data:`LIVING_CONDITION_FIELDS`) without a reason is refused."""
    household = get_object_or_404(Household.objects.editable_by(user).select_for_update(of=("self",)), pk=household_id)
    _check_version(household, expected_version)
    decisions.watch_households([household.pk], detail=f"户 {household.number}")
    decisions.watch_villages([household.village_id])
    changed = _assign(household, data, HOUSEHOLD_FIELDS)
    if changed & set(LIVING_CONDITION_FIELDS) and not (reason or "").strip():
        raise ValidationError({"reason": [REASON_LIVING]})
    if changed:
        _save_new_version(household, user=user, reason=(reason or "").strip())
    return household


@transaction.atomic
@decisions.judged(decisions.Source.MEMBER_JOIN)
def member_create(*, household_id: int, user, data: Mapping, reason: str) -> Member:
    """Add a member to a household ``user`` may change (an ID number active in another household is refused)."""
    household = get_object_or_404(Household.objects.editable_by(user), pk=household_id)
    decisions.watch_households([household.pk], detail=f"户 {household.number} 新增成员")
    decisions.watch_villages([household.village_id])
    return _create(Member(household=household), data, MEMBER_FIELDS, user=user, reason=reason)


@transaction.atomic
@decisions.judged(decisions.Source.MEMBER)
def member_update(*, member_id: int, user, expected_version: int, data: Mapping, reason: str) -> Member:
    """Change an active member of a household ``user`` may change; nothing is written when nothing changes."""
    members = Member.objects.filter(household__in=Household.objects.editable_by(user), is_active=True)
    member = get_object_or_404(members.select_for_update(of=("self",)), pk=member_id)
    decisions.watch_households([member.household_id], detail=f"成员 {member.name}")
    return _update(member, data, MEMBER_FIELDS, user=user, expected_version=expected_version, reason=reason)


@transaction.atomic
@decisions.judged(decisions.Source.MEMBER_LEAVE)
def member_leave(*, member_id: int, user, expected_version: int, reason: str, data: Mapping | None = None) -> Member:
    """A member leaves the register (迁出、死亡或注销): never deleted, marked no longer active, with the reason in
    the history. ``data`` may correct the member's facts in the same step. A member who has left stays so."""
    members = Member.objects.filter(household__in=Household.objects.editable_by(user))
    member = get_object_or_404(members.select_for_update(of=("self",)), pk=member_id)
    _check_version(member, expected_version)
    if not member.is_active:
        raise ValidationError({"is_active": MEMBER_LEFT})
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": REASON_LEAVE})
    decisions.watch_households([member.household_id], detail=f"成员 {member.name} 不再在册")
    decisions.watch_villages(Household.objects.filter(pk=member.household_id).values_list("village", flat=True))
    _assign(member, data or {}, MEMBER_FIELDS)
    member.is_active = False
    _save_new_version(member, user=user, reason=f"不再在册：{reason}")
    return member


def income_fingerprint(income: HouseholdIncome) -> str:
    """A short digest of the figures a person sets, to tell whether a year's income changed since it was read."""
    content = "|".join(
        [str(income.household_id), str(income.year), *(f"{getattr(income, n):.2f}" for n in INCOME_FIELDS)]
    )
    return hashlib.sha256(content.encode("utf-8")).hexdigest()[:20]


@transaction.atomic
@decisions.judged(decisions.Source.INCOME)
def income_create(*, household_id: int, user, year: int, data: Mapping, reason: str = "") -> HouseholdIncome:
    """Record a household's income for ``year`` (one a household and year; the figures not given are 0).

    The household is locked, so that two records of the same year cannot both pass the check."""
    households = Household.objects.editable_by(user).select_for_update(of=("self",))
    household = get_object_or_404(households, pk=household_id)
    decisions.watch_households([household.pk], year=year, detail=f"户 {household.number} 登记{year}年家庭年收入")
    income = HouseholdIncome(household=household, year=year)
    _assign(income, data, INCOME_FIELDS)
    _clean(income)
    sign(income, user, (reason or "").strip() or INCOME_CREATED)
    income.save()
    return income


@transaction.atomic
@decisions.judged(decisions.Source.INCOME)
def income_update(*, income_id: int, user, expected: str, data: Mapping, reason: str = "") -> HouseholdIncome:
    """Change the figures of a year's income, if they are still those the caller read (``expected`` is their
    :func:`income_fingerprint`, else IncomeConflict); nothing is written when nothing changes. A change needs a
    ``reason`` (ValidationError on ``reason`` otherwise, nothing changed); it signs the income's history."""
    incomes = HouseholdIncome.objects.filter(household__in=Household.objects.editable_by(user))
    income = get_object_or_404(incomes.select_for_update(of=("self",)), pk=income_id)
    if income_fingerprint(income) != expected:
        raise IncomeConflict(income)
    decisions.watch_households([income.household_id], year=income.year, detail=f"{income.year}年家庭年收入")
    if _assign(income, data, INCOME_FIELDS):
        if not (reason or "").strip():
            raise ValidationError({"reason": [REASON_INCOME]})
        _clean(income)
        sign(income, user, reason.strip())
        income.save()
    return income
