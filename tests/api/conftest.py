"""Fixtures for the API tests: clients signed in as each persona (session, as a browser; or a token, as a
program), and the rows of the plan table the tests change."""

import datetime
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from bazhou.core.api.tokens import token_create
from tests import factories

TODAY = datetime.date(2017, 9, 15)


@pytest.fixture
def api():
    """``api(user)``: a client signed in as ``user`` through the session (``api()``: anonymous).
    ``api(user, token=True)``: a client that sends ``Authorization: Token <key>`` instead."""

    def client(user=None, *, token=False, csrf=False):
        c = APIClient(enforce_csrf_checks=csrf)
        if user is not None and token:
            _, key = token_create(user=user, name=f"测试令牌 {user.username}")
            c.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        elif user is not None:
            c.force_login(user)
        return c

    return client


@pytest.fixture
def rows(area):
    """Township A's plan (a village row with fund lines, a household row) and township B's plan (one row)."""

    class Rows:
        plan_a = factories.plan(area.village_a)
        task_a = factories.task(plan_a, planned_funds=Decimal("100"), invested_funds=Decimal("20"))
        factories.fund_line(task_a, "central", Decimal("60"))
        factories.fund_line(task_a, "district", Decimal("40"))
        household_task_a = factories.task(
            plan_a,
            area.household_a,
            item="危房改造",
            category="housing",
            deadline=datetime.date(2017, 10, 31),
            planned_funds=Decimal("2.5"),
        )
        plan_b = factories.plan(area.village_b)
        task_b = factories.task(plan_b, item="大寺村产业路", responsible_person="岳明")

    return Rows


@pytest.fixture
def world(area, rows, personas, media):
    """One of everything the API serves, in township A."""
    factories.assignment(area.village_a)
    indicator = factories.exit_indicator(2017, code="road", name="有硬化路")
    factories.village_indicator(area.village_a, indicator)
    factories.poverty_line()
    factories.income(area.household_a, 2017, wage=9000)
    finding = factories.finding(rows.task_a)
    factories.rectification(finding)
    factories.finding(area.township_a)
    return rows
