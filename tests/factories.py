"""Small, consistent objects for tests: a household task's village is its household's village, and so on."""

import datetime
import itertools
from decimal import Decimal

from bazhou.models import Role, User
from households import idnumbers
from households.models import Household, Member
from tasks.models import Plan, Task
from villages.models import District, Township, Village

_seq = itertools.count(1)


def district(code="511902", name="巴州区"):
    return District.objects.get_or_create(code=code, defaults={"name": name})[0]


def township(district_obj=None, number=204, name=None):
    district_obj = district_obj or district()
    kind = "subdistrict" if number < 100 else "town" if number < 200 else "township"
    code = f"{district_obj.code}{number:03d}"
    return Township.objects.get_or_create(
        code=code, defaults={"district": district_obj, "name": name or f"乡镇{number}", "kind": kind}
    )[0]


def village(township_obj=None, number=None, **fields):
    township_obj = township_obj or township()
    number = number or next(_seq) % 1000
    fields.setdefault("name", f"村{number}")
    return Village.objects.create(township=township_obj, code=f"{township_obj.code}{number:03d}", **fields)


def poor_village(township_obj=None, exit_year=2017, **fields):
    fields = {
        "is_poor": True,
        "status": Village.Status.PLANNED,
        "planned_exit_year": exit_year,
        "identified_year": 2014,
        **fields,
    }
    return village(township_obj, **fields)


def id_number(born=datetime.date(1970, 5, 1), male=True):
    n = next(_seq)
    sequence = (n * 2 + (1 if male else 0)) % 1000
    born = born + datetime.timedelta(days=n // 500)
    return idnumbers.build("511902", born, sequence)


def household(village_obj=None, members=3, **fields):
    village_obj = village_obj or village()
    fields = {
        "main_cause": "illness",
        "identified_year": 2014,
        "status": Household.Status.PLANNED,
        "planned_exit_year": 2017,
        **fields,
    }
    h = Household.objects.create(village=village_obj, number=f"{village_obj.code}{next(_seq):04d}", **fields)
    for i in range(members):
        member(h, relation=Member.Relation.HEAD if i == 0 else Member.Relation.SON)
    return h


def member(household_obj, relation=Member.Relation.SON, male=True, **fields):
    return Member.objects.create(
        household=household_obj,
        name=fields.pop("name", "成员"),
        sex=Member.Sex.MALE if male else Member.Sex.FEMALE,
        id_number=fields.pop("id_number", None) or id_number(male=male),
        relation=relation,
        **fields,
    )


def plan(village_obj=None, year=2017, **fields):
    village_obj = village_obj or village()
    return Plan.objects.get_or_create(village=village_obj, year=year, defaults=fields)[0]


def task(plan_obj=None, household_obj=None, **fields):
    if plan_obj is None:
        plan_obj = plan(household_obj.village if household_obj else None)
    fields = {
        "category": "road",
        "item": "通村硬化路",
        "quantity": Decimal("3"),
        "unit": "公里",
        "deadline": datetime.date(2017, 8, 31),
        "planned_funds": Decimal("100"),
        **fields,
    }
    return Task.objects.create(plan=plan_obj, household=household_obj, **fields)


def user(role, area=None, username=None, **fields):
    """A user of ``role`` scoped to ``area`` (a District, Township or Village; a superuser needs none)."""
    username = username or f"{role}-{next(_seq)}"
    area_field = {District: "district", Township: "township", Village: "village"}.get(type(area))
    if area_field:
        fields[area_field] = area
    u = User(username=username, role=role, **fields)
    u.set_password("pw-for-tests-2017")
    u.full_clean()
    u.save()
    return u


ROLES = Role
