"""The roles that read what the supervisors read (人大/政协 oversight, 纪委 discipline, 挂包 leaders for their charge)
and the village information officer: on the supervision pages, the queue's export and the API they read their
scope and see no write buttons; every write is refused (a 404 on the pages, a 403 naming who may on the API) and
changes nothing."""

import datetime

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from bazhou.core.api.permissions import AREA_STAFF_ONLY, SUPERVISORS_ONLY
from bazhou.core.models import ExportLog
from supervision import services
from supervision.models import Accountability, Finding, Inspection, Rectification
from tasks.models import Task
from tests import factories

pytestmark = pytest.mark.usefixtures("pinned_today")

TODAY = datetime.date(2017, 9, 15)
QUEUE = reverse("supervision:queue")
QUEUE_XLSX = reverse("supervision:queue_xlsx")
FINDINGS = reverse("supervision:findings")
INSPECTIONS = reverse("supervision:inspections")
WRITE_BUTTONS = (
    'data-testid="file-finding"',
    'data-testid="new-finding"',
    'data-testid="new-inspection"',
    'data-testid="start-form"',
    'data-testid="answer-form"',
    'data-testid="recheck-form"',
    'data-testid="accountability-form"',
)


def html(response) -> str:
    return response.content.decode()


@pytest.fixture
def world(area, personas):
    """An overdue plan row and a finding (with its rectification) in each township, an inspection, and the readers:
    an oversight and a discipline user, a 挂包 leader of township A, the information officer of 茅垭村 (village A)."""
    supervisor = personas.supervisor

    class World:
        task_a = factories.task(factories.plan(area.village_a), item="茅垭村通村路", deadline=datetime.date(2017, 8, 1))
        task_b = factories.task(factories.plan(area.village_b), item="大寺村饮水", deadline=datetime.date(2017, 8, 1))
        inspection = services.inspection_create(
            user=supervisor,
            data={
                "title": "九月明察暗访",
                "kind": "open",
                "organiser": "poverty_office",
                "start_date": TODAY,
                "end_date": TODAY,
            },
            townships=[area.township_a, area.township_b],
            villages=[],
        )
        finding_a = services.finding_create(
            user=supervisor,
            target=task_a,
            data={"type": "delay", "severity": "minor", "description": "通村路滞后。", "found_on": TODAY},
            rectification={"requirement": "限期整改。"},
            inspection=inspection,
        )
        finding_b = services.finding_create(
            user=supervisor,
            target=task_b,
            data={"type": "water", "severity": "minor", "description": "饮水未通。", "found_on": TODAY},
            rectification={"requirement": "限期整改。"},
            inspection=inspection,
        )
        oversight = factories.oversight_user(area.district, username="renda")
        discipline = factories.discipline_user(area.district, username="jiwei")
        patch_leader = factories.patch_leader_user([area.township_a], username="guabao")
        informant = factories.informant_user(area.village_a, username="xinxiyuan")

    return World


READERS = ("oversight", "discipline", "patch_leader")


def scope(world, name) -> set:
    """The township A/B findings each reader sees."""
    if name in ("oversight", "discipline"):
        return {world.finding_a.pk, world.finding_b.pk}
    return {world.finding_a.pk}  # the 挂包 leader of township A; the informant of 茅垭村


# Pages: reading -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", READERS)
def test_readers_open_the_queue_of_their_scope_without_the_filing_button(client, world, personas, name):
    user = getattr(world, name)
    client.force_login(user)
    response = client.get(QUEUE)
    assert response.status_code == 200
    rows = {task.pk for task in response.context["page_obj"]}
    expected = {world.task_a.pk} if name == "patch_leader" else {world.task_a.pk, world.task_b.pk}
    assert rows == expected
    assert 'data-testid="file-finding"' not in html(response)
    assert "逾期督办" in html(response)
    # The supervisor still gets the button.
    client.force_login(personas.supervisor)
    assert 'data-testid="file-finding"' in html(client.get(QUEUE))


@pytest.mark.parametrize("name", READERS)
def test_readers_export_the_queue_of_their_scope(client, world, name):
    client.force_login(getattr(world, name))
    response = client.get(QUEUE_XLSX)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    log = ExportLog.objects.get(user=getattr(world, name))
    assert log.rows == (1 if name == "patch_leader" else 2)
    assert ("挂包片区" in log.area) == (name == "patch_leader")


@pytest.mark.parametrize("persona", ["village_cadre", "township_a", "leader"])
def test_area_roles_still_have_no_queue(client, world, personas, persona):
    client.force_login(getattr(personas, persona))
    assert client.get(QUEUE).status_code == 404
    assert client.get(QUEUE_XLSX).status_code == 404


def test_the_informant_and_a_department_user_have_no_queue(client, world):
    for user in (world.informant, factories.department_user()):
        client.force_login(user)
        assert client.get(QUEUE).status_code == 404
        assert client.get(QUEUE_XLSX).status_code == 404


@pytest.mark.parametrize("name", [*READERS, "informant"])
def test_readers_read_findings_and_inspections_of_their_scope_without_write_buttons(client, world, name):
    client.force_login(getattr(world, name))
    findings = client.get(FINDINGS)
    assert findings.status_code == 200
    assert {f.pk for f in findings.context["page_obj"]} == scope(world, name)
    for finding in (world.finding_a, world.finding_b):
        page = client.get(reverse("supervision:finding", args=[finding.pk]))
        assert page.status_code == (200 if finding.pk in scope(world, name) else 404), finding
        if page.status_code == 200:
            for button in WRITE_BUTTONS:
                assert button not in html(page), button
    inspections = client.get(INSPECTIONS)
    assert inspections.status_code == 200
    assert [i.pk for i in inspections.context["page_obj"]] == [world.inspection.pk]
    detail = client.get(reverse("supervision:inspection", args=[world.inspection.pk]))
    assert detail.status_code == 200
    assert {f.pk for f in detail.context["findings"]} == scope(world, name)
    for page in (findings, inspections, detail):
        for button in WRITE_BUTTONS:
            assert button not in html(page), button


