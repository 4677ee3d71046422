"""The demo's records behind the annual goals (issue 18, docs/goals.md): two job fairs with about 1,300 poor job
seekers and 500 letters of intent, about 50 new business entities (and a few of 2016, which the 2017 goal does not
count), land transfer contracts of about 3万亩, hospital stays with about 9 % paid out of pocket, low-rent housing for
about 6 % of the poor households; the hospital goal is a ceiling, and one goal (茅垭村 村集体经济收入) stays manual with
its figure entered by the village's first secretary, with evidence.

Everything is written with ``bulk_create`` and one history statement per model (``DemoBuilder._bulk``), in about a
second at 1×. Called once from ``DemoBuilder.build``.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

from bazhou.core.history import record_in_bulk
from bazhou.core.models import AnnualGoal
from households.models import (
    BusinessEntity,
    HospitalStay,
    Household,
    JobFair,
    JobFairAttendance,
    LandTransfer,
    LowRentHousing,
    Member,
)

REASON = "演示数据：初始记录"
EMPLOYERS = [
    "巴中市恒达建筑劳务公司",
    "四川巴山食品有限公司",
    "巴州区家政服务中心",
    "广东东莞某电子厂",
    "浙江宁波某服装厂",
]
ENTITY_WORDS = ["种养殖", "巴药", "核桃", "茶叶", "生猪", "蔬菜", "中药材", "水果", "土鸡", "蜂蜜"]
HOSPITALS_IN = ["巴州区人民医院", "巴州区中医院", "巴中市中心医院（区内）", "乡镇卫生院"]
SUFFIXES = ["专业合作社", "家庭农场", "养殖场", "实业公司"]
HOSPITALS_OUT = ["四川大学华西医院", "重庆医科大学附属第一医院"]


def _day(rng, first: datetime.date, last: datetime.date) -> datetime.date:
    return first + datetime.timedelta(days=rng.randint(0, (last - first).days))


def build_goal_records(builder) -> None:
    """Add the records to the demo ``builder`` has built (its registry and villages exist)."""
    rng, today = builder.rng, builder.today
    when = datetime.datetime.combine(today, datetime.time(9), tzinfo=datetime.UTC)
    villages = builder.villages
    poor = list(
        Household.objects.filter(village__township__district=builder.district)
        .exclude(status__in=Household.EXITED_STATUSES, exit_year__lt=today.year)
        .values_list("pk", "village_id")
    )
    # Job seekers: registered members of working age (16–59 in the demo year) able to work.
    born_after, born_before = today.year - 59, today.year - 16
    seekers = [
        pk
        for pk, number in Member.objects.filter(
            household__village__township__district=builder.district, is_active=True
        ).values_list("pk", "id_number")
        if born_after <= int(number[6:10]) <= born_before
    ]

    # Two fairs: the district's spring fair and a township's (白庙乡) summer one.
    fairs = builder._bulk(
        JobFair,
        [
            JobFair(
                district=builder.district,
                name="2017年春风行动暨就业扶贫专场招聘会",
                held_on=datetime.date(2017, 2, 16),
                venue="巴州区人力资源市场",
            ),
            JobFair(
                district=builder.district,
                township=builder.townships["白庙乡"],
                name="白庙乡就业扶贫招聘会",
                held_on=datetime.date(2017, 6, 8),
                venue="白庙乡政府广场",
            ),
        ],
        REASON,
        when,
    )
    rng.shuffle(seekers)
    attendances = []
    for i, member in enumerate(seekers[:1320]):
        fair = fairs[0] if i < 1000 else fairs[1]
        signed = rng.random() < 0.39
        attendances.append(
            JobFairAttendance(
                fair=fair, member_id=member, signed_intent=signed, employer=rng.choice(EMPLOYERS) if signed else ""
            )
        )
    # A few came to both fairs: counted once.
    for member in seekers[:20]:
        attendances.append(JobFairAttendance(fair=fairs[1], member_id=member))
    builder._bulk(JobFairAttendance, attendances, REASON, when)

    # About 50 new business entities in 2017, and a few registered in 2016.
    kinds = [k for k, _ in BusinessEntity.Kind.choices]
    entities = []
    for i in range(62):
        year = 2016 if i < 10 else 2017
        last = datetime.date(2016, 12, 31) if year == 2016 else today
        entities.append(
            BusinessEntity(
                village=villages[(i * 7) % len(villages)],
                name=f"巴州区{rng.choice(ENTITY_WORDS)}{SUFFIXES[i % 4]}{i + 1:02d}",
                kind=rng.choices(kinds, [50, 25, 15, 5, 5])[0],
                registered_on=_day(rng, datetime.date(year, 1, 5), last),
                poor_households=rng.randint(3, 40),
            )
        )
    builder._bulk(BusinessEntity, entities, REASON, when)

    # Land transfer contracts summing to roughly 3万亩 in 2017.
    contracts = []
    for i in range(260):
        village = villages[(i * 11) % len(villages)]
        contracts.append(
            LandTransfer(
                village=village,
                area_mu=Decimal(str(round(rng.uniform(40, 190), 1))),
                signed_on=_day(rng, datetime.date(2017, 1, 5), today),
                transferee=f"{rng.choice(ENTITY_WORDS)}专业合作社",
                term_years=rng.choice([5, 10, 15, 20]),
            )
        )
    builder._bulk(LandTransfer, contracts, REASON, when)

    # Hospital stays of registered members, in and outside the district, out-of-pocket around 9 % in the district.
    patients = rng.sample(seekers, min(700, len(seekers)))
    stays = []
    for i, member in enumerate(patients):
        in_district = i % 7 != 0
        admitted = _day(rng, datetime.date(2017, 1, 2), today - datetime.timedelta(days=20))
        total = Decimal(str(round(rng.uniform(1500, 30000), 2)))
        share = rng.uniform(0.05, 0.13) if in_district else rng.uniform(0.2, 0.4)
        stays.append(
            HospitalStay(
                member_id=member,
                hospital=rng.choice(HOSPITALS_IN if in_district else HOSPITALS_OUT),
                in_district=in_district,
                admitted_on=admitted,
                discharged_on=admitted + datetime.timedelta(days=rng.randint(2, 18)),
                total_cost=total,
                out_of_pocket=(total * Decimal(str(round(share, 3)))).quantize(Decimal("0.01")),
            )
        )
    builder._bulk(HospitalStay, stays, REASON, when)

    # Low-rent housing for about 6 % of the poor households.
    housed = rng.sample(poor, len(poor) * 6 // 100)
    names = {v.pk: v.name for v in villages}
    builder._bulk(
        LowRentHousing,
        [
            LowRentHousing(
                household_id=pk,
                allocated_on=_day(rng, datetime.date(2015, 6, 1), datetime.date(2017, 6, 30)),
                address=f"{names[village_id]}集中安置点 {n + 1} 号",
            )
            for n, (pk, village_id) in enumerate(housed)
        ],
        REASON,
        when,
    )

    _goal_settings(builder, when)


def _goal_settings(builder, when: datetime.datetime) -> None:
    """The hospital goal is a ceiling; the village's manual goal carries its entered figure and evidence."""
    goals = AnnualGoal.objects.filter(district=builder.district)
    ceiling = goals.filter(metric=AnnualGoal.Metric.HOSPITAL_SHARE)
    ceiling.update(is_ceiling=True)
    manual = goals.filter(metric=AnnualGoal.Metric.MANUAL, manual_actual__isnull=False)
    cadre = builder.user.get("maoya")
    manual.update(
        entered_by=cadre,
        entered_at=when,
        evidence="茅垭村村集体经济组织 2017 年 1–8 月收支台账（村委会盖章），集体经济收入 2.6 万元。",
    )
    for rows, user, reason in ((ceiling, builder.admin, "演示数据：上限目标"), (manual, cadre, "演示数据：填报完成值")):
        builder.counts["bazhou.AnnualGoal 历史"] += record_in_bulk(rows, when=when, user=user, reason=reason)
