"""Fixtures for the Excel tests: a small plan table in the two-township district of tests/conftest.py."""

import datetime
from decimal import Decimal

import pytest

from tests import factories

pytest.register_assert_rewrite("tests.excel.helpers")  # the shared assertions say what differs when they fail


@pytest.fixture
def table(area):
    """白庙乡茅垭村's plan (a village row with two fund sources, a done row, a household row, a village row whose name
    looks like a formula), 百花村's plan (one row), and 寺岭乡大寺村's plan (one overdue row)."""

    class Table:
        plan_a = factories.plan(area.village_a)
        road = factories.task(
            plan_a,
            item="通村硬化路",
            planned_funds=Decimal("100"),
            invested_funds=Decimal("20.5"),
            responsible_unit="白庙乡人民政府",
            responsible_person="吴玉峰",
            responsible_phone="13800000001",
            status="in_progress",
            progress=40,
        )
        factories.fund_line(road, "central", Decimal("60"))
        factories.fund_line(road, "district", Decimal("40"))
        culture = factories.done_task(
            plan_a, item="村文化室", quantity=Decimal("1"), unit="处", planned_funds=Decimal("0")
        )
        formula = factories.task(
            plan_a, item='=HYPERLINK("http://x")', deadline=datetime.date(2017, 12, 31), planned_funds=Decimal("0")
        )
        housing = factories.task(
            plan_a,
            area.household_a,
            item="危房改造",
            category="housing",
            deadline=datetime.date(2017, 10, 31),
            planned_funds=Decimal("2.5"),
            quantity=None,
            unit="",
        )
        plan_a2 = factories.plan(area.village_a2)
        baihua = factories.task(plan_a2, item="百花村饮水工程", category="water", planned_funds=Decimal("12.3456"))
        plan_b = factories.plan(area.village_b)
        dasi = factories.task(plan_b, item="大寺村产业路", responsible_person="岳明", planned_funds=Decimal("30"))
        old_plan = factories.plan(area.village_a, year=2016)
        old = factories.task(old_plan, item="2016年的任务", deadline=datetime.date(2016, 8, 31))

    return Table
