"""The demo district's other plan years (issue 18, docs/years.md): 2016 before the 2017 plan, and a 2018 draft.

- **2016** (approved 2016-03-01): the plans of the villages that exited in 2016 and of about a third of the villages
  due to exit in 2017 (their first year's work): village rows (roads, water, culture rooms, an industry) and, in those
  villages, first-year rows of the households targeted for 2017 (industry, employment, education …). Rows are done in
  2016 with their funds invested, except a handful (:data:`UNFINISHED`) of the 2017-exit villages' rows, left in
  progress past their 2016 deadline: what a rollover (结转) into 2017 carries. About half the villages and a third of
  the rows of 2017, as the source compares the two years.
- **2018**: draft plans (not approved) of a few villages due to exit in 2018, with rows not started yet.

Written right after the 2017 plans (before supervision, so that the demo's bulletins count 2016's unfinished rows
among the overdue, as they were) with their own random generator (the builder's is lent to its helpers and given back
as it was), so the 2017 rows, ids, users and logins are exactly those of a demo without other years. Every row passes
the same validation as user input and has its first history record.
"""

from __future__ import annotations

import datetime
import random
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from bazhou.surfaces.demo import data
from tasks.models import FundLine, Plan, Task
from villages import departments
from villages.models import Village

TZ = ZoneInfo("Asia/Shanghai")
CENT = Decimal("0.01")
LAST_YEAR = 2016
NEXT_YEAR = 2018
APPROVED_2016 = datetime.date(2016, 3, 1)
FIRST_YEAR_SHARE = 1 / 3  # of the 2017-exit villages: a 2016 plan (their first year's work)
UNFINISHED = 0.08  # of the 2016 rows in 2017-exit villages: still in progress at the end of 2016
DRAFTS_2018 = 6  # villages due to exit in 2018 with a draft 2018 plan (per scale)
# First-year 一户一策 rows of a household targeted for 2017: kinds of work that start a year ahead.
FIRST_YEAR_KINDS = ["industry", "industry", "employment", "education", "health", "finance", "housing"]


def money(x: float) -> Decimal:
    return Decimal(str(x)).quantize(CENT, rounding=ROUND_HALF_UP)


def build_years(builder) -> None:
    """Add the 2016 plans and the 2018 drafts to the demo ``builder`` has just written (its 2017 plans included)."""
    own = random.Random(20162018 + builder.scale)
    kept, builder.rng = builder.rng, own
    try:
        YearsBuilder(builder, own).build()
    finally:
        builder.rng = kept


