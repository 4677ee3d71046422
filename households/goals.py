"""The rows behind the annual goals measured from the registry and its records (issue 18; docs/goals.md has each
formula in Chinese): one queryset factory per metric, the one home of each rule. The dashboard's drill-down lists
(bazhou/surfaces/goal_views.py) list these rows, the dashboard's figures and the per-village figures the writes keep
(tasks/goal_summaries.py) count them; each takes the year and a filter of the rows' area (``area``: everything by
default; the dashboard passes its scope's, the kept figures a set of villages).
"""

from __future__ import annotations

from django.db.models import Count, ExpressionWrapper, F, FilteredRelation, FloatField, Q, Value
from django.db.models.functions import Cast

from households.models import (
    BusinessEntity,
    HospitalStay,
    Household,
    HouseholdIncome,
    JobFairAttendance,
    LandTransfer,
    LowRentHousing,
    during_year_q,
    in_year_q,
    poor_in_year_q,
)

EVERYWHERE = Q()


def poor_households(year: int, area: Q = EVERYWHERE):
    """The registered households that were poor in ``year`` (households.models.poor_in_year_q)."""
    return Household.objects.filter(area, poor_in_year_q(year))


def _net_income(alias: str):
    """The net income (元) of the income record joined as ``alias`` (HouseholdIncome.net_income)."""
    net = sum((F(f"{alias}__{name}") for name in HouseholdIncome.INCOME_FIELDS), Value(0))
    return net - F(f"{alias}__business_expenses")


def income_rise_rows(year: int, area: Q = EVERYWHERE):
    """The year's poor households with an income record this year and the year before and at least one registered
    member, each with its per-capita net income of both years (net income ÷ active members) and the rise.

    The two income records are joined (one per household and year: household_income_one_per_year) and the active
    members counted in the same grouped query, not looked up by a subquery per household and per reference: at the
    demo's size 0.4 s instead of 0.6 s (2.6 s with PostgreSQL's JIT compiling the eleven subplans)."""
    members = Count("members", filter=Q(members__is_active=True))
    per_person = Cast("members_n", FloatField())
    return (
        poor_households(year, area)
        .alias(
            income_now=FilteredRelation("incomes", condition=Q(incomes__year=year)),
            income_before=FilteredRelation("incomes", condition=Q(incomes__year=year - 1)),
        )
        .filter(income_now__isnull=False, income_before__isnull=False)
        .annotate(members_n=members, net_now=_net_income("income_now"), net_before=_net_income("income_before"))
        .filter(members_n__gt=0)
        .annotate(
            per_capita_now=ExpressionWrapper(F("net_now") / per_person, output_field=FloatField()),
            per_capita_before=ExpressionWrapper(F("net_before") / per_person, output_field=FloatField()),
        )
        .annotate(rise=ExpressionWrapper(F("per_capita_now") - F("per_capita_before"), output_field=FloatField()))
    )


def low_rent_households(year: int):
    """The households that lived in low-rent housing during ``year`` (households.models.during_year_q), as a
    queryset of their ids."""
    return LowRentHousing.objects.filter(during_year_q(year)).order_by().values("household")


def business_entity_rows(year: int, area: Q = EVERYWHERE):
    """The business entities registered in ``year``."""
    return BusinessEntity.objects.filter(area, in_year_q("registered_on", year))


def land_transfer_rows(year: int, area: Q = EVERYWHERE):
    """The land transfer contracts signed in ``year``."""
    return LandTransfer.objects.filter(area, in_year_q("signed_on", year))


def hospital_stay_rows(year: int, area: Q = EVERYWHERE):
    """In-district stays of registered members discharged in ``year``."""
    return HospitalStay.objects.filter(area, in_year_q("discharged_on", year), in_district=True)


def job_fair_rows(year: int, area: Q = EVERYWHERE, *, intents: bool = False):
    """Attendances of registered members at fairs held in ``year`` (with ``intents``: those who signed a letter of
    intent)."""
    rows = JobFairAttendance.objects.filter(area, in_year_q("fair__held_on", year))
    return rows.filter(signed_intent=True) if intents else rows
