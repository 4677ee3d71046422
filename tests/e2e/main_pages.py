"""The main pages of the product, with enough data behind them that their tables, badges and forms render.

Shared by the accessibility test (axe-core on each page) and the screenshot test. ``world(area, personas)``
builds, on the demo's today (2017-09-15): 茅垭村's approved 2017 plan with village and household rows in every
state (overdue, due within 7 days, in progress, done, with fund sources), 百花村's draft plan awaiting approval,
households with incomes and helpers, findings with rectifications (one overdue past escalation and
accountability), a lead from the village's information officer, a change request, a published and a draft
bulletin, the daily chain's escalations and cases and their messages, and a department's rows.
``visits(w)`` lists each page as (name, username, path); the names are the screenshot file names.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import NamedTuple

from bazhou.core.models import Notification
from supervision import bulletin_services, chain, lead_services
from supervision.models import Lead
from tasks import changes, services
from tests import factories

TODAY = datetime.date(2017, 9, 15)
PHONE = {"width": 390, "height": 844}
DESK = {"width": 1440, "height": 900}
SIZES = {"desk": DESK, "phone": PHONE}


class World(NamedTuple):
    plan: object
    draft_plan: object
    task: object
    household: object
    finding: object
    bulletin: object
    users: dict


def world(area, personas) -> World:
    """The data behind the main pages (see the module's docstring); ``users`` maps a persona's key to its username."""
    transport = factories.department(area.district, "区交通运输局")
    department_user = factories.department_user(transport, username="jiaotong", name="交通局专干")
    patch_leader = factories.patch_leader_user([area.township_a], username="guabao", name="李挂包")
    discipline = factories.discipline_user(area.district, username="jiwei", name="纪委干部")
    informant = factories.informant_user(area.village_a, username="xinxiyuan", name="信息员")
    factories.poverty_line(2017)

    households = [area.household_a, *(factories.household(area.village_a) for _ in range(3))]
    for n, household in enumerate(households):
        factories.income(household, 2017, wage=3000 + 1500 * n)
        factories.helper(household)

    plan = factories.plan(area.village_a, 2017)
    road = factories.task(
        plan,
        item="茅垭村通村硬化路",
        responsible_unit="区交通运输局",
        department=transport,
        responsible_person="秦和平",
        planned_funds=Decimal("1234.5"),
        deadline=datetime.date(2017, 6, 30),
        status="in_progress",
        progress=40,
    )
    factories.fund_line(road, "central", Decimal("1000"))
    factories.fund_line(road, "district", Decimal("234.5"))
    factories.task(
        plan,
        category="culture_room",
        item="村文化室",
        quantity=Decimal("1"),
        unit="处",
        deadline=datetime.date(2017, 9, 20),
        responsible_person="秦和平",
    )
    factories.task(
        plan,
        category="water",
        item="安全饮水工程",
        deadline=datetime.date(2017, 11, 30),
        status="in_progress",
        progress=60,
    )
    factories.done_task(plan, category="electricity", item="农网改造", planned_funds=Decimal("17.1"))
    for n, household in enumerate(households):
        factories.task(
            plan,
            household,
            category="housing" if n % 2 else "industry",
            item="危房改造" if n % 2 else "发展核桃产业",
            planned_funds=Decimal("2.4"),
            deadline=datetime.date(2017, 8, 31) if n == 0 else datetime.date(2017, 10, 31),
        )
    factories.done_task(plan, households[1], category="education", item="教育资助", planned_funds=Decimal("0.3"))
    services.plan_approve(plan_id=plan.pk, user=personas.district_admin)

    draft_plan = factories.plan(area.village_a2, 2017)
    factories.task(draft_plan, item="百花村产业路", planned_funds=Decimal("44.64"))
    factories.task(draft_plan, factories.household(area.village_a2), category="industry", item="养殖")
    factories.task(factories.plan(area.village_b, 2017), item="大寺村安全饮水", responsible_unit="区水务局")

    room = plan.tasks.get(item="村文化室")
    changes.change_request_create(
        user=personas.village_cadre,
        task=room,
        changes={"deadline": datetime.date(2017, 12, 31)},
        reason_category="policy",
        reason="材料运输受阻，申请顺延",
        expected_version=room.version,
    )

    finding = factories.finding(area.village_a, type="records", description="贫困户档案资料不全", escalate=True)
    factories.rectification(finding, deadline=datetime.date(2017, 10, 31))
    late = factories.finding(road, type="delay", description="通村硬化路停工", found_on=datetime.date(2017, 7, 1))
    factories.rectification(late, deadline=datetime.date(2017, 8, 1))
    factories.rectification(factories.finding(area.household_a, type="housing", description="仍住C级危房"))
    lead_services.lead_file(
        user=informant,
        data={"kind": Lead.Kind.LEAD, "description": "通村硬化路停工一个月，现场无人施工。", "observed_on": TODAY},
        token="a11y-1",
    )
    chain.daily(district=area.district, today=TODAY)

    published = bulletin_services.bulletin_generate(
        user=personas.supervisor,
        period_start=datetime.date(2017, 9, 1),
        period_end=datetime.date(2017, 9, 15),
        today=TODAY,
    )
    published = bulletin_services.bulletin_publish_draft(
        bulletin_id=published.pk, user=personas.supervisor, expected=bulletin_services.fingerprint(published)
    )
    bulletin_services.bulletin_generate(
        user=personas.supervisor,
        period_start=datetime.date(2017, 8, 1),
        period_end=datetime.date(2017, 8, 31),
        today=TODAY,
    )

    for user, title in (
        (personas.leader, "茅垭村通村硬化路已逾期 77 天"),
        (personas.village_cadre, "村文化室 5 天后到期"),
        (personas.supervisor, "茅垭村报送了一条督查线索"),
    ):
        Notification.objects.create(
            recipient_key=f"user:{user.pk}",
            user=user,
            district=area.district,
            reason=Notification.Reason.TASK_OVERDUE,
            target_type="tasks.task",
            target_id=road.pk,
            day=TODAY,
            title=title,
            url=f"/tasks/{road.pk}/",
        )

    users = {
        "cadre": personas.village_cadre.username,
        "township": personas.township_a.username,
        "admin": personas.district_admin.username,
        "supervisor": personas.supervisor.username,
        "leader": personas.leader.username,
        "patch_leader": patch_leader.username,
        "discipline": discipline.username,
        "department": department_user.username,
        "informant": informant.username,
    }
    return World(plan, draft_plan, road, area.household_a, finding, published, users)


def visits(w: World) -> list[tuple[str, str, str]]:
    """Each main page as (name, persona key, path); the login page is visited signed out (persona "")."""
    u = w.users
    return [
        ("login", "", "/login/"),
        ("todo-cadre", u["cadre"], "/"),
        ("cards", u["cadre"], "/tasks/mine/"),
        ("task", u["cadre"], f"/tasks/{w.task.pk}/"),
        ("progress", u["cadre"], f"/tasks/{w.task.pk}/progress/"),
        ("plan-cadre", u["cadre"], f"/tasks/plans/{w.plan.pk}/"),
        ("inbox", u["cadre"], "/inbox/"),
        ("todo-township", u["township"], "/"),
        ("villages", u["township"], "/villages/"),
        ("village", u["township"], f"/villages/{w.plan.village_id}/"),
        ("plan", u["township"], f"/tasks/plans/{w.plan.pk}/"),
        ("cards-township", u["township"], "/tasks/mine/"),
        ("households", u["township"], "/households/"),
        ("household", u["township"], f"/households/{w.household.pk}/"),
        ("todo-admin", u["admin"], "/"),
        ("awaiting-approval", u["admin"], "/tasks/awaiting-approval/"),
        ("change-requests", u["admin"], "/tasks/changes/"),
        ("todo-supervisor", u["supervisor"], "/"),
        ("queue", u["supervisor"], "/supervision/queue/"),
        ("findings", u["supervisor"], "/supervision/findings/"),
        ("finding", u["supervisor"], f"/supervision/findings/{w.finding.pk}/"),
        ("leads", u["supervisor"], "/supervision/leads/"),
        ("escalations", u["supervisor"], "/supervision/escalations/"),
        ("bulletins", u["supervisor"], "/supervision/bulletins/"),
        ("bulletin", u["supervisor"], f"/supervision/bulletins/{w.bulletin.pk}/"),
        ("todo-leader", u["leader"], "/"),
        ("dashboard", u["leader"], "/dashboard/"),
        ("todo-patch-leader", u["patch_leader"], "/"),
        ("cases", u["discipline"], "/supervision/cases/"),
        ("todo-department", u["department"], "/"),
        ("department", u["department"], "/tasks/department/"),
        ("lead-form", u["informant"], "/supervision/leads/new/"),
    ]