class YearsBuilder:
    def __init__(self, builder, rng: random.Random):
        self.b = builder
        self.rng = rng

    def build(self) -> None:
        b = self.b
        named = {b.village_by_name[data.MAOYA].pk, b.village_by_name[data.DASI].pk}
        exited = [v for v in b.villages if v.status == Village.Status.EXITED and v.exit_year == LAST_YEAR]
        due_2017 = [v for v in b.villages if v.is_poor and v.planned_exit_year == 2017 and v.pk not in named]
        first_year = self.rng.sample(due_2017, round(len(due_2017) * FIRST_YEAR_SHARE))
        first_year.sort(key=lambda v: v.code)
        self.plans_2016(exited, first_year)
        due_2018 = [v for v in b.villages if v.is_poor and v.planned_exit_year == NEXT_YEAR]
        self.drafts_2018(
            sorted(self.rng.sample(due_2018, min(len(due_2018), DRAFTS_2018 * b.scale)), key=lambda v: v.code)
        )

    # -- rows ------------------------------------------------------------------------------------

    def deadline(self, year: int, first: int, last: int) -> tuple[datetime.date, str]:
        return self.b.deadline(first, last, year)

    def finished(self, deadline: datetime.date) -> tuple[str, int, datetime.date]:
        """Done in 2016: on or a few weeks around the deadline, never after the end of 2016."""
        completed = deadline - datetime.timedelta(days=self.rng.randint(-20, 40))
        completed = min(max(completed, datetime.date(LAST_YEAR, 1, 15)), datetime.date(LAST_YEAR, 12, 31))
        return self.rng.choice(["done", "done", "accepted"]), 100, completed

    def row(self, v: Village, household, fields: dict, sources: list[str]) -> tuple[dict, list[str]]:
        return {"village": v, "household": household, **fields, **self.b.responsible(v, fields["category"])}, sources

    def village_rows_2016(self, v: Village, unfinished_share: float) -> list:
        rng = self.rng
        rows = []
        for category, item, unit, (qlow, qhigh), (rlow, rhigh), sources in rng.sample(
            data.VILLAGE_ITEMS, rng.randint(2, 4)
        ):
            quantity = rng.randint(qlow, qhigh)
            rows.append((category, item, unit, Decimal(quantity), money(quantity * rng.uniform(rlow, rhigh)), sources))
        item, unit = rng.choice(data.INDUSTRY_ITEMS)
        quantity = {"亩": rng.randrange(200, 800, 50), "万只": rng.randint(1, 3), "个": 1}[unit]
        rows.append(("industry", item, unit, Decimal(quantity), money(rng.uniform(30, 150)), ["integrated"]))
        out = []
        for category, item, unit, quantity, funds, sources in rows:
            deadline, text = self.deadline(LAST_YEAR, 4, 11)
            fields = self.state(deadline, unfinished_share)
            out.append(
                self.row(
                    v,
                    None,
                    {
                        "category": category,
                        "item": item,
                        "quantity": quantity,
                        "unit": unit,
                        "deadline": deadline,
                        "deadline_text": text,
                        "planned_funds": funds,
                        **fields,
                    },
                    sources,
                )
            )
        return out

    def household_rows_2016(self, h, size: int, unfinished_share: float) -> list:
        rng = self.rng
        out = []
        for category in sorted(set(rng.sample(FIRST_YEAR_KINDS, rng.randint(2, 4)))):
            item, unit, quantity, (low, high), sources = data.HOUSEHOLD_ITEMS[category]
            quantity = size if quantity is None else quantity
            deadline, text = self.deadline(LAST_YEAR, 5, 11)
            fields = self.state(deadline, unfinished_share)
            out.append(
                self.row(
                    h.village,
                    h,
                    {
                        "category": category,
                        "item": item,
                        "quantity": Decimal(quantity),
                        "unit": unit,
                        "deadline": deadline,
                        "deadline_text": text,
                        "planned_funds": money(rng.uniform(low, high)),
                        **fields,
                    },
                    sources,
                )
            )
        return out

    def state(self, deadline: datetime.date, unfinished_share: float) -> dict:
        if self.rng.random() < unfinished_share:
            progress = self.rng.randint(20, 85)
            return {"status": "in_progress", "progress": progress, "completed_on": None}
        status, progress, completed = self.finished(deadline)
        return {"status": status, "progress": progress, "completed_on": completed}

    # -- plans -----------------------------------------------------------------------------------

    def plans_2016(self, exited: list[Village], first_year: list[Village]) -> None:
        b = self.b
        first_year_pks = {v.pk for v in first_year}
        specs = []
        for v in sorted(exited + first_year, key=lambda v: v.code):
            specs += self.village_rows_2016(v, UNFINISHED if v.pk in first_year_pks else 0)
        # The households targeted for 2017 in those villages: their first year's work.
        villages = {v.pk for v in exited} | first_year_pks
        for h in b.households:
            if h.village_id in villages and h.planned_exit_year == 2017:
                unfinished = UNFINISHED if h.village_id in first_year_pks else 0
                specs += self.household_rows_2016(h, len(b.household_members[h.pk]), unfinished)
        approved = self.at(APPROVED_2016)
        plans = [
            Plan(village=v, year=LAST_YEAR, state="approved", approved_by=b.admin, approved_at=approved)
            for v in sorted(exited + first_year, key=lambda v: v.code)
        ]
        self.write(plans, specs, approved, f"演示数据：{LAST_YEAR}年施工图批准")

    def drafts_2018(self, villages: list[Village]) -> None:
        b = self.b
        specs = []
        for v in villages:
            for category, item, unit, (qlow, qhigh), (rlow, rhigh), sources in self.rng.sample(
                data.VILLAGE_ITEMS, self.rng.randint(2, 4)
            ):
                quantity = self.rng.randint(qlow, qhigh)
                deadline, text = self.deadline(NEXT_YEAR, 5, 11)
                fields = {
                    "category": category,
                    "item": item,
                    "quantity": Decimal(quantity),
                    "unit": unit,
                    "deadline": deadline,
                    "deadline_text": text,
                    "planned_funds": money(quantity * self.rng.uniform(rlow, rhigh)),
                    "status": "not_started",
                    "progress": 0,
                    "completed_on": None,
                }
                specs.append(self.row(v, None, fields, sources))
        created = self.at(b.today - datetime.timedelta(days=10))
        plans = [Plan(village=v, year=NEXT_YEAR, state="draft") for v in villages]
        self.write(plans, specs, created, f"演示数据：{NEXT_YEAR}年施工图草稿")

    def at(self, day: datetime.date) -> datetime.datetime:
        return datetime.datetime(day.year, day.month, day.day, 10, tzinfo=TZ)

    def write(self, plans: list[Plan], specs: list, when, reason: str) -> None:
        b = self.b
        if not plans:
            return
        b._bulk(Plan, plans, reason, when)
        plan_of = {p.village_id: p for p in plans}
        tasks, lines_for = [], []
        for fields, sources in specs:
            fields = dict(fields)
            v, household = fields.pop("village"), fields.pop("household")
            planned = fields["planned_funds"]
            if fields["status"] in ("done", "accepted"):
                invested = planned
            else:
                invested = money(float(planned) * fields["progress"] / 100 * self.rng.uniform(0.6, 1.0))
            tasks.append(
                Task(
                    plan=plan_of[v.pk],
                    household=household,
                    created_by=b.admin,
                    created_at=when,
                    invested_funds=min(invested, planned),
                    last_progress_on=fields["completed_on"],
                    department=departments.match(b.department_index, fields["responsible_unit"], b.district.name),
                    **fields,
                )
            )
            lines_for.append(b.split_funds(planned, sources))
        b._bulk(Task, tasks, reason, when)
        lines = [
            FundLine(task=t, source=s, amount=a) for t, split in zip(tasks, lines_for, strict=True) for s, a in split
        ]
        if lines:
            b._bulk(FundLine, lines, reason, when)
