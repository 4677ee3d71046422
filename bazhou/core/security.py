"""Login throttling (django-axes) as this product uses it: who the client is, and the Chinese lockout page;
and the password rule whose message Django does not translate.

After ``AXES_FAILURE_LIMIT`` (5) failed logins for one username from one address, that username is locked
out from that address for ``AXES_COOLOFF_TIME``, even with the right password; other users, and the same
user from another address, are unaffected. A district admin can lift a lockout early with
``manage.py axes_reset_username <用户名>`` (docs/deploy.md).
"""

from __future__ import annotations

from axes.backends import AxesStandaloneBackend
from django.conf import settings
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.shortcuts import render


class LoginThrottleBackend(AxesStandaloneBackend):
    """Refuses a locked-out login before the password is checked (first in AUTHENTICATION_BACKENDS).

    ``authenticate()`` without a request (the shell, a management command, the test client's ``login()``)
    comes from code on the server, not from a client that could guess passwords: nothing to throttle there,
    so it passes on to the next backend instead of failing as django-axes' own backend does.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


def client_ip(request) -> str:
    """The client's address: the proxy's ``X-Forwarded-For`` when the request came through a trusted proxy.

    The reverse proxy sets the header to the address it saw (docs/deploy.md); when it appends to a header
    the client sent instead, the last entry is still the one the proxy added, so the last one is taken.
    A request straight from anywhere else is judged by its own address, whatever header it carries.
    """
    remote = request.META.get("REMOTE_ADDR", "")
    if remote in settings.BAZHOU_TRUSTED_PROXIES:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        forwarded = [part for part in forwarded if part]
        if forwarded:
            return forwarded[-1]
    return remote


def lockout_response(request, original_response=None, credentials=None):
    """The page a locked-out login gets (HTTP 429): in Chinese, with how long to wait and whom to ask."""
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    context = {"failure_limit": settings.AXES_FAILURE_LIMIT, "minutes": minutes}
    return render(request, "registration/locked_out.html", context, status=settings.AXES_HTTP_RESPONSE_CODE)


class MinimumLengthValidator(password_validation.MinimumLengthValidator):
    """Django's rule with its message in Chinese: Django 5.2 reworded it, and its Chinese translation lags."""

    def get_error_message(self):
        return f"密码太短，至少需要 {self.min_length} 个字符。"


# Words a password must not be built on (lower case, letters only): the place, the project, the obvious accounts.
# Django's list of 20,000 common passwords is checked too.
LOCAL_WORDS = frozenset(
    {
        "bazhou",
        "bazhouqu",
        "bazhong",
        "bazhongshi",
        "sichuan",
        "fupin",
        "tuopin",
        "tuopingongjian",
        "shigongtu",
        "admin",
        "administrator",
        "root",
        "mima",
    }
)
GUESSABLE_MESSAGE = (
    "密码不能是常见单词、用户名或地名加上数字或符号（如 admin12345、bazhou2017），这样的密码很容易被猜中。"
    "请换一个，例如几个不相关的词再加数字和符号。"
)


class GuessablePasswordValidator:
    """Refuses a password that is a guessable word with digits or symbols around it: admin12345, bazhou2017,
    Siling@2017. The letters of the password (digits, punctuation and spaces taken out) must not be a common
    password, one of LOCAL_WORDS, the username or part of it, nor shorter than three letters.

    Django's own rules let these through: 10 characters, not all digits, not in its list as written, and not
    similar enough to the username by its measure."""

    MIN_LETTERS = 3

    def __init__(self):
        self._common = password_validation.CommonPasswordValidator().passwords

    @staticmethod
    def letters(text: str) -> str:
        return "".join(ch for ch in text.lower() if ch.isalpha())

    def is_guessable(self, password: str, user=None) -> bool:
        core = self.letters(password)
        if len(core) < self.MIN_LETTERS or core in LOCAL_WORDS or core in self._common:
            return True
        for attribute in ("username", "name", "email"):
            value = self.letters(str(getattr(user, attribute, "") or "").split("@")[0])
            if len(value) >= self.MIN_LETTERS and (core in value or value in core):
                return True
        return False

    def validate(self, password, user=None):
        if self.is_guessable(password, user):
            raise ValidationError(GUESSABLE_MESSAGE, code="password_guessable")

    def get_help_text(self):
        return "你的密码不能是常见单词、用户名或地名加上数字或符号（如 admin12345、bazhou2017）。"
