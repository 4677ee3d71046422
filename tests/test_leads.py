"""Leads (线索) and progress observations (进度观察): a village's information officer files them from a phone; the
district supervisors see them new first and turn one into a finding, keep it on file or dismiss it; the informant
is told; readers read them; nobody else files or handles them; bad input is a Chinese message, never a 500."""

import datetime

import pytest
from django.urls import reverse

from bazhou.core.models import Notification, Role
from supervision.models import Finding, Lead, Rectification
from tasks.models import Task
from tests import factories

pytestmark = pytest.mark.usefixtures("pinned_today")

TODAY = datetime.date(2017, 9, 15)
LEADS = reverse("supervision:leads")
NEW_LEAD = reverse("supervision:lead_create")


def lead_url(lead) -> str:
    return reverse("supervision:lead", args=[lead.pk])


def handle_url(lead) -> str:
    return reverse("supervision:lead_handle", args=[lead.pk])


def html(response) -> str:
    return response.content.decode()


@pytest.fixture
def chain(area, personas):
    """An informant of 茅垭村 (village A), a plan row there and one in 大寺村 (village B), and a second supervisor."""

    class Chain:
        informant = factories.informant_user(area.village_a, username="xinxiyuan", phone="13800001111")
        informant_b = factories.informant_user(area.village_b, username="xinxiyuan-b")
        supervisor2 = factories.user(Role.SUPERVISOR, area.district, username="ducha2")
        task_a = factories.task(factories.plan(area.village_a), item="茅垭村通村硬化路", responsible_person="吴玉峰")
        task_b = factories.task(factories.plan(area.village_b), item="大寺村安全饮水")

    return Chain


def lead_form(**changes):
    data = {
        "token": "t-1",
        "kind": "lead",
        "description": "通村硬化路停工一个月，现场无人施工。",
        "observed_on": "2017-09-14",
        "task": "",
        "household": "",
    }
    data.update(changes)
    return data


def file_lead(client, user, **changes):
    client.force_login(user)
    return client.post(NEW_LEAD, lead_form(**changes))


# Filing ---------------------------------------------------------------------------------------------------------


def test_the_informant_files_a_lead_about_a_plan_row_of_their_village_and_the_supervisors_are_told(
    client, area, personas, chain
):
    client.force_login(chain.informant)
    page = client.get(NEW_LEAD)
    assert page.status_code == 200
    # Only their village's rows and households are offered.
    offered_tasks = list(page.context["form"].fields["task"].queryset)
    assert offered_tasks == [chain.task_a]
    assert set(page.context["form"].fields["household"].queryset) == {area.household_a}
    assert page.context["form"].initial["token"]

    response = file_lead(client, chain.informant, task=str(chain.task_a.pk))

    lead = Lead.objects.get()
    assert response.status_code == 302 and response["Location"] == lead_url(lead)
    assert (lead.village, lead.task, lead.state, lead.filed_by) == (
        area.village_a,
        chain.task_a,
        "new",
        chain.informant,
    )
    assert lead.observed_on == datetime.date(2017, 9, 14)
    told = Notification.objects.filter(reason="lead", target_type="supervision.lead", target_id=lead.pk)
    # The district's supervisors and admin: those who handle leads.
    assert set(told.values_list("user__username", flat=True)) == {"admin", "ducha", "ducha2"}
    assert all(n.url == lead_url(lead) for n in told)
    assert lead.history.get().history_user == chain.informant


def test_sending_the_same_form_twice_files_one_lead(client, area, personas, chain):
    first = file_lead(client, chain.informant)
    second = file_lead(client, chain.informant)
    assert Lead.objects.count() == 1
    assert first["Location"] == second["Location"]
    assert Notification.objects.filter(reason="lead").count() == 3
    # A new form (a new token) files a new lead.
    file_lead(client, chain.informant, token="t-2", kind="observation", description="入户路已完成一半。")
    assert Lead.objects.count() == 2


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"description": "   "}, "description", "请填写情况描述。"),
        ({"observed_on": ""}, "observed_on", "请填写发现日期。"),
        ({"observed_on": "2017-13-45"}, "observed_on", "请输入有效日期"),
        ({"observed_on": "2017-09-16"}, "observed_on", "日期不能晚于今天。"),
        ({"kind": "rumour"}, "kind", "请选择类别"),
        ({"task": "99999999999999999999999"}, "task", "该任务不在您的村"),
        ({"task": "-3"}, "task", "该任务不在您的村"),
        ({"task": "abc"}, "task", "该任务不在您的村"),
        ({"household": "9223372036854775808"}, "household", "该户不在您的村"),
    ],
)
def test_bad_input_is_a_chinese_message_beside_the_field_and_files_nothing(
    client, area, personas, chain, changes, field, message
):
    response = file_lead(client, chain.informant, **changes)
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert message in " ".join(errors[field])
    assert message in html(response)
    assert not Lead.objects.exists()


