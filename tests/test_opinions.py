"""Supervision opinions (督导意见): a 人大/政协 user records one on a finding from its page; everyone who sees the
finding reads it; the area staff responsible and the supervisors are told; nobody else records one."""

import datetime

import pytest
from django.urls import reverse

from bazhou.core.models import Notification, Role
from supervision import services
from supervision.models import Opinion
from tests import factories

pytestmark = pytest.mark.usefixtures("pinned_today")

TODAY = datetime.date(2017, 9, 15)


def finding_url(finding) -> str:
    return reverse("supervision:finding", args=[finding.pk])


def opinion_url(finding) -> str:
    return reverse("supervision:finding_opinion", args=[finding.pk])


def html(response) -> str:
    return response.content.decode()


@pytest.fixture
def finding(area, personas):
    task = factories.task(factories.plan(area.village_a), item="茅垭村通村硬化路")
    return services.finding_create(
        user=personas.supervisor,
        target=task,
        data={"type": "delay", "severity": "major", "description": "通村路进度滞后。", "found_on": TODAY},
        rectification={"requirement": "限期整改。", "responsible_person": "吴玉峰"},
    )


@pytest.fixture
def congress(area):
    return factories.oversight_user(area.district, username="renda")


def opinion_form(**changes):
    data = {"token": "o-1", "body": "congress", "text": "请乡镇加快施工进度，10月底前完工。", "given_on": "2017-09-15"}
    data.update(changes)
    return data


def test_the_oversight_user_records_an_opinion_shown_to_everyone_who_sees_the_finding(
    client, area, personas, finding, congress
):
    client.force_login(congress)
    page = client.get(finding_url(finding))
    assert page.status_code == 200 and 'data-testid="opinion-form"' in html(page)
    # No other write on the page for them.
    for testid in ("start-form", "answer-form", "recheck-form", "accountability-form"):
        assert f'data-testid="{testid}"' not in html(page)

    response = client.post(opinion_url(finding), opinion_form())

    assert response.status_code == 302 and response["Location"] == finding_url(finding)
    opinion = Opinion.objects.get()
    assert (opinion.finding, opinion.body, opinion.given_by) == (finding, "congress", congress)
    assert opinion.given_on == TODAY and opinion.history.get().history_user == congress
    for user in (personas.supervisor, personas.village_cadre, personas.township_a, personas.leader, congress):
        client.force_login(user)
        page = client.get(finding_url(finding))
        assert "请乡镇加快施工进度" in html(page), user
        assert "区人大" in html(page)
        assert ('data-testid="opinion-form"' in html(page)) == (user == congress), user


def test_the_area_staff_and_the_supervisors_are_told(client, area, personas, finding, congress):
    other_cadre = factories.user(Role.VILLAGE_CADRE, area.village_b, username="dasi")
    client.force_login(congress)
    client.post(opinion_url(finding), opinion_form())
    told = Notification.objects.filter(reason="opinion")
    # 茅垭村's cadre, 白庙乡's staff, the district's supervisors and admin; not 大寺村's cadre nor 寺岭乡's staff.
    assert set(told.values_list("user__username", flat=True)) == {"maoya", "baimiao", "ducha", "admin"}
    assert other_cadre.pk not in told.values_list("user", flat=True)
    assert all(n.url == finding_url(finding) for n in told)


def test_an_opinion_on_a_township_finding_tells_its_staff(client, area, personas, congress):
    finding = factories.finding(area.township_b)
    factories.rectification(finding)
    client.force_login(congress)
    assert client.post(opinion_url(finding), opinion_form()).status_code == 302
    told = set(Notification.objects.filter(reason="opinion").values_list("user__username", flat=True))
    assert told == {"siling", "ducha", "admin"}


def test_sending_the_same_opinion_twice_records_one(client, area, personas, finding, congress):
    client.force_login(congress)
    client.post(opinion_url(finding), opinion_form())
    second = client.post(opinion_url(finding), opinion_form())
    assert second.status_code == 302
    assert Opinion.objects.count() == 1
    client.post(opinion_url(finding), opinion_form(token="o-2", body="cppcc", text="政协意见"))
    assert Opinion.objects.count() == 2


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"text": "  "}, "text", "请填写督导意见。"),
        ({"body": "press"}, "body", "请选择督导机关"),
        ({"given_on": "2017-02-30"}, "given_on", "请输入有效日期"),
        ({"given_on": "2017-09-16"}, "given_on", "日期不能晚于今天。"),
    ],
)
def test_bad_input_is_a_chinese_message_and_records_nothing(
    client, area, personas, finding, congress, changes, field, message
):
    client.force_login(congress)
    response = client.post(opinion_url(finding), opinion_form(**changes))
    assert response.status_code == 400
    assert message in " ".join(response.context["opinion_form"].errors[field])
    assert message in html(response)
    assert not Opinion.objects.exists()


def test_only_oversight_records_opinions(client, area, personas, finding):
    others = [
        personas.supervisor,
        personas.district_admin,
        personas.village_cadre,
        personas.leader,
        factories.discipline_user(area.district),
        factories.patch_leader_user([area.township_a]),
        factories.informant_user(area.village_a),
    ]
    for user in others:
        client.force_login(user)
        assert client.post(opinion_url(finding), opinion_form()).status_code == 404, user
        assert 'data-testid="opinion-form"' not in html(client.get(finding_url(finding)))
    assert not Opinion.objects.exists()


def test_an_unknown_or_huge_finding_id_is_a_404(client, area, personas, congress):
    client.force_login(congress)
    assert client.post(reverse("supervision:finding_opinion", args=[2**62]), opinion_form()).status_code == 404
    assert not Opinion.objects.exists()
