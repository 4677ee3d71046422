"""Leads (线索) in a real browser on a phone-sized screen (390 px): 茅垭村's information officer files a lead about a
plan row of their village; a supervisor opens it from the leads list and turns it into a finding; the informant
sees what became of it. The 人大 user records an opinion on that finding."""

import datetime
import re

import pytest
from playwright.sync_api import expect

from supervision.models import Finding, Lead, Opinion
from tests import factories
from tests.e2e.browser import login, logout, no_sideways_scroll

pytestmark = pytest.mark.e2e

PHONE = {"width": 390, "height": 844}


def fits(page) -> bool:
    return no_sideways_scroll(page, PHONE["width"])


def test_a_lead_filed_on_a_phone_becomes_a_finding_with_an_opinion(page, personas, area):
    page.set_viewport_size(PHONE)
    task = factories.task(factories.plan(area.village_a), item="茅垭村通村硬化路", deadline=datetime.date(2017, 8, 31))
    informant = factories.informant_user(area.village_a, username="xinxiyuan")
    congress = factories.oversight_user(area.district, username="renda")

    login(page, informant.username)
    page.goto("/supervision/leads/")
    page.get_by_test_id("new-lead").click()
    form = page.get_by_test_id("lead-form")
    expect(form).to_be_visible()
    assert fits(page)
    form.get_by_test_id("lead-description").fill("通村硬化路停工一个月，现场无人施工。")
    form.locator('select[name="task"]').select_option(str(task.pk))
    form.get_by_test_id("lead-save").click()
    expect(page).to_have_url(re.compile(r"/supervision/leads/\d+/$"))
    lead = Lead.objects.get()
    expect(page).to_have_url(re.compile(rf"/supervision/leads/{lead.pk}/$"))
    expect(page.get_by_test_id("lead-state")).to_have_text("待处理")
    assert fits(page)
    logout(page)

    login(page, personas.supervisor.username)
    page.goto("/supervision/leads/")
    row = page.locator(f'[data-testid="lead-row"][data-lead-id="{lead.pk}"]')
    expect(row.get_by_test_id("lead-state")).to_have_text("待处理")
    row.get_by_test_id("lead-link").click()
    handle = page.get_by_test_id("lead-handle-form")
    handle.get_by_role("radio", name="转为问题", exact=True).check()
    handle.get_by_test_id("lead-handle-save").click()
    expect(page).to_have_url(re.compile(r"/supervision/findings/\d+/$"))
    finding = Finding.objects.get()
    expect(page).to_have_url(re.compile(rf"/supervision/findings/{finding.pk}/$"))
    logout(page)

    login(page, congress.username)
    page.goto(f"/supervision/findings/{finding.pk}/")
    page.get_by_test_id("opinion-open").click()
    opinion = page.get_by_test_id("opinion-form")
    opinion.get_by_test_id("opinion-text").fill("请10月底前复工，人大将跟踪督导。")
    opinion.get_by_test_id("opinion-save").click()
    expect(page.get_by_test_id("opinion")).to_contain_text("请10月底前复工")
    assert fits(page)
    logout(page)

    login(page, informant.username)
    page.goto(f"/supervision/leads/{lead.pk}/")
    expect(page.get_by_test_id("lead-state")).to_have_text("已转为问题")
    expect(page.get_by_test_id("lead-finding-link")).to_be_visible()
    assert Opinion.objects.get().finding == finding