def test_another_villages_plan_row_or_household_is_refused(client, area, personas, chain):
    response = file_lead(client, chain.informant, task=str(chain.task_b.pk), household=str(area.household_b.pk))
    assert response.status_code == 200
    assert "该任务不在您的村" in " ".join(response.context["form"].errors["task"])
    assert "该户不在您的村" in " ".join(response.context["form"].errors["household"])
    assert not Lead.objects.exists()


@pytest.mark.parametrize("persona", ["village_cadre", "supervisor", "leader", "district_admin", "township_a"])
def test_only_an_informant_files_leads(client, area, personas, chain, persona):
    user = getattr(personas, persona)
    client.force_login(user)
    assert client.get(NEW_LEAD).status_code == 404
    assert client.post(NEW_LEAD, lead_form()).status_code == 404
    assert not Lead.objects.exists()


def test_reader_roles_cannot_file_leads(client, area, personas, chain):
    for user in (
        factories.oversight_user(area.district),
        factories.discipline_user(area.district),
        factories.patch_leader_user([area.township_a]),
        factories.department_user(),
    ):
        client.force_login(user)
        assert client.post(NEW_LEAD, lead_form()).status_code == 404
    assert not Lead.objects.exists()


# Who sees which leads -------------------------------------------------------------------------------------------


def make_lead(user, village, **fields):
    fields = {"description": "线索", "observed_on": datetime.date(2017, 9, 10), **fields}
    return Lead.objects.create(village=village, filed_by=user, **fields)


def test_each_role_sees_the_leads_of_its_scope(client, area, personas, chain):
    a = make_lead(chain.informant, area.village_a, description="茅垭村的线索")
    b = make_lead(chain.informant_b, area.village_b, description="大寺村的线索")
    expect = {
        chain.informant: {a},
        chain.informant_b: {b},
        personas.supervisor: {a, b},
        personas.district_admin: {a, b},
        factories.oversight_user(area.district): {a, b},
        factories.discipline_user(area.district): {a, b},
        factories.patch_leader_user([area.township_b]): {b},
        factories.patch_leader_user([], [area.village_a]): {a},
    }
    for user, leads in expect.items():
        client.force_login(user)
        response = client.get(LEADS)
        assert response.status_code == 200, user
        assert set(response.context["page_obj"]) == leads, user
        for lead in (a, b):
            assert client.get(lead_url(lead)).status_code == (200 if lead in leads else 404), (user, lead)


@pytest.mark.parametrize("persona", ["village_cadre", "township_a", "leader"])
def test_roles_that_do_not_read_supervision_have_no_leads_pages(client, area, personas, chain, persona):
    lead = make_lead(chain.informant, area.village_a)
    client.force_login(getattr(personas, persona))
    assert client.get(LEADS).status_code == 404
    assert client.get(lead_url(lead)).status_code == 404


def test_a_department_user_has_no_leads_pages(client, area, personas, chain):
    lead = make_lead(chain.informant, area.village_a)
    client.force_login(factories.department_user())
    assert client.get(LEADS).status_code == 404
    assert client.get(lead_url(lead)).status_code == 404


def test_the_list_shows_new_leads_first_and_filters_by_state_township_and_village(client, area, personas, chain):
    old_new = make_lead(chain.informant, area.village_a, observed_on=datetime.date(2017, 8, 1))
    recent_noted = make_lead(chain.informant, area.village_a, state="noted", observed_on=datetime.date(2017, 9, 14))
    recent_new = make_lead(chain.informant_b, area.village_b, observed_on=datetime.date(2017, 9, 12))
    client.force_login(personas.supervisor)
    rows = list(client.get(LEADS).context["page_obj"])
    assert rows == [recent_new, old_new, recent_noted]
    assert list(client.get(LEADS, {"state": "noted"}).context["page_obj"]) == [recent_noted]
    assert list(client.get(LEADS, {"township": area.township_b.pk}).context["page_obj"]) == [recent_new]
    assert list(client.get(LEADS, {"village": area.village_a.pk}).context["page_obj"]) == [old_new, recent_noted]
    # Nonsense in the filters is ignored with a message beside the field, never a 500.
    response = client.get(LEADS, {"village": "99999999999999999999", "state": "x"})
    assert response.status_code == 200
    assert len(response.context["page_obj"]) == 3
    assert "village" in response.context["form"].errors


