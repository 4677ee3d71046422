"""The rows behind an annual goal's figure (``/dashboard/goals/<id>/``) and the page where a manual goal's figure is
entered (``/dashboard/goals/<id>/enter/``); docs/goals.md.

The drill-down lists, in the dashboard's scope (``?township=`` / ``?village=``, picked as the dashboard picks it),
the villages, households, members, plan rows or records a computed figure counts, with the numbers that add up to
it, and a total row computed by the same function the dashboard calls (bazhou.surfaces.dashboard), so the two never
disagree. A fixed number of queries whatever the data: the goal, the total, one page of rows (and its count).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count, OuterRef, Q, Subquery, Sum
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from bazhou.core import access, idnumbers
from bazhou.core.models import AnnualGoal
from bazhou.core.pages import page_of, querystring_without_page
from bazhou.core.services import sign
from bazhou.surfaces import dashboard as figures
from bazhou.surfaces.dashboard import HOUSEHOLD_PATHS, VILLAGE_PATHS, Scope, own_goals_q, scope_params
from bazhou.surfaces.views import dashboard_scope
from households.models import Household, Member, exited_in_q
from tasks.models import done_q
from villages.models import Village

Metric = AnnualGoal.Metric


def visible_goal(scope: Scope, pk: int) -> AnnualGoal:
    """The goal ``pk`` if the dashboard of ``scope`` shows it (the scope's own goals and the district's), else 404."""
    district_goals = Q(township__isnull=True, village__isnull=True)
    goal = (
        AnnualGoal.objects.filter(Q(district=scope.district, pk=pk) & (own_goals_q(scope) | district_goals))
        .select_related("township", "village", "entered_by")
        .first()
    )
    if goal is None:
        raise Http404
    return goal


def _masked(member: Member, user) -> str:
    """A member's name and ID number as the household pages show it (masked unless the role needs it in full)."""
    number = member.id_number if access.sees_id_numbers(user) else idnumbers.mask(member.id_number)
    return f"{member.name}（{number}）"


def _money(value) -> str:
    return "—" if value is None else f"{Decimal(str(value)).quantize(Decimal('0.01')):,.2f}"


@dataclass
class Drill:
    """What the page shows for one metric: the rows, the column heads, one row's cells, the total row's cells."""

    rows: object
    heads: list[str]
    cells: object
    total: list
    note: str = ""


def _households_cells(h) -> list:
    return [h.number, f"{h.village.township.name} {h.village.name}", h.get_status_display()]


