"""Production settings (DEBUG off, HTTPS at the reverse proxy): the deploy check, the security headers and the
content security policy, secure cookies, sessions that end after a working day, password rules, the health
check, gunicorn's configuration, and logs without ID numbers.

The production settings are read in a child process with production environment variables, exactly as
gunicorn reads them: the test process itself runs on the development settings.
"""

from __future__ import annotations

import datetime
import json
import logging
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from unittest import mock

import pytest
from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError
from django.db import OperationalError, connections
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from bazhou.core import idnumbers
from bazhou.core.logredact import REDACTED, RedactIdNumbers, redact
from bazhou.core.models import User
from tests.e2e.browser import PASSWORD

ROOT = Path(__file__).resolve().parent.parent
HOST = "fupin.example.gov.cn"
AN_ID_NUMBER = idnumbers.build("511902", datetime.date(1968, 3, 12), 57)


def production_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment of a production server: DEBUG off, a strong secret, its host name, HTTPS at the proxy."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PYTEST_", "BAZHOU_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="bazhou.settings",
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS=f"{HOST},127.0.0.1",
        CSRF_TRUSTED_ORIGINS=f"https://{HOST}",
        DATABASE_URL=f"sqlite:///{tmp_path / 'production.sqlite3'}",
        STATIC_ROOT=str(tmp_path / "static"),
        MEDIA_ROOT=str(tmp_path / "media"),
        PYTHONPATH=str(ROOT),
    )
    env.update(extra)
    (tmp_path / "static").mkdir(exist_ok=True)
    return env