def test_the_informant_sees_the_file_button_readers_and_supervisors_see_no_filing_and_readers_no_handling(
    client, area, personas, chain
):
    lead = make_lead(chain.informant, area.village_a)
    client.force_login(chain.informant)
    assert 'data-testid="new-lead"' in html(client.get(LEADS))
    assert 'data-testid="lead-handle-form"' not in html(client.get(lead_url(lead)))
    for reader in (factories.oversight_user(area.district), factories.discipline_user(area.district)):
        client.force_login(reader)
        assert 'data-testid="new-lead"' not in html(client.get(LEADS))
        assert 'data-testid="lead-handle-form"' not in html(client.get(lead_url(lead)))
    client.force_login(personas.supervisor)
    assert 'data-testid="lead-handle-form"' in html(client.get(lead_url(lead)))


def test_the_leads_list_makes_the_same_number_of_queries_for_ten_times_the_leads(
    client, area, personas, chain, django_assert_num_queries
):
    def add(n):
        for i in range(n):
            make_lead(chain.informant, area.village_a, task=chain.task_a, description=f"线索{i}")
            make_lead(chain.informant_b, area.village_b, household=area.household_b, state="noted")
            lead = make_lead(chain.informant, area.village_a, state="new")
            finding = factories.finding(area.village_a)
            lead.state, lead.finding, lead.handled_by = "finding", finding, personas.supervisor
            lead.save()

    add(1)
    client.force_login(personas.supervisor)
    # savepoint; session; user; the paginator's count; the page of leads with village, township, task, plan,
    # household, who filed and handled it and its finding; the user's district (navigation); the navigation's
    # numbers (the data having changed: the data versions with the stored numbers, the numbers counted, stored); the
    # township and the village options of the filters; release savepoint.
    with django_assert_num_queries(12):
        small = client.get(LEADS)
    add(9)
    with django_assert_num_queries(12):
        large = client.get(LEADS)
    assert small.context["page_obj"].paginator.count == 3
    assert large.context["page_obj"].paginator.count == 30


# Handling ---------------------------------------------------------------------------------------------------------


def test_end_to_end_a_lead_becomes_a_finding_and_the_informant_is_told(client, area, personas, chain):
    file_lead(client, chain.informant, task=str(chain.task_a.pk))
    lead = Lead.objects.get()

    client.force_login(personas.supervisor)
    page = client.get(lead_url(lead))
    assert page.status_code == 200 and page.context["form"].initial["type"] == "delay"
    response = client.post(handle_url(lead), {"state": "finding", "type": "delay", "severity": "major", "note": ""})

    lead.refresh_from_db()
    finding = Finding.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("supervision:finding", args=[finding.pk])
    assert (lead.state, lead.finding, lead.handled_by) == ("finding", finding, personas.supervisor)
    assert lead.handled_at is not None
    assert (finding.task, finding.type, finding.severity) == (chain.task_a, "delay", "major")
    assert finding.description == lead.description and finding.found_on == lead.observed_on
    assert finding.reported_by == personas.supervisor
    rectification = Rectification.objects.get(finding=finding)
    assert rectification.responsible_person == "吴玉峰"
    assert rectification.deadline == datetime.date(2017, 11, 14)
    told = Notification.objects.get(reason="lead", user=chain.informant)
    assert "已转为问题" in told.title and told.url == lead_url(lead)

    # The informant reads what became of it, and its history.
    client.force_login(chain.informant)
    page = client.get(lead_url(lead))
    text = html(page)
    assert "已转为问题" in text and reverse("supervision:finding", args=[finding.pk]) in text
    titles = [entry.title for entry in page.context["history"]]
    assert len(titles) == 2
    assert [entry.reason for entry in page.context["history"]] == ["转为问题", "报送线索"]
    # The informant reads the finding of their village but may not answer its rectification.
    finding_page = client.get(reverse("supervision:finding", args=[finding.pk]))
    assert finding_page.status_code == 200
    assert 'data-testid="answer-form"' not in html(finding_page)
    before = Rectification.objects.filter(pk=rectification.pk).values().get()
    refused = client.post(reverse("supervision:finding_start", args=[finding.pk]), {"version": rectification.version})
    assert refused.status_code == 404
    assert Rectification.objects.filter(pk=rectification.pk).values().get() == before


