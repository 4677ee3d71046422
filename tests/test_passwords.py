"""Passwords (issue 17): guessable ones are refused on every form that sets one, and every signed-in user can change
their own (/account/password/).

The issue found admin12345 and bazhou2017 accepted in the admin's user form (10 characters, not all digits, not in
Django's list as written) and no page where a village cadre (not staff, no admin) could change their password.
"""

import io
from unittest import mock

import pytest
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import translation

from bazhou.core.models import Role, User
from bazhou.core.security import GUESSABLE_MESSAGE
from bazhou.surfaces.account import CHANGED
from tests.e2e.browser import PASSWORD

WEAK = ["admin12345", "bazhou2017", "Bazhou@2017", "admin1234567"]
STRONG = "茅垭-通村路-硬化9"


@pytest.mark.parametrize("password", WEAK)
def test_a_word_with_digits_around_it_is_refused_in_chinese(password):
    with translation.override("zh-hans"), pytest.raises(ValidationError) as refused:
        password_validation.validate_password(password, user=User(username="admin", name="管理员"))
    assert GUESSABLE_MESSAGE in refused.value.messages


def test_the_username_with_digits_is_refused():
    with pytest.raises(ValidationError) as refused:
        password_validation.validate_password("maoya-2017-07", user=User(username="maoya"))
    assert GUESSABLE_MESSAGE in refused.value.messages


@pytest.mark.parametrize("password", [STRONG, "Correct-Horse-Battery-9", "kq7-Ltz9-wenxin"])
def test_a_strong_password_passes_every_rule(password):
    password_validation.validate_password(password, user=User(username="maoya", name="秦和平"))


def test_every_rule_explains_itself_in_chinese():
    with translation.override("zh-hans"):
        texts = password_validation.password_validators_help_texts()
    assert len(texts) == 5
    for text in texts:
        assert text.startswith("你的密码"), text


# The admin's forms ---------------------------------------------------------------------------------------------


@pytest.fixture
def root_client(client, db):
    client.force_login(User.objects.create_superuser(username="root", password=PASSWORD))
    return client


def add_user(root_client, area, password):
    return root_client.post(
        reverse("admin:bazhou_user_add"),
        {
            "username": "yueming",
            "usable_password": "true",
            "password1": password,
            "password2": password,
            "name": "岳明",
            "phone": "",
            "role": Role.VILLAGE_CADRE,
            "village": area.village_b.pk,
        },
    )


@pytest.mark.parametrize("password", ["admin12345", "bazhou2017"])
def test_the_admins_add_user_form_refuses_a_guessable_password(root_client, area, password):
    response = add_user(root_client, area, password)
    assert response.status_code == 200
    assert GUESSABLE_MESSAGE in response.content.decode()
    assert not User.objects.filter(username="yueming").exists()


def test_the_admins_add_user_form_takes_a_strong_password(root_client, area):
    response = add_user(root_client, area, STRONG)
    assert response.status_code == 302
    assert User.objects.get(username="yueming").check_password(STRONG)


@pytest.mark.parametrize("password", ["admin12345", "bazhou2017"])
def test_the_admins_change_password_form_refuses_a_guessable_password(root_client, personas, password):
    url = reverse("admin:auth_user_password_change", args=[personas.village_cadre.pk])
    response = root_client.post(url, {"password1": password, "password2": password, "usable_password": "true"})
    assert GUESSABLE_MESSAGE in response.content.decode()
    personas.village_cadre.refresh_from_db()
    assert personas.village_cadre.check_password(PASSWORD)


class Terminal(io.StringIO):
    def isatty(self):
        return True


@pytest.mark.django_db
def test_createsuperuser_refuses_a_guessable_password_and_asks_again():
    """Django's createsuperuser runs the same rules (interactively; --noinput takes any password, by design)."""
    answers = iter(["bazhou2017", "bazhou2017", STRONG, STRONG])
    err = io.StringIO()
    command = "django.contrib.auth.management.commands.createsuperuser"
    with (
        mock.patch(f"{command}.getpass.getpass", side_effect=lambda *a, **k: next(answers)),
        mock.patch("builtins.input", return_value="n"),  # "Bypass password validation?" no
    ):
        call_command("createsuperuser", username="root2", email="", stdin=Terminal(), stdout=io.StringIO(), stderr=err)
    assert GUESSABLE_MESSAGE in err.getvalue()
    assert User.objects.get(username="root2").check_password(STRONG)


# 修改密码 --------------------------------------------------------------------------------------------------------


def change(client, old, new, again=None):
    return client.post(
        reverse("password_change"),
        {"old_password": old, "new_password1": new, "new_password2": again if again is not None else new},
    )


def test_every_signed_in_user_finds_the_page_in_the_menu(client, personas):
    client.force_login(personas.village_cadre)
    home = client.get(reverse("home")).content.decode()
    assert f'href="{reverse("password_change")}" data-testid="nav-password">修改密码<' in home
    page = client.get(reverse("password_change"))
    assert page.status_code == 200
    text = page.content.decode()
    assert 'name="viewport"' in text and 'data-testid="password-change-form"' in text
    assert "旧密码" in text and "新密码" in text and "你的密码必须包含至少 10 个字符。" in text


@pytest.mark.django_db
def test_the_page_needs_a_signed_in_user(client):
    response = client.get(reverse("password_change"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("password", ["admin12345", "bazhou2017"])
def test_the_page_refuses_a_guessable_password(client, personas, password):
    client.force_login(personas.village_cadre)
    response = change(client, PASSWORD, password)
    assert response.status_code == 200
    assert GUESSABLE_MESSAGE in response.content.decode()
    personas.village_cadre.refresh_from_db()
    assert personas.village_cadre.check_password(PASSWORD)


def test_a_wrong_old_password_or_a_mismatch_is_said_in_chinese(client, personas):
    client.force_login(personas.village_cadre)
    assert "你的旧密码不正确" in change(client, "not-my-password", STRONG).content.decode()
    assert "输入的两个密码不一致。" in change(client, PASSWORD, STRONG, STRONG + "x").content.decode()
    personas.village_cadre.refresh_from_db()
    assert personas.village_cadre.check_password(PASSWORD)


def test_a_village_cadre_changes_their_password_stays_signed_in_and_signs_in_with_the_new_one(personas):
    cadre = personas.village_cadre
    assert not cadre.is_staff
    client = Client()
    assert client.post(reverse("login"), {"username": cadre.username, "password": PASSWORD}).status_code == 302
    other_device = Client()
    other_device.post(reverse("login"), {"username": cadre.username, "password": PASSWORD})

    response = change(client, PASSWORD, STRONG)
    assert response.status_code == 302 and response["Location"] == reverse("password_change_done")
    done = client.get(response["Location"])
    assert CHANGED in done.content.decode()
    assert client.get(reverse("villages:list")).status_code == 200  # still signed in here
    assert other_device.get(reverse("villages:list")).status_code == 302  # signed out elsewhere

    fresh = Client()
    assert fresh.post(reverse("login"), {"username": cadre.username, "password": PASSWORD}).status_code == 200
    assert fresh.post(reverse("login"), {"username": cadre.username, "password": STRONG}).status_code == 302