def run(args: list[str], env: dict[str, str], timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


# The deploy check -----------------------------------------------------------------------------------------------


def test_the_deploy_check_passes_with_the_production_settings(tmp_path):
    result = run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"], production_env(tmp_path)
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_the_deploy_check_complains_about_a_plain_http_site(tmp_path):
    """It is a real check: declaring the site plain HTTP (SECURE_COOKIES=0) loses the secure cookies and HSTS."""
    env = production_env(tmp_path, SECURE_COOKIES="0")
    result = run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"], env)
    assert result.returncode != 0
    for warning in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert warning in result.stderr


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    env = production_env(tmp_path)
    del env["SECRET_KEY"]
    result = run([sys.executable, "manage.py", "check"], env)
    assert result.returncode != 0 and "SECRET_KEY must be set" in result.stderr


# Responses of a production server ----------------------------------------------------------------------------------

# Runs in the child process: migrate an empty SQLite database, make a user, and make the requests a browser
# makes through the proxy (X-Forwarded-Proto: https) and one a browser makes over plain HTTP.
PRODUCTION_REQUESTS = r"""
import json, sys
import django
django.setup()
from django.core.management import call_command
from django.test import Client
from bazhou.core.models import User

call_command("migrate", verbosity=0)
User.objects.create_superuser(username="maoya", password=sys.argv[1])
host, https = sys.argv[2], {"HTTP_X_FORWARDED_PROTO": "https"}

def cookies(response):
    return {name: {k: str(v) for k, v in morsel.items()} for name, morsel in response.cookies.items()}

client = Client(HTTP_HOST=host)
plain = client.get("/login/")
health = client.get("/healthz/", HTTP_HOST="127.0.0.1")
page = client.get("/login/", **https)
login = client.post("/login/", {"username": "maoya", "password": sys.argv[1]}, **https)
print(json.dumps({
    "plain": {"status": plain.status_code, "location": plain.get("Location", "")},
    "health": {"status": health.status_code, "body": health.content.decode()},
    "page": {"status": page.status_code, "headers": dict(page.headers), "cookies": cookies(page)},
    "login": {"status": login.status_code, "cookies": cookies(login)},
}))
"""


@pytest.fixture(scope="module")
def production(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("production")
    result = run([sys.executable, "-c", PRODUCTION_REQUESTS, PASSWORD, HOST], production_env(tmp_path))
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_plain_http_is_sent_to_https(production):
    assert production["plain"] == {"status": 301, "location": f"https://{HOST}/login/"}


def test_the_health_check_answers_over_plain_http(production):
    """Monitoring on the server itself asks gunicorn directly, without TLS: no redirect for the health check."""
    assert production["health"]["status"] == 200
    body = json.loads(production["health"]["body"])
    assert (body["status"], body["database"], body["worker"]["status"]) == ("ok", "ok", "stopped")


def test_responses_carry_the_security_headers(production):
    headers = production["page"]["headers"]
    assert production["page"]["status"] == 200
    assert headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["Cross-Origin-Opener-Policy"] == "same-origin"
    assert_strict_policy(headers["Content-Security-Policy"])


def test_cookies_go_over_https_only_and_the_session_ends_with_the_browser(production):
    assert production["page"]["cookies"]["csrftoken"]["secure"] == "True"
    assert production["login"]["status"] == 302
    session = production["login"]["cookies"]["sessionid"]
    assert session["secure"] == "True" and session["httponly"] == "True" and session["samesite"] == "Lax"
    assert session["max-age"] == "" and session["expires"] == ""  # a browser-session cookie


# The content security policy -------------------------------------------------------------------------------------


def policy_of(header: str) -> dict[str, list[str]]:
    directives = (part.strip().split() for part in header.split(";") if part.strip())
    return {name: values for name, *values in directives}


def assert_strict_policy(header: str) -> None:
    policy = policy_of(header)
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["img-src"] == ["'self'", "data:"]
    # Style attributes only (ECharts writes them; settings.py says why); no other 'unsafe-…' anywhere.
    assert policy["style-src-attr"] == ["'unsafe-inline'"]
    others = [value for name, values in policy.items() if name != "style-src-attr" for value in values]
    assert not [value for value in others if "unsafe" in value]


@pytest.mark.django_db
def test_every_kind_of_page_carries_the_strict_policy(client, personas, area):
    assert_strict_policy(client.get("/login/")["Content-Security-Policy"])
    client.force_login(personas.district_admin)
    for url in ("/", reverse("households:list"), reverse("villages:detail", args=[area.village_a.pk])):
        response = client.get(url)
        assert response.status_code == 200, url
        assert_strict_policy(response["Content-Security-Policy"])
    root = User.objects.create_superuser(username="root", password=PASSWORD)
    client.force_login(root)
    assert_strict_policy(client.get(reverse("admin:index"))["Content-Security-Policy"])


def project_templates() -> list[Path]:
    folders = [
        ROOT / "templates",
        *(ROOT / app / "templates" for app in ("bazhou", "villages", "households", "tasks", "supervision")),
    ]
    return sorted(path for folder in folders if folder.is_dir() for path in folder.rglob("*.html"))


TAG = re.compile(r"<[a-zA-Z][^>]*>", re.S)


def test_no_template_has_inline_script_style_or_event_handlers():
    """What the policy would block: <script> without src, on…= handlers, javascript: links, style= and <style>."""
    problems = []
    for path in project_templates():
        text = path.read_text(encoding="utf-8")
        text = re.sub(r"\{#.*?#\}|\{% comment %\}.*?\{% endcomment %\}", "", text, flags=re.S)  # comments
        for tag in TAG.findall(text):
            name = path.relative_to(ROOT)
            if tag.startswith("<script") and " src=" not in tag:
                problems.append(f"{name}: inline script {tag}")
            if re.search(r"\son[a-z]+\s*=", tag):
                problems.append(f"{name}: event handler attribute in {tag}")
            if re.search(r"\sstyle\s*=", tag):
                problems.append(f"{name}: style attribute in {tag}")
            if tag.startswith("<style"):
                problems.append(f"{name}: <style> block")
            if "javascript:" in tag:
                problems.append(f"{name}: javascript: URL in {tag}")
    assert len(project_templates()) > 40
    assert problems == []


def test_htmx_is_told_to_inject_no_styles_and_evaluate_no_code():
    base = (ROOT / "templates" / "base.html").read_text(encoding="utf-8")
    config = json.loads(re.search(r"<meta name=\"htmx-config\" content='([^']+)'>", base).group(1))
    assert config == {"includeIndicatorStyles": False, "allowEval": False, "allowScriptTags": False}
    css = (ROOT / "static" / "css" / "site.css").read_text(encoding="utf-8")
    assert ".htmx-indicator" in css  # the indicator styles htmx would otherwise inject


# Sessions and passwords ---------------------------------------------------------------------------------------------


def test_a_session_lasts_a_working_day_and_ends_with_the_browser():
    assert settings.SESSION_COOKIE_AGE == 9 * 3600
    assert settings.SESSION_EXPIRE_AT_BROWSER_CLOSE is True


@pytest.mark.django_db
def test_after_a_working_day_the_user_must_sign_in_again(personas):
    client = Client()
    assert client.post(reverse("login"), {"username": "maoya", "password": PASSWORD}).status_code == 302
    session = Session.objects.get(session_key=client.session.session_key)
    lasts = session.expire_date - timezone.now()
    assert datetime.timedelta(hours=8, minutes=59) < lasts <= datetime.timedelta(hours=9)
    assert client.get("/").status_code == 200

    Session.objects.filter(pk=session.pk).update(expire_date=timezone.now() - datetime.timedelta(seconds=1))
    response = client.get("/")
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("bz2017x", "密码太短，至少需要 10 个字符。"),
        ("1357924680", "密码只包含数字。"),
        ("password123", "这个密码太常见了。"),
        ("qinheping2017", "密码跟 用户名 太相似了。"),
    ],
)
def test_weak_passwords_are_refused_in_chinese(password, message):
    with translation.override("zh-hans"), pytest.raises(ValidationError) as refused:
        validate_password(password, user=User(username="qinheping2017", name="秦和平"))
    assert message in refused.value.messages


def test_a_good_password_is_accepted():
    validate_password("茅垭村-通村路-2017", user=User(username="qinheping2017", name="秦和平"))


