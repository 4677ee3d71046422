"""No copy of personal data is kept by a browser or a proxy (issue 17): ``Cache-Control: private, no-store`` on every
answer of the application (bazhou/core/nostore.py), static files keeping their long cache.

The issue found pages, downloads and the API sent without it: a township office's shared computer kept names and
ID numbers in its cache after the user signed out.
"""

from decimal import Decimal

import pytest
from django.urls import reverse

from tasks import services
from tests import factories

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("pinned_today")]


def assert_no_store(response):
    assert response.status_code == 200, response.status_code
    cache = response["Cache-Control"]
    assert "no-store" in cache and "private" in cache, cache
    assert "max-age=3" not in cache and "public" not in cache


@pytest.fixture
def task(area):
    return factories.task(factories.plan(area.village_a), planned_funds=Decimal("100"))


@pytest.mark.parametrize(
    "page",
    [
        lambda area, task: reverse("home"),
        lambda area, task: reverse("villages:list"),
        lambda area, task: reverse("villages:detail", args=[area.village_a.pk]),
        lambda area, task: reverse("households:list"),
        lambda area, task: reverse("households:detail", args=[area.household_a.pk]),
        lambda area, task: reverse("tasks:plan", args=[task.plan_id]),
        lambda area, task: reverse("tasks:task_detail", args=[task.pk]),
        lambda area, task: reverse("supervision:findings"),
        lambda area, task: reverse("jobs:list"),
        lambda area, task: reverse("password_change"),
    ],
    ids=["home", "villages", "village", "households", "household", "plan", "task", "findings", "jobs", "password"],
)
def test_every_page_for_a_signed_in_user_is_no_store(client, personas, area, task, page):
    client.force_login(personas.township_a)
    assert_no_store(client.get(page(area, task)))


@pytest.mark.parametrize(
    "url",
    ["/api/v1/households/", "/api/v1/villages/", "/api/v1/tasks/", "/api/v1/dashboard/"],
)
def test_the_api_is_no_store(client, personas, url):
    client.force_login(personas.township_a)
    assert_no_store(client.get(url))


def test_the_api_with_a_token_is_no_store(client, personas):
    from bazhou.core.api.tokens import token_create

    _token, key = token_create(user=personas.township_a, name="对接")
    assert_no_store(client.get("/api/v1/households/", HTTP_AUTHORIZATION=f"Token {key}"))


def test_downloads_are_no_store(client, personas, task, media):
    update = services.progress_record(
        task_id=task.pk,
        user=personas.village_cadre,
        expected_version=task.version,
        progress=10,
        status="in_progress",
        invested_funds=Decimal("5"),
        files=[factories.evidence_upload("jpeg")],
    )
    client.force_login(personas.district_admin)
    assert_no_store(client.get(reverse("tasks:evidence", args=[update.evidence.get().pk])))
    assert_no_store(client.get(reverse("supervision:queue_xlsx")))
    assert_no_store(client.get(reverse("tasks:change_ledger_xlsx")))


def test_the_login_page_and_the_failure_pages_are_no_store_too(client, personas):
    assert_no_store(client.get(reverse("login")))
    client.force_login(personas.township_a)
    missing = client.get("/no-such-page/")
    assert missing.status_code == 404 and "no-store" in missing["Cache-Control"]


def test_static_files_keep_their_long_cache(client):
    response = client.get("/static/css/site.css")
    assert response.status_code == 200
    assert "no-store" not in response.get("Cache-Control", "")
    assert "max-age" in response["Cache-Control"]