def drill(goal: AnnualGoal, scope: Scope, user) -> Drill:
    """The rows behind ``goal``'s figure in ``scope`` and its total (2 queries before the page's own)."""
    year, metric = goal.year, goal.metric
    if metric == Metric.VILLAGES_EXITED:
        rows = Village.objects.filter(scope.q(VILLAGE_PATHS), exit_year=year, status=Village.Status.EXITED)
        rows = rows.select_related("township").order_by("township__code", "code")
        return Drill(rows, ["乡镇", "村", "退出年度"], lambda v: [v.township.name, v.name, v.exit_year], [rows.count()])
    if metric == Metric.PEOPLE_LIFTED:
        people = (
            Member.objects.filter(household=OuterRef("pk"), is_active=True)
            .order_by()
            .values("household")
            .annotate(n=Count("pk"))
            .values("n")[:1]
        )
        rows = Household.objects.filter(scope.q(HOUSEHOLD_PATHS), exited_in_q(year)).annotate(people=Subquery(people))
        rows = rows.select_related("village__township").order_by("number")
        total = figures.registry_counts(scope, year)["people_lifted"]
        return Drill(
            rows, ["户编号", "村", "状态", "在册成员（人）"], lambda h: [*_households_cells(h), h.people or 0], [total]
        )
    if metric == Metric.TASK_QUANTITY:
        rows = scope.tasks(year).filter(done_q(), category=goal.task_category, unit=goal.unit)
        rows = rows.select_related("plan__village__township", "household").order_by("plan__village__code", "pk")
        total = rows.aggregate(v=Sum("quantity"))["v"] or 0
        return Drill(
            rows,
            ["村", "项目", f"数量（{goal.unit}）", "完成日期"],
            lambda t: [f"{t.plan.village.township.name} {t.plan.village.name}", t.item, t.quantity, t.completed_on],
            [total],
        )
    if metric == Metric.INCOME_RISE:
        rows = figures.income_rise_rows(scope, year).select_related("village__township").order_by("number")
        result = figures.income_rise(scope, year)
        return Drill(
            rows,
            [
                "户编号",
                "村",
                "状态",
                "在册成员（人）",
                f"{year - 1}年人均纯收入（元）",
                f"{year}年人均纯收入（元）",
                "增加（元）",
            ],
            lambda h: [
                *_households_cells(h),
                h.members_n,
                _money(h.per_capita_before),
                _money(h.per_capita_now),
                _money(h.per_capita_now - h.per_capita_before),
            ],
            [
                f"{result['households']} 户平均",
                _money(result["before"]),
                _money(result["now"]),
                _money(result["value"]),
            ],
            note="两年人均纯收入各自取平均后相减（= 各户增加额的平均数），保留两位小数。",
        )
    if metric in (Metric.INDUSTRY_COVERAGE, Metric.LOW_RENT_HOUSING):
        source = figures.industry_coverage_rows if metric == Metric.INDUSTRY_COVERAGE else figures.low_rent_housing_rows
        rows = source(scope, year).select_related("village__township").order_by("-covered", "number")
        share = figures.GOAL_METRICS[metric](scope, year)
        what = "有产业发展任务" if metric == Metric.INDUSTRY_COVERAGE else "住在廉租房"
        return Drill(
            rows,
            ["户编号", "村", "状态", what],
            lambda h: [*_households_cells(h), "是" if h.covered else "否"],
            [f"{share['covered']} / {share['total']} 户", f"{share['value'] if share['value'] is not None else '—'}%"],
        )
    if metric == Metric.BUSINESS_ENTITIES:
        rows = figures.business_entity_rows(scope, year).select_related("village__township").order_by("registered_on")
        return Drill(
            rows,
            ["名称", "类型", "村", "登记日期", "带动贫困户（户）"],
            lambda e: [e.name, e.get_kind_display(), e.village.name, e.registered_on, e.poor_households],
            [rows.count()],
        )
    if metric == Metric.LAND_TRANSFER:
        rows = figures.land_transfer_rows(scope, year).select_related("village__township", "household")
        rows = rows.order_by("signed_on", "pk")
        total = figures.GOAL_METRICS[metric](scope, year)["value"]
        return Drill(
            rows,
            ["村", "流出户", "面积（亩）", "签订日期", "流入方", "年限（年）"],
            lambda c: [
                c.village.name,
                c.household.number if c.household else "—",
                c.area_mu,
                c.signed_on,
                c.transferee,
                c.term_years,
            ],
            [total],
        )
    if metric == Metric.HOSPITAL_SHARE:
        rows = figures.hospital_stay_rows(scope, year).select_related("member__household__village")
        rows = rows.order_by("discharged_on", "pk")
        share = figures.hospital_share(scope, year)
        return Drill(
            rows,
            ["患者", "村", "医院", "出院日期", "总费用（元）", "个人自付（元）"],
            lambda s: [
                _masked(s.member, user),
                s.member.household.village.name,
                s.hospital,
                s.discharged_on,
                _money(s.total_cost),
                _money(s.out_of_pocket),
            ],
            [
                f"{share['stays']} 人次",
                _money(share["total_cost"]),
                _money(share["out_of_pocket"]),
                f"{share['value'] if share['value'] is not None else '—'}%",
            ],
            note="只计区内医院、当年出院的住院；自付比例 = 个人自付合计 ÷ 总费用合计。",
        )
    if metric in (Metric.JOB_FAIR_INTENTS, Metric.JOB_FAIR_ATTENDANCE):
        intents = metric == Metric.JOB_FAIR_INTENTS
        rows = figures.job_fair_rows(scope, year, intents=intents).select_related("fair", "member__household__village")
        rows = rows.order_by("fair__held_on", "fair", "member__household__number", "member")
        total = figures.job_fair_people(scope, year, intents=intents)["value"]
        return Drill(
            rows,
            ["招聘会", "求职者", "村", "签订意向", "意向用工单位"],
            lambda a: [
                str(a.fair),
                _masked(a.member, user),
                a.member.household.village.name,
                "是" if a.signed_intent else "否",
                a.employer or "—",
            ],
            [f"{total} 人"],
            note="同一人参加多场只计一次。",
        )
    raise Http404