@pytest.mark.django_db
def test_the_admin_password_form_applies_the_rules(client, personas):
    root = User.objects.create_superuser(username="root", password=PASSWORD)
    client.force_login(root)
    url = reverse("admin:auth_user_password_change", args=[personas.village_cadre.pk])
    response = client.post(url, {"password1": "12345", "password2": "12345", "usable_password": "true"})
    assert "密码太短，至少需要 10 个字符。" in response.content.decode()
    personas.village_cadre.refresh_from_db()
    assert personas.village_cadre.check_password(PASSWORD)


# The health check -------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_health_check_needs_no_login_and_sets_no_cookie(client):
    response = client.get(reverse("healthz"))
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["database"]) == ("ok", "ok")
    assert body["worker"]["status"] == "stopped"  # no worker runs in this test: said, without failing the check
    assert not response.cookies
    assert "no-store" in response["Cache-Control"]


@pytest.mark.django_db
def test_the_health_check_says_503_when_the_database_does_not_answer(client):
    with mock.patch.object(connections["default"], "cursor", side_effect=OperationalError("connection refused")):
        response = client.get(reverse("healthz"))
    assert response.status_code == 503
    assert response.json() == {"status": "error", "database": "unavailable"}


# Logs ----------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"GET /households/?q={AN_ID_NUMBER} 200", f"GET /households/?q={REDACTED} 200"),
        (f"id={AN_ID_NUMBER[:17]}x;", f"id={REDACTED};"),
        (f"重复的身份证号（{AN_ID_NUMBER}）", f"重复的身份证号（{REDACTED}）"),
        ("户编号 5119022040070001 村 511902204007", "户编号 5119022040070001 村 511902204007"),  # 16 and 12 digits
        ("a run of 19 digits 1234567890123456789", "a run of 19 digits 1234567890123456789"),
    ],
)
def test_the_redaction_takes_whatever_looks_like_an_id_number(text, expected):
    assert redact(text) == expected


def test_the_log_filter_redacts_the_message_its_arguments_and_the_traceback():
    try:
        raise ValueError(f"Key (id_number)=({AN_ID_NUMBER}) already exists.")
    except ValueError:
        record = logging.getLogger("test").makeRecord(
            "test", logging.ERROR, __file__, 1, "member %s: %s", ("秦和平", AN_ID_NUMBER), sys.exc_info()
        )
    assert RedactIdNumbers().filter(record)
    line = logging.Formatter().format(record)
    assert AN_ID_NUMBER not in line
    assert f"member 秦和平: {REDACTED}" in line and f"Key (id_number)=({REDACTED})" in line


def test_every_handler_of_the_configuration_redacts():
    config = settings.LOGGING
    for name, handler in config["handlers"].items():
        assert "redact_id_numbers" in handler.get("filters", []), name
    assert config["handlers"]["stdout"]["stream"] == "ext://sys.stdout"
    for name in ("django", "django.server", "gunicorn.error", "gunicorn.access"):
        assert config["loggers"][name]["handlers"] == ["stdout"], name


def test_django_logs_go_to_standard_output_without_id_numbers(tmp_path):
    """Through the real configuration, in a process of its own: a 404 for an address with an ID number in it."""
    script = (
        "import django; django.setup()\n"
        "import logging; from django.test import Client\n"
        f"Client(HTTP_HOST='127.0.0.1').get('/no-such-page/{AN_ID_NUMBER}/')\n"
        f"logging.getLogger('bazhou').warning('lookup of %s failed', '{AN_ID_NUMBER}')\n"
    )
    result = run([sys.executable, "-c", script], production_env(tmp_path, SECURE_COOKIES="0"))
    assert result.returncode == 0, result.stderr
    assert f"Not Found: /no-such-page/{REDACTED}/" in result.stdout
    assert f"lookup of {REDACTED} failed" in result.stdout
    assert AN_ID_NUMBER not in result.stdout + result.stderr


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_gunicorn_serves_the_app_and_its_access_log_holds_no_id_numbers(tmp_path):
    """gunicorn started with the repository's gunicorn.conf.py, as the systemd unit does."""
    port = free_port()
    env = production_env(tmp_path, SECURE_COOKIES="0", GUNICORN_BIND=f"127.0.0.1:{port}", WEB_CONCURRENCY="1")
    log = tmp_path / "gunicorn.log"
    gunicorn = Path(sys.executable).parent / "gunicorn"
    with log.open("w") as out:
        server = subprocess.Popen([str(gunicorn), "-c", "gunicorn.conf.py"], cwd=ROOT, env=env, stdout=out, stderr=out)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{base}/healthz/", timeout=5) as response:
                    assert response.status == 200
                    break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.2)
        with urllib.request.urlopen(f"{base}/login/?next=/households/%3Fq%3D{AN_ID_NUMBER}", timeout=5) as response:
            assert response.status == 200
            assert_strict_policy(response.headers["Content-Security-Policy"])
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    text = log.read_text(encoding="utf-8")
    assert "gunicorn.access" in text and '"GET /healthz/ HTTP/1.1" 200' in text
    assert "GET /login/?next=/households/%3Fq%3D[身份证号] HTTP/1.1" in text
    assert AN_ID_NUMBER not in text
