"""Every access decision of bazhou/core/access.py, as one table: every role × every decision × places inside and
outside the user's area.

The places are four villages: 茅垭村 and 百花村 in 白庙乡 (township A), 大寺村 in 寺岭乡 (township B), all in
巴州区, and a village of another district (恩阳区). Each rule is written as one flag per place, in that order:
``Y`` yes, ``-`` no.
The personas: the district admin, township A's staff, 茅垭村's cadre, the supervisor, leaders of the district, of
township A and of 茅垭村, a superuser, an inactive district admin and an anonymous visitor.

What the rows themselves say (each model's ``visible_to`` / ``editable_by``) is checked in tests/test_access.py; the
surfaces (pages, API, exports, imports, dashboard, bulletins) in tests/test_access_surfaces.py.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

import pytest
from django.contrib.auth.models import AnonymousUser
from django.http import Http404
from django.utils import timezone

from bazhou.core import access
from bazhou.core.models import Role, User
from households.exports import RegisterScope
from households.models import Household, Member
from supervision.bulletin_data import districts_for_bulletins
from supervision.models import Bulletin, Finding, Rectification
from tasks.exports import PlanTableScope
from tasks.models import Plan, Task
from tests import factories
from villages.areas import AreaScope, chosen_area
from villages.models import AssistanceAssignment, Township, Village

PLACES = ("茅垭村", "百花村", "大寺村", "恩阳区的村")
PERSONAS = (
    "district_admin",
    "township_staff",
    "village_cadre",
    "supervisor",
    "district_leader",
    "township_leader",
    "village_leader",
    "superuser",
    "inactive",
    "anonymous",
)

# ---------------------------------------------------------------------------------------------
# What a role may do, whatever the row
# ---------------------------------------------------------------------------------------------

ROLE_DECISIONS = {
    "may_edit_plans": access.may_edit_plans,
    "may_edit_registry": access.may_edit_registry,
    "may_answer_rectifications": access.may_answer_rectifications,
    "may_supervise": access.may_supervise,
    "may_write_bulletins": access.may_write_bulletins,
    "may_approve_plans": access.may_approve_plans,
    "sees_id_numbers": access.sees_id_numbers,
    "district_wide": access.district_wide,
    "may_request_changes": access.may_request_changes,
    "may_decide_change_requests": access.may_decide_change_requests,
}

# One flag per decision above, in that order.
ROLE_RULES = {
    "district_admin": "YYYYYYYYYY",
    "township_staff": "YYY---Y-Y-",
    "village_cadre": "YYY---Y-Y-",
    "supervisor": "---YY--Y--",
    "district_leader": "-------Y--",
    "township_leader": "----------",
    "village_leader": "----------",
    "superuser": "YYYYYYYYYY",
    "inactive": "----------",
    "anonymous": "----------",
}

# ---------------------------------------------------------------------------------------------
# What a user may do in each place (flags: 茅垭村, 百花村, 大寺村, 恩阳区的村)
# ---------------------------------------------------------------------------------------------

SEES = {
    "district_admin": "YYY-",
    "township_staff": "YY--",
    "village_cadre": "Y---",
    "supervisor": "YYY-",
    "district_leader": "YYY-",
    "township_leader": "YY--",
    "village_leader": "Y---",
    "superuser": "YYYY",
    "inactive": "----",
    "anonymous": "----",
}
EDITS = {
    "district_admin": "YYY-",
    "township_staff": "YY--",
    "village_cadre": "Y---",
    "supervisor": "----",
    "district_leader": "----",
    "township_leader": "----",
    "village_leader": "----",
    "superuser": "YYYY",
    "inactive": "----",
    "anonymous": "----",
}
SUPERVISES = {
    "district_admin": "YYY-",
    "township_staff": "----",
    "village_cadre": "----",
    "supervisor": "YYY-",
    "district_leader": "----",
    "township_leader": "----",
    "village_leader": "----",
    "superuser": "YYYY",
    "inactive": "----",
    "anonymous": "----",
}

AREA_RULES = {
    # The village's rows: the village, its plan and rows, households, members, assistance forces, findings.
    "sees the village's rows": SEES,
    "edits the village's plan rows": EDITS,
    "edits the village's registry": EDITS,
    "answers the rectifications of findings in the village": EDITS,
    "files a finding against the village": SUPERVISES,
    "approves the village's plan": {**dict.fromkeys(PERSONAS, "----"), "district_admin": "YYY-", "superuser": "YYYY"},
    "sees the ID numbers of the village's people in full": {
        **EDITS,
    },
    # A finding against the village's township sits above villages: a village's people read it, do not answer it.
    "sees the findings against the village's township": {
        **SEES,
        "village_cadre": "YY--",
        "village_leader": "YY--",
    },
    "answers the findings against the village's township": {**EDITS, "village_cadre": "----"},
    # Which areas a dashboard or an export may show: those wholly inside the user's own.
    "picks the village for a dashboard or an export": SEES,
    "picks the village's township for a dashboard or an export": {
        **SEES,
        "village_cadre": "----",
        "village_leader": "----",
    },
    # An export scope given the village (even one the user could not pick) reads only rows the user sees.
    "exports the village's rows": SEES,
    # Bulletins are records of a district: everyone in it reads the published ones.
    "reads the district's published bulletins": {
        **SEES,
        "township_staff": "YYY-",
        "village_cadre": "YYY-",
        "township_leader": "YYY-",
        "village_leader": "YYY-",
    },
    "reads the district's draft bulletins": SUPERVISES,
    "edits the district's draft bulletins": SUPERVISES,
    "issues bulletins for the district": SUPERVISES,
    # The daily digest goes to the district's own supervisors and district admins (a superuser has no district).
    "receives the district's daily digest": {**SUPERVISES, "superuser": "----"},
}


@dataclass
class Place:
    district: object
    township: object
    village: object
    household: object
    member: object
    plan: object
    task: object
    assignment: object
    findings: dict  # against the village, a row, a household
    township_finding: object
    rectification: object
    published: object
    draft: object


def bulletin(district, number, published):
    return Bulletin.objects.create(
        district=district,
        year=2017,
        number=number,
        title=f"第{number}期通报",
        issued_on=datetime.date(2017, 9, 1),
        period_start=datetime.date(2017, 8, 1),
        period_end=datetime.date(2017, 8, 31),
        state=Bulletin.State.PUBLISHED if published else Bulletin.State.DRAFT,
        published_at=timezone.now() if published else None,
    )


@pytest.fixture
def places(area) -> dict[str, Place]:
    enyang = factories.district("511903", "恩阳区")
    township_x = factories.township(enyang, number=110, name="玉山镇")
    village_x = factories.poor_village(township_x, number=1, name="恩阳村")
    households = {
        area.village_a: area.household_a,
        area.village_a2: factories.household(area.village_a2),
        area.village_b: area.household_b,
        village_x: factories.household(village_x),
    }
    township_findings = {t: factories.finding(t) for t in (area.township_a, area.township_b, township_x)}
    bulletins = {d: (bulletin(d, 1, True), bulletin(d, 2, False)) for d in (area.district, enyang)}
    made = {}
    for name, village in zip(PLACES, households, strict=True):
        household = households[village]
        plan = factories.plan(village)
        task = factories.task(plan)
        findings = {"village": factories.finding(village), "task": factories.finding(task)}
        findings["household"] = factories.finding(household)
        made[name] = Place(
            district=village.township.district,
            township=village.township,
            village=village,
            household=household,
            member=household.members.first(),
            plan=plan,
            task=task,
            assignment=factories.assignment(village),
            findings=findings,
            township_finding=township_findings[village.township],
            rectification=factories.rectification(findings["village"]),
            published=bulletins[village.township.district][0],
            draft=bulletins[village.township.district][1],
        )
    return made


@pytest.fixture
def who(area, personas) -> dict:
    return {
        "district_admin": personas.district_admin,
        "township_staff": personas.township_a,
        "village_cadre": personas.village_cadre,
        "supervisor": personas.supervisor,
        "district_leader": personas.leader,
        "township_leader": factories.user(Role.LEADER, area.township_a, username="a-leader"),
        "village_leader": factories.user(Role.LEADER, area.village_a, username="maoya-leader"),
        "superuser": factories.user("", username="root", is_superuser=True, is_staff=True),
        "inactive": factories.user(Role.DISTRICT_ADMIN, area.district, username="gone", is_active=False),
        "anonymous": AnonymousUser(),
    }


def holds(queryset, obj) -> bool:
    return queryset.filter(pk=obj.pk).exists()


def agreed(answers: dict[str, bool]) -> bool:
    """One answer that every model gives alike; a disagreement between models fails the test with the details."""
    if len(set(answers.values())) != 1:
        raise AssertionError(f"the models disagree: {answers}")
    return next(iter(answers.values()))


def sees_rows(user, p: Place) -> bool:
    return agreed(
        {
            "village": holds(Village.objects.visible_to(user), p.village),
            "household": holds(Household.objects.visible_to(user), p.household),
            "member": holds(Member.objects.visible_to(user), p.member),
            "plan": holds(Plan.objects.visible_to(user), p.plan),
            "task": holds(Task.objects.visible_to(user), p.task),
            "assignment": holds(AssistanceAssignment.objects.visible_to(user), p.assignment),
            "rectification": holds(Rectification.objects.visible_to(user), p.rectification),
            **{f"finding {n}": holds(Finding.objects.visible_to(user), f) for n, f in p.findings.items()},
        }
    )


def edits_plan_rows(user, p: Place) -> bool:
    return agreed(
        {
            "may_edit_plans there": access.may_edit_plans(user) and holds(Village.objects.editable_by(user), p.village),
            "plan": holds(Plan.objects.editable_by(user), p.plan),
            "task": holds(Task.objects.editable_by(user), p.task),
        }
    )


def edits_registry(user, p: Place) -> bool:
    return access.may_edit_registry(user) and holds(Household.objects.editable_by(user), p.household)


def answers_rectifications(user, p: Place) -> bool:
    return agreed(
        {
            f"finding {n}": access.may_answer_rectifications(user) and holds(Finding.objects.editable_by(user), f)
            for n, f in p.findings.items()
        }
    )


def exports_rows(user, p: Place) -> bool:
    area = {"district": p.district, "township": p.township, "village": p.village}
    return agreed(
        {
            "tasks": AreaScope(user=user, **area).rows(Task.objects.all()).exists(),
            "plan table": PlanTableScope(user=user, year=2017, **area).tasks().exists(),
            "register": RegisterScope(user=user, **area).members().exists(),
        }
    )


DECISIONS = {
    "sees the village's rows": sees_rows,
    "edits the village's plan rows": edits_plan_rows,
    "edits the village's registry": edits_registry,
    "answers the rectifications of findings in the village": answers_rectifications,
    "files a finding against the village": lambda u, p: (
        access.may_supervise(u) and holds(Village.objects.visible_to(u), p.village)
    ),
    "approves the village's plan": lambda u, p: (
        access.may_approve_plans(u) and holds(Plan.objects.editable_by(u), p.plan)
    ),
    "sees the ID numbers of the village's people in full": lambda u, p: (
        access.sees_id_numbers(u) and holds(Member.objects.visible_to(u), p.member)
    ),
    "sees the findings against the village's township": lambda u, p: holds(
        Finding.objects.visible_to(u), p.township_finding
    ),
    "answers the findings against the village's township": lambda u, p: (
        access.may_answer_rectifications(u) and holds(Finding.objects.editable_by(u), p.township_finding)
    ),
    "picks the village for a dashboard or an export": lambda u, p: holds(Village.objects.choosable_by(u), p.village),
    "picks the village's township for a dashboard or an export": lambda u, p: holds(
        Township.objects.choosable_by(u), p.township
    ),
    "exports the village's rows": exports_rows,
    "reads the district's published bulletins": lambda u, p: holds(Bulletin.objects.visible_to(u), p.published),
    "reads the district's draft bulletins": lambda u, p: holds(Bulletin.objects.visible_to(u), p.draft),
    "edits the district's draft bulletins": lambda u, p: (
        access.may_write_bulletins(u) and holds(Bulletin.objects.editable_by(u), p.draft)
    ),
    "issues bulletins for the district": lambda u, p: holds(districts_for_bulletins(u), p.district),
    "receives the district's daily digest": lambda u, p: (
        u.pk is not None and holds(User.objects.filter(access.supervisors_of(p.district)), u)
    ),
}


def flags(answers) -> str:
    return "".join("Y" if answer else "-" for answer in answers)


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("decision", list(ROLE_DECISIONS))
def test_what_a_role_may_do(who, persona, decision):
    expected = ROLE_RULES[persona][list(ROLE_DECISIONS).index(decision)] == "Y"
    assert ROLE_DECISIONS[decision](who[persona]) is expected


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("decision", list(AREA_RULES))
def test_what_a_user_may_do_in_each_place(places, who, persona, decision):
    answers = [DECISIONS[decision](who[persona], places[name]) for name in PLACES]
    assert flags(answers) == AREA_RULES[decision][persona], f"{decision}, {persona}: {' '.join(PLACES)}"


@pytest.mark.parametrize(
    ("persona", "expected"),
    [
        ("district_admin", ("district", "511902")),
        ("township_staff", ("township", "511902204")),
        ("village_cadre", ("village", "village_a")),
        ("supervisor", ("district", "511902")),
        ("district_leader", ("district", "511902")),
        ("township_leader", ("township", "511902204")),
        ("village_leader", ("village", "village_a")),
        ("superuser", None),
        ("inactive", None),
        ("anonymous", None),
    ],
)
def test_the_area_of_each_user(area, who, persona, expected):
    if expected and expected[1] == "village_a":
        expected = ("village", area.village_a.pk)
    assert access.area_of(who[persona]) == expected


def test_every_decision_has_a_rule_for_every_persona():
    assert set(DECISIONS) == set(AREA_RULES)
    for rules in (*AREA_RULES.values(), ROLE_RULES):
        assert set(rules) == set(PERSONAS)


# ---------------------------------------------------------------------------------------------
# An export's area and rows: chosen among the areas the user may pick; read through visible_to, always
# ---------------------------------------------------------------------------------------------


def pks(queryset):
    return set(queryset.values_list("pk", flat=True))


def test_an_export_scope_reads_only_the_users_rows_whatever_area_it_is_given(places, personas, area):
    staff = personas.township_a
    in_a = {places["茅垭村"].task.pk, places["百花村"].task.pk}
    # Asking nothing, as a district user would (the whole district): township A's rows only.
    assert pks(AreaScope(user=staff, district=area.district).rows(Task.objects.all())) == in_a
    # Given another township, or a village of it, directly (past chosen_area): nothing at all.
    other = AreaScope(user=staff, district=area.district, township=area.township_b)
    assert not other.rows(Task.objects.all()).exists()
    assert not other.rows(Member.objects.all()).exists()
    assert not PlanTableScope(user=staff, year=2017, district=area.district, township=area.township_b).tasks().exists()
    assert not RegisterScope(user=staff, district=area.district, village=area.village_b).members().exists()
    # The whole instance (a superuser's view of several districts) is still only what the user sees.
    assert pks(AreaScope(user=staff).rows(Task.objects.all())) == in_a
    # And the scope's own area still narrows what the user sees.
    village = AreaScope(user=staff, district=area.district, township=area.township_a, village=area.village_a2)
    assert pks(village.rows(Task.objects.all())) == {places["百花村"].task.pk}


def test_the_area_asked_for_is_chosen_among_those_the_user_may_pick(places, who, area):
    staff, cadre, admin = who["township_staff"], who["village_cadre"], who["district_admin"]
    assert chosen_area(staff).key == ("township", area.township_a.pk)
    assert chosen_area(staff, village=area.village_a2.pk).key == ("village", area.village_a2.pk)
    assert chosen_area(admin).key == ("district", area.district.pk)
    assert chosen_area(admin, township=area.township_b.pk).key == ("township", area.township_b.pk)
    assert chosen_area(cadre).key == ("village", area.village_a.pk)
    assert chosen_area(who["superuser"]).key is None  # two districts: the whole instance
    for user, asked in [
        (staff, {"township": area.township_b.pk}),
        (staff, {"village": area.village_b.pk}),
        (cadre, {"village": area.village_a2.pk}),
        (cadre, {"township": area.township_a.pk}),  # a village's people do not read their township's figures
        (admin, {"township": places["恩阳区的村"].township.pk}),
        (who["anonymous"], {}),
    ]:
        with pytest.raises(Http404):
            chosen_area(user, **asked)