def test_a_lead_about_nothing_in_particular_becomes_a_finding_about_the_village(client, area, personas, chain):
    lead = make_lead(chain.informant, area.village_a)
    client.force_login(personas.supervisor)
    client.post(handle_url(lead), {"state": "finding", "type": "conduct", "severity": "minor"})
    lead.refresh_from_db()
    assert lead.finding.village == area.village_a and lead.finding.type == "conduct"


def test_keeping_on_file_and_dismissing(client, area, personas, chain):
    kept = make_lead(chain.informant, area.village_a)
    dismissed = make_lead(chain.informant, area.village_a)
    client.force_login(personas.supervisor)

    assert client.post(handle_url(kept), {"state": "noted"}).status_code == 302
    kept.refresh_from_db()
    assert (kept.state, kept.handled_by, kept.finding) == ("noted", personas.supervisor, None)

    refused = client.post(handle_url(dismissed), {"state": "dismissed", "note": "  "})
    assert refused.status_code == 400
    assert "不予采纳须填写处理意见" in html(refused)
    dismissed.refresh_from_db()
    assert dismissed.state == "new" and dismissed.handled_by is None

    client.post(handle_url(dismissed), {"state": "dismissed", "note": "经核实已于9月初复工。"})
    dismissed.refresh_from_db()
    assert (dismissed.state, dismissed.handling_note) == ("dismissed", "经核实已于9月初复工。")
    assert Notification.objects.filter(reason="lead", user=chain.informant).count() == 2

    # A dismissed lead is not handled again; a kept one may still become a finding.
    again = client.post(handle_url(dismissed), {"state": "noted"})
    assert again.status_code == 400 and "该线索已处理" in html(again)
    dismissed.refresh_from_db()
    assert dismissed.state == "dismissed"
    client.post(handle_url(kept), {"state": "finding", "type": "records", "severity": "minor"})
    kept.refresh_from_db()
    assert kept.state == "finding" and kept.finding is not None


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({}, "state", "请选择处理方式"),
        ({"state": "burn"}, "state", "请选择处理方式"),
        ({"state": "finding", "type": ""}, "type", "转为问题须选择问题类型。"),
        ({"state": "finding", "type": "gossip"}, "type", "选择一个有效的选项"),
    ],
)
def test_bad_handling_input_is_a_chinese_message(client, area, personas, chain, data, field, message):
    lead = make_lead(chain.informant, area.village_a)
    client.force_login(personas.supervisor)
    response = client.post(handle_url(lead), data)
    assert response.status_code == 400
    assert message in " ".join(response.context["form"].errors[field])
    lead.refresh_from_db()
    assert lead.state == "new" and not Finding.objects.exists()


def test_only_supervisors_handle_leads(client, area, personas, chain):
    lead = make_lead(chain.informant, area.village_a)
    readers = [
        chain.informant,
        factories.oversight_user(area.district),
        factories.discipline_user(area.district),
        factories.patch_leader_user([area.township_a]),
        personas.village_cadre,
        personas.leader,
    ]
    for user in readers:
        client.force_login(user)
        assert client.post(handle_url(lead), {"state": "noted"}).status_code == 404, user
    lead.refresh_from_db()
    assert lead.state == "new" and lead.history.count() == 1
    client.force_login(personas.supervisor)
    assert client.post(reverse("supervision:lead_handle", args=[2**62]), {"state": "noted"}).status_code == 404


def test_a_lead_about_a_plan_row_withdrawn_since_becomes_a_finding_about_the_village(client, area, personas, chain):
    lead = make_lead(chain.informant, area.village_a, task=chain.task_a)
    Task.objects.filter(pk=chain.task_a.pk).update(is_removed=True, removed_reason="合并到其他任务")
    client.force_login(personas.supervisor)
    response = client.post(handle_url(lead), {"state": "finding", "type": "delay", "severity": "minor"})
    assert response.status_code == 302
    lead.refresh_from_db()
    assert (lead.finding.village, lead.finding.task) == (area.village_a, None)
