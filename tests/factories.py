"""Small, consistent objects for tests: a household task's village is its household's village, and so on."""

import contextlib
import datetime
import itertools
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, connection, transaction

from bazhou.core import idnumbers
from bazhou.core.models import Role, User
from households.models import Household, HouseholdHelper, HouseholdIncome, Member, PovertyLine
from supervision.models import Finding, Rectification
from tasks.models import FundLine, Plan, Task
from villages.models import AssistanceAssignment, District, ExitIndicator, Township, Village, VillageIndicator

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
    if number is None:
        # Codes have three digits: the sequence wraps after 1,000 villages in one test process, so skip the numbers
        # another test's fixture already took in this township (1 query).
        taken = set(Village.objects.filter(township=township_obj).values_list("code", flat=True))
        number = next(
            n for n in iter(lambda: next(_seq) % 1000, None) if n and f"{township_obj.code}{n:03d}" not in taken
        )
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


def fund_line(task_obj, source="central", amount=Decimal("50")):
    return FundLine.objects.create(task=task_obj, source=source, amount=amount)


# The first bytes of each kind of evidence file (what the upload check reads), and a file made of them.
EVIDENCE_MAGIC = {
    "jpeg": (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", "photo.jpg", "image/jpeg"),
    "png": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "photo.png", "image/png"),
    "webp": (b"RIFF\x24\x00\x00\x00WEBPVP8 ", "photo.webp", "image/webp"),
    "heic": (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", "IMG_0001.HEIC", "image/heic"),
    "pdf": (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n", "验收单.pdf", "application/pdf"),
    "gif": (b"GIF89a\x01\x00\x01\x00", "photo.gif", "image/gif"),
    "exe": (b"MZ\x90\x00\x03\x00\x00\x00", "photo.jpg", "image/jpeg"),
}


def evidence_upload(kind="jpeg", name=None, content_type=None, size=1024):
    """An uploaded file whose bytes start like ``kind`` (see EVIDENCE_MAGIC), ``size`` bytes long."""
    magic, default_name, default_type = EVIDENCE_MAGIC[kind]
    content = magic + b"\x00" * max(size - len(magic), 0)
    return SimpleUploadedFile(name or default_name, content, content_type=content_type or default_type)


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


# Users of the roles of the supervision chain (issue 14): each with the area and links its role requires.


def department(district_obj=None, name="区交通运输局", **fields):
    """A sector department of the district (get or create by name)."""
    from villages.models import Department

    district_obj = district_obj or district()
    return Department.objects.get_or_create(district=district_obj, name=name, defaults=fields)[0]


def patch_leader_user(charge_townships=(), charge_villages=(), district_obj=None, **fields):
    """A 挂包 leader of the district whose charge is ``charge_townships`` and ``charge_villages``."""
    district_obj = district_obj or district()
    u = user(Role.PATCH_LEADER, district_obj, **fields)
    u.charge_townships.set(charge_townships)
    u.charge_villages.set(charge_villages)
    return u


def department_user(department_obj=None, **fields):
    """A user of ``department_obj`` (default 区交通运输局), in its district."""
    department_obj = department_obj or department()
    return user(Role.DEPARTMENT, department_obj.district, department=department_obj, **fields)


def informant_user(village_obj=None, **fields):
    """A 村督查信息员 of ``village_obj``."""
    return user(Role.INFORMANT, village_obj or village(), **fields)


def oversight_user(district_obj=None, **fields):
    """A 人大/政协 oversight user of the district."""
    return user(Role.OVERSIGHT, district_obj or district(), **fields)


def discipline_user(district_obj=None, **fields):
    """A 区纪委 user of the district."""
    return user(Role.DISCIPLINE, district_obj or district(), **fields)


# Supervision records and assistance forces.


def finding(target, **fields):
    """A finding against one target: a Task, Village, Household or Township."""
    target_field = {Task: "task", Village: "village", Household: "household", Township: "township"}[type(target)]
    fields = {"type": "delay", "description": "进度滞后", "found_on": datetime.date(2017, 9, 1), **fields}
    return Finding.objects.create(**{target_field: target}, **fields)


def rectification(finding_obj, **fields):
    fields = {"requirement": "限期完成整改", "deadline": datetime.date(2017, 11, 1), **fields}
    return Rectification.objects.create(finding=finding_obj, **fields)


def assignment(village_obj, role="first_secretary", **fields):
    fields = {"person": "秦和平", "unit": "区扶贫局", "start_date": datetime.date(2016, 3, 1), **fields}
    return AssistanceAssignment.objects.create(village=village_obj, role=role, **fields)


# The registry around a household, and village exit indicators.


def poverty_line(year=2017, yuan="3100"):
    return PovertyLine.objects.update_or_create(year=year, defaults={"yuan": Decimal(yuan)})[0]


def income(household_obj, year=2017, **fields):
    """A year's income in 元; components not given are 0."""
    return HouseholdIncome.objects.create(
        household=household_obj, year=year, **{k: Decimal(str(v)) for k, v in fields.items()}
    )


def helper(household_obj, **fields):
    fields = {"name": "杜凤蓉", "unit": "白庙乡人民政府", "start_date": datetime.date(2015, 9, 1), **fields}
    return HouseholdHelper.objects.create(household=household_obj, **fields)


def exit_indicator(year=2017, code="incidence", name="贫困发生率低于3%", **fields):
    """An exit indicator; one with a threshold is judged by the poverty incidence (its source), others by people
    unless ``source`` (and ``task_category``) says otherwise."""
    if fields.get("threshold") is not None:
        fields.setdefault("source", ExitIndicator.Source.INCIDENCE)
    return ExitIndicator.objects.get_or_create(year=year, code=code, defaults={"name": name, **fields})[0]


def village_indicator(village_obj, indicator, met=True, **fields):
    return VillageIndicator.objects.create(village=village_obj, indicator=indicator, met=met, **fields)


def done_task(plan_obj=None, household_obj=None, completed_on=datetime.date(2017, 8, 20), **fields):
    return task(plan_obj, household_obj, status=Task.Status.DONE, progress=100, completed_on=completed_on, **fields)


def populate(township_obj, villages=1, households=2, members=3, village_tasks=2, household_tasks=1, year=2017):
    """``villages`` villages, each with a plan of ``year``, its village rows, ``households`` households of
    ``members`` members with an income of the year, and each household's rows: for tests that compare
    a page's query count on a small and a large district. Returns the villages."""
    made = []
    taken = set(Village.objects.filter(township=township_obj).values_list("code", flat=True))
    free = (n for n in range(100, 1000) if f"{township_obj.code}{n:03d}" not in taken)
    for _ in range(villages):
        v = poor_village(township_obj, number=next(free), registered_population=500)
        p = plan(v, year)
        for i in range(village_tasks):
            if i % 2:
                done_task(p, item=f"村级任务{i}")
            else:
                task(p, item=f"村级任务{i}", status=Task.Status.IN_PROGRESS, progress=50)
        for _ in range(households):
            h = household(v, members=members)
            income(h, year, wage=4000 * members)
            helper(h)
            for i in range(household_tasks):
                task(p, h, item=f"户级任务{i}", category="industry", planned_funds=Decimal("0.5"))
        made.append(v)
    return made


# Assertions shared by the rules tests: refused by validation, and refused by the database.


def clean_errors(obj) -> dict[str, list[str]]:
    """The messages ``full_clean()`` raises for ``obj``, by field (``__all__`` for the rest).

    Fails the test if ``full_clean()`` accepts the object.
    """
    try:
        obj.full_clean()
    except ValidationError as e:
        return {field: [str(m) for m in messages] for field, messages in e.message_dict.items()}
    raise AssertionError(f"full_clean() accepted {type(obj).__name__} {obj!r}")


def all_messages(obj) -> list[str]:
    """Every message ``full_clean()`` raises for ``obj``, whatever field it is attached to."""
    return [m for messages in clean_errors(obj).values() for m in messages]


@contextlib.contextmanager
def refused_by_database(model, constraint: str | tuple[str, ...] | None = None):
    """Expect the writes in the block to raise IntegrityError and to leave ``model``'s table as it was.

    With ``constraint`` (a name, or several when the row cannot break one alone: the database reports
    whichever it checks first), also check the database named it. SQLite names the columns of a violated
    unique index instead, so there any unique violation is accepted.
    """
    names = (constraint,) if isinstance(constraint, str) else constraint or ()
    manager = model._base_manager
    before = list(manager.order_by("pk").values())
    try:
        with transaction.atomic():
            yield
    except IntegrityError as e:
        text = str(e)
        if names and not any(name in text for name in names):
            sqlite_unique = connection.vendor == "sqlite" and text.startswith("UNIQUE constraint failed")
            assert sqlite_unique, f"expected constraint {constraint!r} to refuse the write, got: {text}"
    else:
        raise AssertionError(f"the database accepted the write to {model.__name__}")
    assert list(manager.order_by("pk").values()) == before, f"{model.__name__} changed although the write failed"


def settle(day=None):
    """Bring the summary figures the writes keep (bazhou/core/summaries.py) up to what this test wrote so far, so
    that a query count measured next is the page's own, not the refresh of the test's setup."""
    from bazhou.core import clock, summaries

    summaries.ready(list(summaries.KEEPERS), day or clock.today())