# Pages: writing is refused and changes nothing --------------------------------------------------------------------


def snapshot():
    return (
        list(Finding.objects.order_by("pk").values()),
        list(Rectification.objects.order_by("pk").values()),
        Inspection.objects.count(),
        Accountability.objects.count(),
        Finding.history.count(),
        Rectification.history.count(),
    )


@pytest.mark.parametrize("name", [*READERS, "informant"])
def test_every_supervision_write_page_is_refused_to_readers(client, world, area, name):
    before = snapshot()
    client.force_login(getattr(world, name))
    finding = world.finding_a
    rectification = finding.rectification
    assert client.get(reverse("supervision:finding_create")).status_code == 404
    assert client.get(reverse("supervision:inspection_create")).status_code == 404
    posts = {
        reverse("supervision:finding_create"): {
            "target_kind": "task",
            "task": world.task_a.pk,
            "type": "delay",
            "severity": "minor",
            "description": "读者立案",
            "found_on": "2017-09-15",
            "requirement": "整改",
        },
        reverse("supervision:inspection_create"): {
            "title": "读者的督查",
            "kind": "open",
            "organiser": "poverty_office",
            "start_date": "2017-09-15",
            "end_date": "2017-09-15",
        },
        reverse("supervision:finding_start", args=[finding.pk]): {"version": rectification.version},
        reverse("supervision:finding_answer", args=[finding.pk]): {"version": rectification.version, "result": "好了"},
        reverse("supervision:finding_recheck", args=[finding.pk]): {
            "version": rectification.version,
            "decision": "approve",
        },
        reverse("supervision:finding_accountability", args=[finding.pk]): {
            "subject": "某某",
            "measure": "interview",
            "decided_on": "2017-09-15",
        },
    }
    for url, data in posts.items():
        # A page or an action they may not use does not exist for them (页面不存在), as for any non-supervisor.
        assert client.post(url, data).status_code == 404, url
    assert snapshot() == before


# The API: reading the scope, writing refused with a Chinese reason ------------------------------------------------


def api(user) -> APIClient:
    c = APIClient()
    c.force_login(user)
    return c


@pytest.mark.parametrize("name", [*READERS, "informant"])
def test_readers_read_the_supervision_api_of_their_scope(world, name):
    client = api(getattr(world, name))
    findings = client.get("/api/v1/findings/")
    assert findings.status_code == 200
    assert {row["id"] for row in findings.json()["results"]} == scope(world, name)
    rectifications = client.get("/api/v1/rectifications/")
    assert {row["finding"] for row in rectifications.json()["results"]} == scope(world, name)
    inspections = client.get("/api/v1/inspections/")
    assert [row["id"] for row in inspections.json()["results"]] == [world.inspection.pk]
    assert inspections.json()["results"][0]["finding_count"] == len(scope(world, name))
    other = client.get(f"/api/v1/findings/{world.finding_b.pk}/")
    assert other.status_code == (200 if world.finding_b.pk in scope(world, name) else 404)


@pytest.mark.parametrize("name", [*READERS, "informant"])
def test_supervision_api_writes_are_refused_to_readers_with_a_chinese_reason(world, name):
    before = snapshot()
    client = api(getattr(world, name))
    finding = world.finding_a
    rect = finding.rectification
    match = {"HTTP_IF_MATCH": f'"{rect.version}"'}
    refusals = [
        (
            client.post(
                "/api/v1/findings/",
                {
                    "task": world.task_a.pk,
                    "type": "delay",
                    "description": "读者立案",
                    "found_on": "2017-09-15",
                    "rectification": {"requirement": "整改"},
                },
                format="json",
            ),
            SUPERVISORS_ONLY,
        ),
        (
            client.post(
                "/api/v1/inspections/",
                {
                    "title": "读者督查",
                    "kind": "open",
                    "organiser": "poverty_office",
                    "start_date": "2017-09-15",
                    "end_date": "2017-09-15",
                },
                format="json",
            ),
            SUPERVISORS_ONLY,
        ),
        (
            client.post(
                f"/api/v1/findings/{finding.pk}/accountabilities/",
                {"subject": "某某", "measure": "interview", "decided_on": "2017-09-15"},
                format="json",
            ),
            SUPERVISORS_ONLY,
        ),
        (client.post(f"/api/v1/rectifications/{rect.pk}/start/", **match), AREA_STAFF_ONLY),
        (client.post(f"/api/v1/rectifications/{rect.pk}/answer/", {"result": "好了"}, **match), AREA_STAFF_ONLY),
        (
            client.post(f"/api/v1/rectifications/{rect.pk}/recheck/", {"approve": True}, format="json", **match),
            SUPERVISORS_ONLY,
        ),
    ]
    for response, message in refusals:
        assert response.status_code == 403, response.content.decode()
        assert response.json()["detail"] == message
    assert snapshot() == before
    assert not Task.objects.exclude(pk__in=[world.task_a.pk, world.task_b.pk]).exists()
