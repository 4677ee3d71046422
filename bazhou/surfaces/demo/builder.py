"""Builds the demo district: 巴州区 as it stood on 2017-09-15, with bulk inserts.

Deterministic: the same scale gives the same rows (a seeded random generator, fixed dates).
Everything is written in one transaction, so a failure leaves the database as it was.
"""

from __future__ import annotations

import contextlib
import datetime
import itertools
import random
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import connection, transaction

from bazhou.core import idnumbers
from bazhou.core.dates import month_end
from bazhou.core.history import record_in_bulk
from bazhou.core.models import AnnualGoal, User
from bazhou.surfaces.demo import data
from bazhou.surfaces.demo.goals import build_goal_records
from bazhou.surfaces.demo.snapshots import build_snapshots
from bazhou.surfaces.demo.years import build_years
from households.models import Household, HouseholdHelper, HouseholdIncome, Member, PovertyLine
from supervision.bulletin_data import build_snapshot, document_number, draft_body, draft_title, issuer_name
from supervision.models import Accountability, Bulletin, Finding, Inspection, Rectification
from tasks.models import FundLine, Plan, ProgressUpdate, Task
from villages import departments
from villages.departments import looks_like_department
from villages.models import (
    AssistanceAssignment,
    Department,
    District,
    ExitIndicator,
    Township,
    Village,
    VillageIndicator,
)

TZ = ZoneInfo("Asia/Shanghai")
BATCH = 2000
CENT = Decimal("0.01")
DONE = ("done", "accepted")


def at(day: datetime.date, hour: int = 9) -> datetime.datetime:
    return datetime.datetime(day.year, day.month, day.day, hour, tzinfo=TZ)


def money(x: float) -> Decimal:
    return Decimal(str(x)).quantize(CENT, rounding=ROUND_HALF_UP)


@contextlib.contextmanager
def quiet_queries():
    connection.force_debug_cursor = False
    old, settings.DEBUG = settings.DEBUG, False
    try:
        yield
    finally:
        settings.DEBUG = old


def indicator_source(code: str, threshold) -> dict:
    """How the data judges a demo indicator (the mapping of villages migration 0004 and docs/exit-criteria.md)."""
    if threshold is not None:
        return {"source": ExitIndicator.Source.INCIDENCE}
    if code == "collective_income":
        return {"source": ExitIndicator.Source.COLLECTIVE_INCOME}
    return {"source": ExitIndicator.Source.PLAN_ROWS, "task_category": code}


def demo_exists() -> bool:
    return District.objects.filter(code=data.DISTRICT[0]).exists()


@dataclass
class TaskSpec:
    """A plan row decided while the registry is generated, written once plans exist."""

    village: Village
    household: Household | None
    fields: dict
    sources: list[str] = field(default_factory=list)
    fund_lines: list[tuple[str, Decimal]] | None = None