@login_required
@require_http_methods(["GET"])
def goal_detail(request, pk: int):
    """The rows behind a goal's figure in the dashboard's scope; for a manual goal, who entered it, when, and why."""
    scope = dashboard_scope(request)
    goal = visible_goal(scope, pk)
    context = {
        "scope": scope,
        "goal": goal,
        "year": goal.year,
        "source": figures.goal_source(goal),
        "back_query": urlencode({"year": goal.year, **scope_params(scope)}),
        "may_enter": access.may_enter_goal_figures(request.user, goal),
    }
    if goal.computed:
        table = drill(goal, scope, request.user)
        page_obj = page_of(request, table.rows)
        context.update(
            table=table,
            page_obj=page_obj,
            page_rows=[table.cells(row) for row in page_obj],
            querystring=querystring_without_page(request),
        )
    return render(request, "dashboard/goal_detail.html", context)


# ---------------------------------------------------------------------------------------------
# Entering a manual goal's figure (手工填报)
# ---------------------------------------------------------------------------------------------


class GoalFigureForm(forms.Form):
    value = forms.DecimalField(
        label="完成值",
        max_digits=14,
        decimal_places=2,
        min_value=0,
        error_messages={
            "required": "请填写完成值。",
            "invalid": "完成值须是数字。",
            "min_value": "完成值不能为负数。",
            "max_digits": "完成值位数过多（最多 12 位整数、2 位小数）。",
            "max_decimal_places": "完成值最多保留 2 位小数。",
            "max_whole_digits": "完成值位数过多（最多 12 位整数）。",
        },
    )
    evidence = forms.CharField(
        label="佐证材料",
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="依据：统计表、文件名称和文号等。",
        error_messages={"required": "请填写佐证材料（依据）。", "max_length": "佐证材料最多 2000 字。"},
    )


def goal_figure_enter(*, goal_id: int, user, value: Decimal, evidence: str) -> AnnualGoal:
    """Enter a manual goal's figure with its evidence: checked again under the row lock, signed in the history with
    who and why; the dashboard shows who entered it and when."""
    with transaction.atomic():
        goal = AnnualGoal.objects.select_for_update(of=("self",)).select_related("village").get(pk=goal_id)
        if not access.may_enter_goal_figures(user, goal):
            raise PermissionDenied("您不能填报这项目标的完成值。")
        goal.manual_actual = value
        goal.evidence = evidence.strip()
        goal.entered_by = user
        goal.entered_at = timezone.now()
        sign(goal, user, f"填报完成值：{value} {goal.unit}")
        goal.save(update_fields=["manual_actual", "evidence", "entered_by", "entered_at"])
    return goal


@login_required
@require_http_methods(["GET", "POST"])
def goal_enter(request, pk: int):
    """The form that enters a manual goal's figure, for those who may (access.may_enter_goal_figures)."""
    scope = dashboard_scope(request)
    goal = visible_goal(scope, pk)
    if not access.may_enter_goal_figures(request.user, goal):
        raise PermissionDenied(
            "只有区脱贫办和目标所属乡镇、村的工作人员可以填报手工目标的完成值；计算得出的目标不能手工填报。"
        )
    initial = {"value": goal.manual_actual, "evidence": goal.evidence}
    form = GoalFigureForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        goal_figure_enter(
            goal_id=goal.pk, user=request.user, value=form.cleaned_data["value"], evidence=form.cleaned_data["evidence"]
        )
        messages.success(request, f"已填报“{goal.name}”的完成值。")
        return redirect(f"{figures.reverse('dashboard')}?{urlencode({'year': goal.year, **scope_params(scope)})}")
    context = {
        "scope": scope,
        "goal": goal,
        "form": form,
        "year": goal.year,
        "enter": True,
        "source": figures.goal_source(goal),
        "back_query": urlencode({"year": goal.year, **scope_params(scope)}),
    }
    return render(request, "dashboard/goal_detail.html", context)
