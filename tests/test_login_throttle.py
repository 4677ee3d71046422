"""Login throttling (django-axes): after 5 failed logins for one username from one address, the next login is
refused even with the right password, with a Chinese page; other users, and the same user elsewhere, are not."""

import datetime

import pytest
from axes.models import AccessAttempt
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests.e2e.browser import PASSWORD

LOGIN = reverse("login")
OFFICE = "10.0.0.7"  # a township office
ELSEWHERE = "10.0.0.8"


def attempt(client, username, password, **meta):
    """A login through the real login page, from ``REMOTE_ADDR`` (default the township office)."""
    meta.setdefault("REMOTE_ADDR", OFFICE)
    return client.post(LOGIN, {"username": username, "password": password}, **meta)


def signed_in(client) -> bool:
    return "_auth_user_id" in client.session


def fail_five_times(username="maoya", **meta):
    client = Client()
    for _ in range(5):
        assert attempt(client, username, "wrong-password", **meta).status_code in (200, 429)
    return client


@pytest.mark.django_db
def test_the_sixth_login_after_five_failures_is_refused_even_with_the_right_password(personas):
    client = Client()
    for n in range(1, 5):
        response = attempt(client, "maoya", "wrong-password")
        assert response.status_code == 200, f"failure {n} is an ordinary wrong password"
        assert "请输入一个正确的用户名和密码" in response.content.decode()
    attempt(client, "maoya", "wrong-password")  # the fifth failure

    response = attempt(client, "maoya", PASSWORD)
    assert response.status_code == 429
    page = response.content.decode()
    assert "登录已暂时锁定" in page and "连续 5 次登录失败" in page and "30 分钟后再试" in page
    assert not signed_in(client)


@pytest.mark.django_db
def test_other_users_at_the_same_address_are_unaffected(personas):
    fail_five_times("maoya")
    colleague = Client()
    response = attempt(colleague, "baimiao", PASSWORD)
    assert response.status_code == 302 and signed_in(colleague)


@pytest.mark.django_db
def test_the_same_user_at_another_address_is_unaffected(personas):
    fail_five_times("maoya")
    client = Client()
    assert attempt(client, "maoya", PASSWORD, REMOTE_ADDR=ELSEWHERE).status_code == 302
    assert signed_in(client)


@pytest.mark.django_db
def test_behind_the_proxy_the_forwarded_address_tells_the_clients_apart(personas):
    fail_five_times("maoya", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=OFFICE)
    locked = attempt(Client(), "maoya", PASSWORD, REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=OFFICE)
    assert locked.status_code == 429
    elsewhere = Client()
    response = attempt(elsewhere, "maoya", PASSWORD, REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=ELSEWHERE)
    assert response.status_code == 302 and signed_in(elsewhere)


@pytest.mark.django_db
def test_a_client_cannot_dodge_the_lock_by_sending_its_own_forwarded_header(personas):
    fail_five_times("maoya")  # straight from the office, not through the proxy
    response = attempt(Client(), "maoya", PASSWORD, HTTP_X_FORWARDED_FOR="192.0.2.99")
    assert response.status_code == 429


@pytest.mark.django_db
def test_a_successful_login_clears_the_count(personas):
    client = Client()
    for _ in range(4):
        attempt(client, "maoya", "wrong-password")
    assert attempt(client, "maoya", PASSWORD).status_code == 302
    client.post(reverse("logout"))
    for _ in range(4):
        attempt(client, "maoya", "wrong-password")
    assert attempt(client, "maoya", PASSWORD).status_code == 302


@pytest.mark.django_db
def test_the_lock_lifts_after_the_cool_off(personas):
    fail_five_times("maoya")
    AccessAttempt.objects.update(attempt_time=timezone.now() - datetime.timedelta(minutes=31))
    client = Client()
    assert attempt(client, "maoya", PASSWORD).status_code == 302 and signed_in(client)


@pytest.mark.django_db
def test_an_administrator_can_lift_a_lock_at_once(personas):
    fail_five_times("maoya")
    call_command("axes_reset_username", "maoya", verbosity=0)
    client = Client()
    assert attempt(client, "maoya", PASSWORD).status_code == 302 and signed_in(client)