class DemoBuilder:
    def __init__(self, scale: int = 1, seed: int = 2017, log=None):
        if scale < 1:
            raise ValueError("scale must be at least 1")
        self.scale = scale
        self.rng = random.Random(seed)
        self.log = log or (lambda message: None)
        self.counts: Counter[str] = Counter()
        self.used_ids: set[str] = set()
        self.today = data.DEMO_TODAY
        self._cumulative: dict[int, tuple[list, list]] = {}

    # -- entry point ---------------------------------------------------------------------------

    def build(self) -> Counter:
        started = time.perf_counter()
        # Logging every query (as DEBUG does) would cost a third of the time and much memory.
        with transaction.atomic(), quiet_queries():
            self.areas()
            self.departments()
            self.users()
            self.reference_data()
            self.assistance()
            self.registry()
            self.plans()
            build_years(self)  # 2016's plans and the 2018 drafts (bazhou/surfaces/demo/years.py), after 2017's
            self.village_indicators()
            self.supervision()
            build_goal_records(self)  # the records behind the goals (bazhou/surfaces/demo/goals.py)
            build_snapshots(self)  # 12 months of monthly snapshots, last (bazhou/surfaces/demo/snapshots.py)
        self.log(f"用时 {time.perf_counter() - started:.1f} 秒")
        return self.counts

    def _bulk(self, model, objs, history_reason: str | None = None, history_date=None):
        model.objects.bulk_create(objs, batch_size=BATCH)
        self.counts[model._meta.label] += len(objs)
        if history_reason is not None:
            # Every row so far is the demo's own: one statement copies them all into the history.
            self.counts[f"{model._meta.label} 历史"] += record_in_bulk(
                model.objects.filter(pk__gte=objs[0].pk, pk__lte=objs[-1].pk),
                when=history_date,
                user=self.admin,
                reason=history_reason,
            )
        return objs

    # -- people -------------------------------------------------------------------------------

    def person_name(self, male: bool, surname: str | None = None) -> str:
        chars = data.MALE_CHARS if male else data.FEMALE_CHARS
        given = self.rng.choice(chars) + (self.rng.choice(chars) if self.rng.random() < 0.75 else "")
        return (surname or self.rng.choice(data.SURNAMES)) + given

    def pick(self, weighted: list[tuple]):
        """One value of a [(value, weight), …] list."""
        values, cumulative = self._cumulative.get(id(weighted)) or self._cumulate(weighted)
        return self.rng.choices(values, cum_weights=cumulative)[0]

    def _cumulate(self, weighted):
        values = [v for v, _ in weighted]
        cumulative = list(itertools.accumulate(w for _, w in weighted))
        self._cumulative[id(weighted)] = (values, cumulative)
        return values, cumulative

    def phone(self) -> str:
        return f"1{self.rng.choice('3589')}{self.rng.randrange(10**9):09d}"

    def id_number(self, age: int, male: bool, area: str = "511902") -> str:
        while True:
            year = data.PLAN_YEAR - age
            # Nobody is born after the demo's today.
            days = 365 if year < data.PLAN_YEAR else (self.today - datetime.date(year, 1, 1)).days - 14
            born = datetime.date(year, 1, 1) + datetime.timedelta(days=self.rng.randrange(days))
            sequence = self.rng.randrange(500) * 2 + (1 if male else 0)
            number = idnumbers.build(area, born, sequence)
            if number not in self.used_ids:
                self.used_ids.add(number)
                return number

    # -- areas --------------------------------------------------------------------------------

    def village_names(self, count: int, taken: set[str], suffix: str = "村") -> list[str]:
        names = []
        while len(names) < count:
            name = self.rng.choice(data.VILLAGE_FIRST) + self.rng.choice(data.VILLAGE_SECOND) + suffix
            if name in taken:
                ordinal = 2
                while f"{name[:-1]}{ordinal}{suffix}" in taken:
                    ordinal += 1
                name = f"{name[:-1]}{ordinal}{suffix}"
            taken.add(name)
            names.append(name)
        return names

    def areas(self):
        code, name = data.DISTRICT
        self.district = District.objects.create(code=code, name=name)
        self.counts["villages.District"] += 1
        townships = []
        for number, tname in enumerate(data.SUBDISTRICTS, start=1):
            townships.append(
                Township(code=f"{code}{number:03d}", district=self.district, name=tname, kind=Township.Kind.SUBDISTRICT)
            )
        for number, tname in enumerate(data.TOWNS, start=101):
            townships.append(
                Township(code=f"{code}{number:03d}", district=self.district, name=tname, kind=Township.Kind.TOWN)
            )
        for number, tname in enumerate(data.TOWNSHIPS, start=201):
            townships.append(
                Township(code=f"{code}{number:03d}", district=self.district, name=tname, kind=Township.Kind.TOWNSHIP)
            )
        self._bulk(Township, townships)
        self.townships = {t.name: t for t in townships}

        villages: list[Village] = []
        for t in townships:
            taken: set[str] = set()
            if t.name == "白庙乡":
                names = list(data.BAIMIAO_VILLAGES)
                taken.update(names)
                names += self.village_names(len(names) * (self.scale - 1), taken)
                communities = []
            else:
                low, high = {"subdistrict": (3, 5), "town": (14, 22), "township": (10, 16)}[t.kind]
                names = list(data.NAMED_VILLAGES.get(t.name, []))
                taken.update(names)
                names += self.village_names(self.rng.randint(low, high) * self.scale - len(names), taken)
                n_communities = (self.rng.randint(3, 5) if t.kind == "subdistrict" else 1) * self.scale
                communities = self.village_names(n_communities, taken, suffix="社区")
            # 统计用区划代码: 001–199 居委会 (社区), 200–999 村委会.
            for i, cname in enumerate(communities, start=1):
                villages.append(Village(township=t, code=f"{t.code}{i:03d}", name=cname))
            for i, vname in enumerate(names, start=200):
                villages.append(Village(township=t, code=f"{t.code}{i:03d}", name=vname))
        self.villages = villages
        self.village_by_name = {(v.township.name, v.name): v for v in villages}
        self.choose_poor_villages()
        for v in villages:
            v.registered_population = self.rng.randint(900, 3200) * (3 if v.name.endswith("社区") else 1)
            income = self.rng.uniform(2, 20)
            if v.is_poor and v.status != Village.Status.EXITED and self.rng.random() < 0.15:
                income = 0
            elif v.is_poor:
                income = self.rng.uniform(0.5, 4)
            v.collective_income = money(income)
        self._bulk(Village, villages)
        # Populations are finalised once the registry is known (see registry()).

    def choose_poor_villages(self):
        candidates = [v for v in self.villages if not v.name.endswith("社区")]
        weight = {"township": 1.6, "town": 1.0, "subdistrict": 0.3}
        candidates.sort(key=lambda v: self.rng.random() / weight[v.township.kind])
        named = [self.village_by_name[data.MAOYA], self.village_by_name[data.DASI]]
        rest = [v for v in candidates if v not in named]
        s = self.scale
        groups = [
            (2017, named + rest[: data.TARGET_VILLAGES * s - 2]),
        ]
        rest = rest[data.TARGET_VILLAGES * s - 2 :]
        groups += [(2018, rest[: 30 * s]), (2019, rest[30 * s : 50 * s]), (2016, rest[50 * s : 62 * s])]
        for year, group in groups:
            for v in group:
                v.is_poor = True
                v.identified_year = 2014
                v.planned_exit_year = year
                if year <= 2016:
                    v.status, v.exit_year = Village.Status.EXITED, year
                else:
                    v.status = Village.Status.PLANNED

    # -- users and reference data ---------------------------------------------------------------

    def departments(self):
        """The district's sector departments (the units of the plan that read like one), with a phone each."""
        rows = [
            Department(
                district=self.district,
                name=name,
                aliases="\n".join(data.DEPARTMENT_ALIASES.get(name, [])),
                phone=f"0827-52{i:05d}",
            )
            for i, name in enumerate(data.UNITS, start=1)
            if looks_like_department(name, self.district.name)
        ]
        self._bulk(Department, rows)  # their first history record once the admin exists (users())
        self.department_index = departments.index(rows, self.district.name)
        self.department_by_name = {d.name: d for d in rows}

    def users(self):
        password = make_password(data.DEMO_PASSWORD)
        users = []
        for spec in data.DEMO_USERS:
            u = User(
                username=spec.username,
                name=spec.name,
                role=spec.role,
                password=password,
                is_staff=spec.superuser,
                is_superuser=spec.superuser,
                phone=spec.phone,
                department=self.department_by_name[spec.department] if spec.department else None,
            )
            if spec.area == "district":
                u.district = self.district
            elif spec.area[1] is None:
                u.township = self.townships[spec.area[0]]
            else:
                u.village = self.village_by_name[spec.area]
            users.append(u)
        self._bulk(User, users)
        self.user = {u.username: u for u in users}
        self.admin = self.user["admin"]
        self.counts["villages.Department 历史"] += record_in_bulk(
            Department.objects.filter(district=self.district),
            when=at(datetime.date(2017, 2, 20)),
            user=self.admin,
            reason="演示数据：初始记录",
        )
        # 分片挂包: the 挂包 leaders' townships and villages.
        township_links, village_links = [], []
        for spec in data.DEMO_USERS:
            for township, village in spec.charge:
                if village is None:
                    township_links.append(
                        User.charge_townships.through(user=self.user[spec.username], township=self.townships[township])
                    )
                else:
                    village_links.append(
                        User.charge_villages.through(
                            user=self.user[spec.username], village=self.village_by_name[(township, village)]
                        )
                    )
        User.charge_townships.through.objects.bulk_create(township_links)
        User.charge_villages.through.objects.bulk_create(village_links)
        self.counts["挂包乡镇和村"] += len(township_links) + len(village_links)

    def reference_data(self):
        self._bulk(PovertyLine, [PovertyLine(year=y, yuan=yuan) for y, yuan in data.POVERTY_LINES.items()])
        self.indicators = self._bulk(
            ExitIndicator,
            [
                ExitIndicator(
                    year=data.PLAN_YEAR,
                    code=code,
                    name=name,
                    threshold=threshold,
                    description=desc,
                    order=i,
                    **indicator_source(code, threshold),
                )
                for i, (code, name, threshold, desc) in enumerate(data.EXIT_INDICATORS, start=1)
            ],
        )
        goals = []
        for i, (name, target, unit, metric, category, scaled) in enumerate(data.GOALS, start=1):
            goals.append(
                AnnualGoal(
                    district=self.district,
                    year=data.PLAN_YEAR,
                    name=name,
                    unit=unit,
                    target=target * self.scale if scaled else target,
                    metric=metric,
                    task_category=category,
                    reported_by=data.GOAL_REPORTERS.get(name, ""),
                    order=i,
                )
            )
        for i, (township, village, name, target, unit, metric, category, actual, reporter) in enumerate(
            data.AREA_GOALS, start=1
        ):
            goals.append(
                AnnualGoal(
                    district=self.district,
                    township=None if village else self.townships[township],
                    village=self.village_by_name[(township, village)] if village else None,
                    year=data.PLAN_YEAR,
                    name=name,
                    unit=unit,
                    target=target,
                    metric=metric,
                    task_category=category,
                    manual_actual=actual,
                    reported_by=reporter,
                    order=i,
                )
            )
        self._bulk(AnnualGoal, goals, "演示数据：初始记录", at(datetime.date(2017, 2, 20)))

    def assistance(self):
        start = datetime.date(2015, 8, 1)
        rows = []
        for v in self.villages:
            if not v.is_poor:
                continue
            key = (v.township.name, v.name)
            leader_post = self.rng.choice(data.LEADER_POSTS)
            rows.append(
                AssistanceAssignment(
                    village=v,
                    role="leader",
                    person=self.person_name(True),
                    unit="中共巴中市巴州区委" if "常委" in leader_post else "巴州区人民政府",
                    post=leader_post,
                    phone=self.phone(),
                    start_date=start,
                )
            )
            unit = self.rng.choice(data.UNITS)
            rows.append(AssistanceAssignment(village=v, role="unit", unit=unit, start_date=start))
            secretary = data.FIRST_SECRETARIES.get(key)
            if secretary is None and self.rng.random() < 0.3:
                # A first secretary who served two years and was replaced: the page shows both.
                rows.append(
                    AssistanceAssignment(
                        village=v,
                        role="first_secretary",
                        person=self.person_name(True),
                        unit=unit,
                        post="科员",
                        phone=self.phone(),
                        start_date=start,
                        end_date=datetime.date(2017, 7, 31),
                    )
                )
                rows.append(
                    AssistanceAssignment(
                        village=v,
                        role="first_secretary",
                        person=self.person_name(True),
                        unit=unit,
                        post="副主任科员",
                        phone=self.phone(),
                        start_date=datetime.date(2017, 8, 1),
                    )
                )
            else:
                rows.append(
                    AssistanceAssignment(
                        village=v,
                        role="first_secretary",
                        person=secretary or self.person_name(self.rng.random() < 0.8),
                        unit=unit,
                        post="副主任科员",
                        phone=self.phone(),
                        start_date=start,
                    )
                )
            for _ in range(3):
                rows.append(
                    AssistanceAssignment(
                        village=v,
                        role="work_team",
                        person=self.person_name(self.rng.random() < 0.6),
                        unit=self.rng.choice([unit, f"{v.township.name}人民政府"]),
                        post="干部",
                        phone=self.phone(),
                        start_date=start,
                    )
                )
            rows.append(
                AssistanceAssignment(
                    village=v,
                    role="technician",
                    person=self.person_name(True),
                    unit="区农业局",
                    post="农艺师",
                    phone=self.phone(),
                    start_date=start,
                )
            )
        self._bulk(AssistanceAssignment, rows, "演示数据：初始记录", at(datetime.date(2016, 12, 20)))

    # -- the registry ---------------------------------------------------------------------------

    def household_sizes(self, total: int) -> list[int]:
        sizes, weights = zip(*data.HOUSEHOLD_SIZE_WEIGHTS, strict=True)
        out, people = [], 0
        while people < total:
            size = min(self.rng.choices(sizes, weights)[0], total - people)
            out.append(size)
            people += size
        return out

    def registry(self):
        s = self.scale
        village_weight = []
        for v in self.villages:
            if v.planned_exit_year == 2017:
                w = 10.0
            elif v.is_poor:
                w = 4.0
            elif v.name.endswith("社区"):
                w = 0.4
            else:
                w = 1.5
            village_weight.append(w)

        def pick_village():
            return self.rng.choices(self.villages, village_weight)[0]

        # (group, size): 2017 targets sum exactly to 33,479 people per scale.
        plan = [("target", size) for size in self.household_sizes(data.TARGET_PEOPLE * s)]
        plan += [("exited", self.pick(data.HOUSEHOLD_SIZE_WEIGHTS)) for _ in range(7000 * s)]
        plan += [("poor", self.pick(data.HOUSEHOLD_SIZE_WEIGHTS)) for _ in range(4500 * s)]
        plan += [("relapsed", self.pick(data.HOUSEHOLD_SIZE_WEIGHTS)) for _ in range(40 * s)]

        households: list[Household] = []
        members: list[Member] = []
        self.household_members: dict[int, list[Member]] = {}
        per_village_seq: Counter = Counter()
        self.task_specs: list[TaskSpec] = []
        incomes_later: list[tuple[Household, str, list[Member]]] = []
        created = at(datetime.date(2016, 12, 20))
        for group, size in plan:
            v = pick_village()
            per_village_seq[v.code] += 1
            h = Household(
                number=f"{v.code}{per_village_seq[v.code]:04d}",
                village=v,
                group=f"{self.rng.randint(1, 9)}组",
                phone=self.phone(),
                identified_year=2014,
                created_at=created,
            )
            h.main_cause = self.pick(data.CAUSE_WEIGHTS)
            others = [c for c, _ in data.CAUSE_WEIGHTS if c != h.main_cause]
            h.other_causes = self.rng.sample(others, self.rng.choice([0, 0, 1, 1, 2]))
            r = self.rng.random()
            h.attribute = "general" if r < 0.75 else "dibao" if r < 0.95 or size > 2 else "tekun"
            if group == "target":
                h.status, h.planned_exit_year = Household.Status.PLANNED, data.PLAN_YEAR
            elif group == "exited":
                h.exit_year = self.rng.choice([2014, 2015, 2016, 2016])
                h.planned_exit_year = h.exit_year
                h.status = "exited_no_policy" if self.rng.random() < 0.1 else "exited"
            elif group == "poor":
                h.status, h.planned_exit_year = Household.Status.POOR, self.rng.choice([2018, 2018, 2019, 2020])
            else:
                h.status, h.exit_year, h.relapse_year, h.planned_exit_year = "relapsed", 2015, 2016, 2018
            family = self.family(h, size)
            h.radio_tv = self.rng.random() < 0.97 or group == "exited"
            h.electricity = self.rng.random() < 0.995 or group == "exited"
            h.sanitary_toilet = self.rng.random() < (0.8 if group == "exited" else 0.45)
            h.road = "hardened" if self.rng.random() < 0.7 else self.rng.choice(["gravel", "dirt"])
            if group == "target":
                self.target_rows(h, family)
            else:
                bad = group != "exited" and self.rng.random() < 0.2
                h.housing_grade = self.rng.choice("CD") if bad else self.rng.choice("AAB")
                h.safe_water = not (group != "exited" and self.rng.random() < 0.08)
            households.append(h)
            members.extend(family)
            incomes_later.append((h, group, family))

        self._bulk(Household, households, "演示数据：建档立卡", created)
        for m in members:
            m.household_id = m.household.pk
        self._bulk(Member, members, "演示数据：建档立卡", created)
        for h, _, family in incomes_later:
            self.household_members[h.pk] = family
        self.households = households
        self.incomes(incomes_later)
        self.helpers(incomes_later)

        # Registered population: at least the registry's people in the village, and then some.
        people = Counter()
        for h, _, family in incomes_later:
            people[h.village.code] += len(family)
        for v in self.villages:
            v.registered_population = max(v.registered_population, int(people[v.code] * 2.6) + 50)
            v.registered_households = int(v.registered_population / 3.2)
        Village.objects.bulk_update(self.villages, ["registered_population", "registered_households"], batch_size=BATCH)
        # Seed data is written in bulk (no signals): the villages' first history record, as they now stand.
        self.counts["villages.Village 历史"] += record_in_bulk(
            Village.objects.filter(pk__in=[v.pk for v in self.villages]),
            when=at(datetime.date(2016, 12, 20)),
            user=self.admin,
            reason="演示数据：初始记录",
        )

    def family(self, h: Household, size: int) -> list[Member]:
        """Members of a household: a head, a spouse or parent, children and grandchildren of fitting ages."""
        rng = self.rng
        head_male = rng.random() < 0.78 or size > 2
        head_age = rng.randint(28, 78) if size > 1 else rng.randint(45, 88)
        surname = rng.choice(data.SURNAMES)
        people = [("head", head_male, head_age)]
        if size >= 2:
            if rng.random() < 0.85 or head_age < 40:
                people.append(("spouse", not head_male, max(20, head_age + rng.randint(-5, 3))))
            else:
                people.append(
                    (
                        "mother" if rng.random() < 0.6 else "father",
                        rng.random() < 0.4,
                        min(100, head_age + rng.randint(22, 30)),
                    )
                )
        while len(people) < size:
            if head_age >= 58 and rng.random() < 0.55:
                age = rng.randint(1, min(25, head_age - 40))
                people.append(("grandson" if (m := rng.random() < 0.5) else "granddaughter", m, age))
            else:
                age = max(0, min(head_age - 20, rng.randint(0, 30)))
                people.append(("son" if (m := rng.random() < 0.52) else "daughter", m, age))
        cause = h.main_cause
        sick = rng.randrange(len(people)) if cause in ("illness", "disability") else None
        out = []
        for i, (relation, male, age) in enumerate(people):
            area = rng.choice(data.NEIGHBOUR_AREAS) if relation == "spouse" and rng.random() < 0.2 else "511902"
            name = self.person_name(
                male,
                surname if relation in ("head", "son", "grandson", "daughter", "granddaughter") and head_male else None,
            )
            m = Member(
                household=h,
                name=name,
                sex="male" if male else "female",
                id_number=self.id_number(age, male, area),
                relation=relation,
                on_dibao=h.attribute == "dibao",
                medical_insurance=rng.random() < 0.99,
            )
            self.member_attributes(m, age, cause if i == sick else None)
            out.append(m)
        return out

    def member_attributes(self, m: Member, age: int, cause: str | None):
        rng = self.rng
        if age < 3:
            m.education, m.school = "preschool", "none"
        elif age < 6:
            m.education, m.school = "preschool", "preschool"
        elif age < 12:
            m.education, m.school = "primary", "primary"
        elif age < 15:
            m.education, m.school = "primary", ["grade7", "grade8", "grade9"][age - 12]
        elif age < 18:
            m.education = "junior"
            m.school = rng.choice(["senior1", "senior2", "senior3", "vocational1", "vocational2"])
        elif age < 22 and rng.random() < 0.2:
            m.education, m.school = "senior", "college"
        else:
            m.school = "none"
            m.education = rng.choices(
                ["illiterate", "primary", "junior", "senior"], [4, 5, 4, 1] if age > 55 else [1, 3, 6, 2]
            )[0]
        if 6 <= age <= 15 and rng.random() < 0.01:
            m.school = "none"  # a child out of school: 义务教育 not assured
        if cause == "illness":
            m.health = rng.choice(["chronic", "serious"])
        elif cause == "disability":
            m.health = "disabled"
        else:
            m.health = rng.choices(["healthy", "chronic", "serious", "disabled"], [85, 10, 2, 3])[0]
        if age < 16 or m.school not in ("none",):
            m.labour = "none"
        elif m.health in ("serious", "disabled") or age > 75:
            m.labour = rng.choice(["lost", "weak"])
        elif age > 60 or m.health == "chronic":
            m.labour = "weak"
        else:
            m.labour = "skilled" if rng.random() < 0.3 else "ordinary"
        if m.labour in ("ordinary", "skilled"):
            m.work = rng.choices(["outside", "province", "county", "township", "home"], [35, 20, 15, 10, 20])[0]
            m.work_months = 0 if m.work == "home" else rng.randint(6, 11)
        m.pension_insurance = age >= 16 and m.school == "none" and rng.random() < 0.8

    def incomes(self, rows):
        line = data.POVERTY_LINES
        objs = []
        for h, group, family in rows:
            size = len(family)
            elders = sum(1 for m in family if m.birth_date.year <= 1957)
            if group == "target":
                pc17 = self.rng.uniform(3300, 6500) if self.rng.random() < 0.92 else self.rng.uniform(2600, 3090)
                years = {2016: pc17 * self.rng.uniform(0.7, 0.85), 2017: pc17}
            elif group == "exited":
                years = {2016: self.rng.uniform(4000, 9000)}
            else:
                years = {
                    2016: self.rng.uniform(1800, float(line[2016]) - 50),
                    2017: self.rng.uniform(2000, float(line[2017]) + 100),
                }
            for year, per_capita in years.items():
                total = per_capita * size
                dibao = size * self.rng.uniform(1200, 2000) if h.attribute == "dibao" else 0
                tekun = size * self.rng.uniform(3000, 4000) if h.attribute == "tekun" else 0
                pension = elders * 900
                eco = self.rng.uniform(0, 300)
                other = self.rng.uniform(0, 500)
                earned = max(total - dibao - tekun - pension - eco - other, 0)
                wage = earned * self.rng.uniform(0.4, 0.75)
                prop = earned * self.rng.uniform(0, 0.05)
                business_net = earned - wage - prop
                objs.append(
                    HouseholdIncome(
                        household=h,
                        year=year,
                        wage=money(wage),
                        business=money(business_net / 0.7),
                        property_income=money(prop),
                        dibao=money(dibao),
                        tekun=money(tekun),
                        pension=money(pension),
                        eco_compensation=money(eco),
                        other_transfer=money(other),
                        business_expenses=money(business_net / 0.7 * 0.3),
                    )
                )
        self._bulk(HouseholdIncome, objs, "演示数据：初始记录", at(datetime.date(2016, 12, 20)))

    def helpers(self, rows):
        pools: dict[str, list[tuple[str, str, str, str]]] = defaultdict(list)
        objs = []
        for h, group, _ in rows:
            if group == "exited" and h.status == "exited_no_policy":
                continue
            pool = pools[h.village.township_id]
            if not pool or self.rng.random() < 0.22:
                unit = self.rng.choice(data.UNITS + [f"{h.village.township.name}人民政府"] * 4)
                pool.append(
                    (
                        self.person_name(self.rng.random() < 0.65),
                        unit,
                        self.rng.choice(["科员", "干部", "副主任科员", "股长", "副局长"]),
                        self.phone(),
                    )
                )
            name, unit, post, phone = self.rng.choice(pool[-5:])
            objs.append(
                HouseholdHelper(
                    household=h, name=name, unit=unit, post=post, phone=phone, start_date=datetime.date(2015, 9, 1)
                )
            )
        self._bulk(HouseholdHelper, objs, "演示数据：初始记录", at(datetime.date(2016, 12, 20)))

    # -- plan rows --------------------------------------------------------------------------------

    def status_for(self, deadline: datetime.date) -> tuple[str, int, datetime.date | None]:
        """A status against the demo's today: most rows past their deadline are done, some are late."""
        rng = self.rng
        if deadline < self.today:
            if rng.random() < 0.86:
                completed = min(deadline - datetime.timedelta(days=rng.randint(-10, 40)), self.today)
                return (rng.choice(DONE) if rng.random() < 0.4 else "done"), 100, completed
            if rng.random() < 0.15:
                return "not_started", 0, None
            return "in_progress", rng.randint(20, 95), None
        r = rng.random()
        if r < 0.22:
            completed = self.today - datetime.timedelta(days=rng.randint(1, 60))
            return "done", 100, completed
        if r < 0.8:
            return "in_progress", rng.randint(10, 90), None
        return "not_started", 0, None

    def deadline(self, first_month: int, last_month: int, year: int = data.PLAN_YEAR):
        month = self.rng.randint(first_month, last_month)
        return month_end(year, month), f"{month}月底前"

    def responsible(self, v: Village, category: str) -> dict:
        unit = data.SECTOR_UNITS.get(category, f"{v.township.name}人民政府")
        if self.rng.random() < 0.4:
            unit = f"{v.township.name}人民政府"
        return {
            "responsible_unit": unit,
            "responsible_person": self.person_name(self.rng.random() < 0.75),
            "responsible_phone": self.phone(),
        }

    def target_rows(self, h: Household, family: list[Member]):
        """Decide a targeted household's 一户一策 rows, and the living conditions they leave it in."""
        rng = self.rng
        needs = []
        housing_need = rng.random() < 0.12
        water_need = rng.random() < 0.06
        if housing_need:
            needs.append("relocation" if h.main_cause == "transport" and rng.random() < 0.5 else "housing")
        if water_need:
            needs.append("water")
        if rng.random() < 0.7 or not needs:
            needs.append("industry")
        if any(m.labour in ("ordinary", "skilled") and m.work == "home" for m in family) and rng.random() < 0.3:
            needs.append("employment")
        if any(m.school not in ("none", "preschool") for m in family) and rng.random() < 0.5:
            needs.append("education")
        if h.main_cause == "illness" and rng.random() < 0.6:
            needs.append("health")
        if h.attribute == "dibao" and rng.random() < 0.5:
            needs.append("social_security")
        if rng.random() < 0.15:
            needs.append("finance")
        needs = needs[:3]
        h.housing_grade, h.safe_water = rng.choice("AAB"), True
        for category in needs:
            item, unit, quantity, (low, high), sources = data.HOUSEHOLD_ITEMS[category]
            if quantity is None:
                quantity = len(family)
            rate = rng.uniform(low, high)
            funds = money(rate * (quantity if category in ("relocation", "social_security") else 1))
            deadline, text = self.deadline(6, 11)
            status, progress, completed = self.status_for(deadline)
            if category in ("housing", "relocation") and status not in DONE:
                h.housing_grade = rng.choice("CD")
            if category == "water" and status not in DONE:
                h.safe_water = False
            self.task_specs.append(
                TaskSpec(
                    village=h.village,
                    household=h,
                    sources=sources,
                    fields={
                        "category": category,
                        "item": item,
                        "quantity": Decimal(quantity),
                        "unit": unit,
                        "deadline": deadline,
                        "deadline_text": text,
                        "planned_funds": funds,
                        "status": status,
                        "progress": progress,
                        "completed_on": completed,
                        **self.responsible(h.village, category),
                    },
                )
            )

    def village_rows(self, v: Village):
        key = (v.township.name, v.name)
        if key == data.MAOYA:
            for row, (status, progress, completed) in zip(data.MAOYA_ROWS, data.MAOYA_PROGRESS, strict=True):
                lines = data.MAOYA_FUND_LINES if row["planned_funds"] else []
                self.task_specs.append(
                    TaskSpec(
                        village=v,
                        household=None,
                        fund_lines=lines,
                        fields={
                            **row,
                            "status": status,
                            "progress": progress,
                            "completed_on": completed,
                            "responsible_unit": "",
                            "responsible_phone": "",
                        },
                    )
                )
            return
        rng = self.rng
        if v.planned_exit_year == 2017:
            items = rng.sample(data.VILLAGE_ITEMS, rng.randint(4, 6))
            industries = rng.sample(data.INDUSTRY_ITEMS, rng.randint(1, 2))
            months = (4, 11)
        else:
            items = rng.sample(data.VILLAGE_ITEMS, rng.randint(2, 3))
            industries = rng.sample(data.INDUSTRY_ITEMS, 1)
            months = (9, 12)
        rows = []
        for category, item, unit, (qlow, qhigh), (rlow, rhigh), sources in items:
            quantity = rng.randint(qlow, qhigh)
            rows.append((category, item, unit, Decimal(quantity), money(quantity * rng.uniform(rlow, rhigh)), sources))
        for item, unit in industries:
            quantity = {"亩": rng.randrange(200, 1000, 50), "万只": rng.randint(1, 5), "个": 1}[unit]
            rows.append(
                (
                    "industry",
                    item,
                    unit,
                    Decimal(quantity),
                    money(rng.uniform(30, 200)),
                    ["integrated", "social", "self"],
                )
            )
        for category, item, unit, quantity, funds, sources in rows:
            deadline, text = self.deadline(*months)
            status, progress, completed = self.status_for(deadline)
            self.task_specs.append(
                TaskSpec(
                    village=v,
                    household=None,
                    sources=sources,
                    fields={
                        "category": category,
                        "item": item,
                        "quantity": quantity,
                        "unit": unit,
                        "deadline": deadline,
                        "deadline_text": text,
                        "planned_funds": funds,
                        "status": status,
                        "progress": progress,
                        "completed_on": completed,
                        **self.responsible(v, category),
                    },
                )
            )

    def split_funds(self, total: Decimal, sources: list[str]) -> list[tuple[str, Decimal]]:
        if not total:
            return []
        chosen = sources[: self.rng.randint(1, len(sources))]
        lines, left = [], total
        for source in chosen[:-1]:
            amount = money(float(total) * self.rng.uniform(0.2, 0.6) / (len(chosen) - 1))
            amount = min(amount, left)
            lines.append((source, amount))
            left -= amount
        lines.append((chosen[-1], left))
        return [(s, a) for s, a in lines if a > 0]

    def plans(self):
        approved = at(data.PLAN_APPROVED, 10)
        for v in self.villages:
            if v.is_poor and v.status == Village.Status.PLANNED:
                self.village_rows(v)
        villages_with_rows = {spec.village.pk: spec.village for spec in self.task_specs}
        plans = []
        for v in self.villages:
            if v.pk not in villages_with_rows:
                continue
            draft = v.planned_exit_year == 2019 and self.rng.random() < 0.5
            plans.append(
                Plan(
                    village=v,
                    year=data.PLAN_YEAR,
                    state="draft" if draft else "approved",
                    approved_by=None if draft else self.admin,
                    approved_at=None if draft else approved,
                )
            )
        self._bulk(Plan, plans, "演示数据：施工图批准", approved)
        plan_of = {p.village_id: p for p in plans}

        tasks, lines_for = [], []
        for spec in self.task_specs:
            f = spec.fields
            invested = (
                f["planned_funds"]
                if f["status"] in DONE
                else money(float(f["planned_funds"]) * f["progress"] / 100 * self.rng.uniform(0.6, 1.0))
            )
            task = Task(
                plan=plan_of[spec.village.pk],
                household=spec.household,
                created_by=self.admin,
                created_at=approved,
                invested_funds=min(invested, f["planned_funds"]),
                # The row's sector department, when its unit names one (township governments and banks do not).
                department=departments.match(self.department_index, f["responsible_unit"], self.district.name),
                **f,
            )
            tasks.append(task)
            lines_for.append(
                spec.fund_lines if spec.fund_lines is not None else self.split_funds(f["planned_funds"], spec.sources)
            )
        updates = []
        for task in tasks:
            updates.extend(self.progress_updates(task))
        self._bulk(Task, tasks, "演示数据：施工图批准", approved)
        fund_lines = [
            FundLine(task=t, source=s, amount=a) for t, lines in zip(tasks, lines_for, strict=True) for s, a in lines
        ]
        self._bulk(FundLine, fund_lines, "演示数据：施工图批准", approved)
        for u in updates:
            u.task_id = u.task.pk
        self._bulk(ProgressUpdate, updates)
        self.tasks = tasks

    def progress_updates(self, task: Task) -> list[ProgressUpdate]:
        """One or two reports that lead to the task's present state; sets when progress was last reported."""
        if task.status == "not_started":
            return []
        rng = self.rng
        last = task.completed_on or self.today - datetime.timedelta(days=rng.choice([3, 8, 15, 21, 45, 70]))
        first = data.PLAN_APPROVED + datetime.timedelta(days=rng.randint(20, 60))
        reports = []
        if first < last and rng.random() < 0.7:
            p = max(5, task.progress // 2)
            reports.append(
                ProgressUpdate(
                    task=task,
                    reported_on=first,
                    progress=p,
                    status="in_progress",
                    invested_funds=money(float(task.invested_funds) * p / max(task.progress, 1)),
                    note=f"已开工，完成{p}%。",
                    created_at=at(first, 17),
                )
            )
        note = {"done": "已完工。", "accepted": "已完工并通过验收。"}.get(task.status, f"完成{task.progress}%。")
        reports.append(
            ProgressUpdate(
                task=task,
                reported_on=last,
                progress=task.progress,
                status=task.status,
                invested_funds=task.invested_funds,
                note=note,
                created_at=at(last, 17),
            )
        )
        reporter = {"茅垭村": self.user["maoya"], "大寺村": self.user["dasi"]}.get(task.plan.village.name)
        for r in reports:
            r.reported_by = reporter
        task.last_progress_on = last
        return reports

    def village_indicators(self):
        """一低七有 for every poor village: the incidence, the collective income and the indicators a finished plan row
        delivers are judged from the data (villages.exit_criteria); people assess only what no data judges, and
        override a derived one with a reason and evidence — here the facilities a village had before its plan
        (原已达标), and the villages that exited in 2016 (accepted then, on the 2016 criteria)."""
        derived_rows = {(t.plan.village_id, t.category) for t in self.tasks if t.household_id is None}
        rows = []
        for v in self.villages:
            if not v.is_poor:
                continue
            for ind in self.indicators:
                if ind.source == ExitIndicator.Source.MANUAL:
                    met = self.rng.random() < 0.9
                    rows.append(
                        VillageIndicator(
                            village=v,
                            indicator=ind,
                            met=met,
                            evidence="实地核查达标。" if met else "实地核查未达标。",
                            assessed_on=datetime.date(2017, 8, 31),
                        )
                    )
                    continue
                if ind.source != ExitIndicator.Source.PLAN_ROWS:
                    continue
                if v.status == Village.Status.EXITED:
                    reason, evidence = "2016年已验收退出。", "区脱贫攻坚领导小组2016年贫困村退出验收档案。"
                elif (v.pk, ind.task_category) in derived_rows or self.rng.random() >= 0.9:
                    continue  # the plan row judges it (done or not), or nothing has delivered it yet
                else:
                    reason = f"施工图编制前已{ind.name[1:]}，未列入施工图。"
                    evidence = "乡镇2016年底摸底核查表及现场照片。"
                rows.append(
                    VillageIndicator(
                        village=v,
                        indicator=ind,
                        met=True,
                        overridden=True,
                        override_reason=reason,
                        evidence=evidence,
                        assessed_on=datetime.date(2017, 8, 31),
                    )
                )
        self._bulk(VillageIndicator, rows, "演示数据：初始记录", at(datetime.date(2017, 8, 31)))

    # -- supervision ----------------------------------------------------------------------------

    def _save(self, obj, when: datetime.datetime, user=None):
        """Save one record with its history dated and signed like the demo's story."""
        obj._history_user = user or self.admin
        obj._history_date = when
        obj.full_clean()
        if obj.pk is None:
            self.counts[obj._meta.label] += 1
        obj.save()
        return obj

    def supervision(self):
        rng = self.rng
        ducha, maoya, baimiao = self.user["ducha"], self.user["maoya"], self.user["baimiao"]
        inspections = [
            Inspection(
                district=self.district,
                title="2017年第二季度脱贫攻坚工作明察",
                kind="open",
                organiser="poverty_office",
                start_date=datetime.date(2017, 6, 12),
                end_date=datetime.date(2017, 6, 16),
                inspectors="区脱贫办督查一组",
                methods=["visit", "records"],
                summary="重点检查施工图项目进度和资金拨付。",
                created_by=ducha,
            ),
            Inspection(
                district=self.district,
                title="2017年8月脱贫攻坚暗访",
                kind="unannounced",
                organiser="inspection_office",
                start_date=datetime.date(2017, 8, 21),
                end_date=datetime.date(2017, 8, 25),
                inspectors="区委、区政府督查室",
                methods=["visit"],
                summary="随机入户暗访帮扶工作和住房、饮水安全。",
                created_by=ducha,
            ),
            Inspection(
                district=self.district,
                title="区人大常委会脱贫攻坚专题督导",
                kind="congress",
                organiser="congress",
                start_date=datetime.date(2017, 9, 5),
                end_date=datetime.date(2017, 9, 7),
                inspectors="区人大常委会督导组",
                methods=["meeting", "records", "visit"],
                summary="督导贫困村退出“一低七有”指标达标情况。",
                created_by=ducha,
            ),
        ]
        for i in inspections:
            self._save(i, at(i.end_date, 18), ducha)
        townships = {v.township for v in self.villages if v.planned_exit_year == 2017}
        inspections[0].townships.set(sorted(townships, key=lambda t: t.code)[:6])
        inspections[2].villages.set([self.village_by_name[data.MAOYA], self.village_by_name[data.DASI]])

        maoya_room = next(t for t in self.tasks if t.plan.village.name == "茅垭村" and t.item == "村文化室")
        late = [t for t in self.tasks if t.is_overdue(self.today) and t is not maoya_room]
        rng.shuffle(late)
        late = sorted(late[:8], key=lambda t: t.pk)
        bad_houses = [h for h in self.households if h.status == "planned" and h.housing_grade in "CD"][:3]

        # (target kwargs, inspection, type, severity, description, found_on, rectification status)
        findings = [
            (
                {"task": maoya_room},
                inspections[2],
                "delay",
                "major",
                "茅垭村村文化室未按“8月底前”时限完工，进度80%。",
                datetime.date(2017, 9, 6),
                "in_progress",
            )
        ]
        statuses = [
            "closed",
            "awaiting_recheck",
            "pending",
            "in_progress",
            "closed",
            "pending",
            "in_progress",
            "awaiting_recheck",
        ]
        for n, (task, status) in enumerate(zip(late, statuses, strict=False)):
            # Half found in June (two months have run out: 逾期 unless closed), half in August.
            inspection, found_on = inspections[0], datetime.date(2017, 6, 15)
            if n % 2:
                inspection, found_on = inspections[1], datetime.date(2017, 8, 24)
            findings.append(
                (
                    {"task": task},
                    inspection,
                    "delay",
                    rng.choice(["minor", "major"]),
                    f"{task.plan.village.name}“{task.item}”超过完成时限仍未完成。",
                    found_on,
                    status,
                )
            )
        for h in bad_houses:
            findings.append(
                (
                    {"household": h},
                    inspections[1],
                    "housing",
                    "major",
                    f"户 {h.number} 仍居住{h.get_housing_grade_display()}危房，改造未完成。",
                    datetime.date(2017, 8, 23),
                    "pending",
                )
            )
        findings.append(
            (
                {"village": self.village_by_name[data.DASI]},
                inspections[2],
                "records",
                "minor",
                "大寺村贫困户档案资料不完整，部分户收入台账未更新。",
                datetime.date(2017, 9, 6),
                "pending",
            )
        )
        findings.append(
            (
                {"township": self.townships["光辉乡"]},
                inspections[0],
                "conduct",
                "minor",
                "部分帮扶责任人入户频次不足，群众对帮扶措施知晓率低。",
                datetime.date(2017, 6, 15),
                "closed",
            )
        )

        created_findings = []
        for target, inspection, ftype, severity, description, found_on, status in findings:
            finding = self._save(
                Finding(
                    inspection=inspection,
                    type=ftype,
                    severity=severity,
                    description=description,
                    found_on=found_on,
                    reported_by=ducha,
                    **target,
                ),
                at(found_on, 18),
                ducha,
            )
            deadline = found_on + datetime.timedelta(days=61)
            rect = Rectification(
                finding=finding,
                requirement="限期整改到位，并报送整改结果和佐证材料。",
                responsible_unit=target.get("task").responsible_unit if "task" in target else "相关乡镇人民政府",
                responsible_person=self.person_name(True),
                responsible_phone=self.phone(),
                deadline=deadline,
                status="pending",
            )
            self._save(rect, at(found_on, 18), ducha)
            answerer = maoya if "茅垭" in description else baimiao
            if status in ("in_progress", "awaiting_recheck", "closed"):
                rect.status = "in_progress"
                self._save(rect, at(found_on + datetime.timedelta(days=3), 10), answerer)
            if status in ("awaiting_recheck", "closed"):
                rect.status, rect.result = "awaiting_recheck", "已按要求完成整改，附现场照片。"
                rect.answered_by, rect.answered_at = answerer, at(found_on + datetime.timedelta(days=20), 16)
                self._save(rect, rect.answered_at, answerer)
            if status == "closed":
                rect.status, rect.recheck_note = "closed", "经复查，整改到位，同意销号。"
                rect.rechecked_by, rect.rechecked_at = ducha, at(found_on + datetime.timedelta(days=28), 11)
                rect.closed_on = rect.rechecked_at.date()
                self._save(rect, rect.rechecked_at, ducha)
            created_findings.append(finding)

        Accountability.objects.create(
            finding=created_findings[1],
            subject=created_findings[1].task.responsible_person or "责任人",
            subject_post=created_findings[1].task.responsible_unit,
            measure="interview",
            decided_by="discipline",
            decided_on=datetime.date(2017, 9, 1),
            document_number="巴州纪〔2017〕12号",
            note="项目进度滞后，约谈提醒。",
        )
        self.counts["supervision.Accountability"] += 1

        # 第8期 of 2017, as the generation page would have made it on 1 September and the office published it: its
        # snapshot is build_snapshot's (what the bulletin's pages, tables, Word and Excel files read), its body the
        # proposed one, its 文号 the first of the year.
        period_start, period_end = datetime.date(2017, 8, 1), datetime.date(2017, 8, 31)
        snapshot = build_snapshot(district=self.district, period_start=period_start, as_of=period_end)
        issuer = "poverty_office"
        Bulletin.objects.create(
            district=self.district,
            year=2017,
            number=8,
            doc_seq=1,
            doc_number=document_number(self.district.name, issuer, 2017, 1),
            title=draft_title(period_start, period_end),
            issuer=issuer,
            issued_on=datetime.date(2017, 9, 1),
            period_start=period_start,
            period_end=period_end,
            snapshot=snapshot,
            state="published",
            published_by=ducha,
            published_at=at(datetime.date(2017, 9, 1), 16),
            created_by=ducha,
            body=draft_body(snapshot, issuer_name=issuer_name(self.district.name, issuer)),
        )
        self.counts["supervision.Bulletin"] += 1
