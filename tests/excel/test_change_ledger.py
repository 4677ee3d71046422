"""The change ledger (变更台账) as Excel: one file per area (district, township, village), the decided and withdrawn
requests with before → after and why, only the user's own area, written in the export log."""

import datetime

import pytest
from django.urls import reverse

from bazhou.core.models import ExportLog, Role
from tasks import changes, services
from tasks.change_exports import KEYS, LedgerScope, ledger_rows
from tests import factories
from tests.excel.helpers import body, calamine_rows

pytestmark = pytest.mark.usefixtures("pinned_today")


@pytest.fixture
def ledger(area, personas):
    """An approved deadline change in 茅垭村 (township A), a rejected one in 大寺村 (township B), a pending one."""
    approver = factories.user(Role.DISTRICT_ADMIN, area.district, username="admin2")
    made = {}
    for name, village, user in (
        ("a", area.village_a, personas.township_a),
        ("b", area.village_b, personas.township_b),
        ("pending", area.village_a2, personas.township_a),
    ):
        plan = factories.plan(village)
        task = factories.task(plan, item=f"村道{name}", deadline=datetime.date(2017, 8, 31))
        services.plan_approve(plan_id=plan.pk, user=personas.district_admin)
        task.refresh_from_db()
        made[name] = changes.change_request_create(
            user=user,
            task=task,
            changes={"deadline": datetime.date(2017, 12, 31)},
            reason_category="disaster",
            reason="汛期",
            expected_version=task.version,
        )
    changes.change_request_approve(user=approver, request_id=made["a"].pk, expected_version=made["a"].version)
    changes.change_request_reject(
        user=approver, request_id=made["b"].pk, note="理由不足", expected_version=made["b"].version
    )
    return made


def download(client, user, **params):
    client.force_login(user)
    return client.get(reverse("tasks:change_ledger_xlsx"), params)


def rows_of(response) -> list[list]:
    sheet = calamine_rows(body(response), "变更台账")
    at = KEYS.index("id")
    return [r for r in sheet if isinstance(r[at], float)]  # the rows with a request number (not the header)


def test_the_districts_ledger_lists_the_decided_requests_with_before_after_and_why(client, personas, ledger):
    response = download(client, personas.district_admin)
    assert response.status_code == 200 and "attachment" in response["Content-Disposition"]
    rows = rows_of(response)
    at = {key: index for index, key in enumerate(KEYS)}
    assert [r[at["item"]] for r in rows] == ["村道a", "村道b"]  # the pending one is not in the ledger
    first = rows[0]
    assert first[at["fields"]] == "完成时限：2017-08-31 → 2017-12-31"
    assert (first[at["state"]], first[at["reason_category"]], first[at["reason"]]) == ("已批准", "自然灾害", "汛期")
    assert rows[1][at["state"]] == "已驳回" and rows[1][at["note"]] == "理由不足"
    entry = ExportLog.objects.get()
    assert (entry.kind, entry.area, entry.rows, entry.username) == ("other", "变更台账 巴州区", 2, "admin")


def test_a_township_gets_its_own_ledger_only_and_another_ones_is_a_404(client, area, personas, ledger):
    rows = rows_of(download(client, personas.township_a))
    assert [r[KEYS.index("item")] for r in rows] == ["村道a"]
    assert download(client, personas.township_a, village=area.village_b.pk).status_code == 404
    assert download(client, personas.township_b, township=area.township_a.pk).status_code == 404
    assert ExportLog.objects.count() == 1


def test_a_villages_ledger(client, area, personas, ledger):
    rows = rows_of(download(client, personas.district_admin, village=area.village_b.pk))
    assert [r[KEYS.index("item")] for r in rows] == ["村道b"]


@pytest.mark.parametrize("extra", [0, 9])
def test_the_rows_take_one_query_whatever_their_number(area, personas, ledger, extra, django_assert_num_queries):
    plan = ledger["a"].plan
    for n in range(extra):
        task = factories.task(plan, item=f"加{n}", baseline_deadline=datetime.date(2017, 8, 31))
        request = changes.change_request_create(
            user=personas.township_a,
            task=task,
            changes={"item": f"加{n}（改）"},
            reason_category="other",
            reason="x",
            expected_version=task.version,
        )
        changes.change_request_withdraw(
            user=personas.township_a, request_id=request.pk, expected_version=request.version
        )
    scope = LedgerScope(user=personas.district_admin, district=area.district, township=None, village=None)
    with django_assert_num_queries(1):
        rows = list(ledger_rows(scope))
    assert len(rows) == 2 + extra
