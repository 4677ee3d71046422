"""Submit once: a form that carries a one-time key (``{% submission_key %}`` renders it as the hidden field
``_submission``) is acted on once, however many times it is sent.

Field users tap twice on a slow phone, or send again when a weak signal loses the answer. Without this, the second
sending of a progress report filed a second report, or met the version check of the first and was told that someone
(in fact the user) had changed the row. ``SubmitOnceMiddleware`` records each key per user before the view runs:

- the first sending runs the view; if it answers with a redirect (Post/Redirect/Get, or an htmx ``HX-Redirect``)
  the redirect is remembered; any other answer (a form re-shown with its errors) is forgotten, so the corrected
  form can be sent again;
- a repeat of a remembered key is not run again: it is redirected to the first result, with a message saying so;
- a repeat that arrives while the first is still running waits for it (up to ``WAIT_SECONDS``), then answers the
  same way, or says that the first is still being handled.

Only session-authenticated form posts (urlencoded or multipart) outside the API are looked at; the API has its own
rules. The record is written outside the request's transaction (``ATOMIC_REQUESTS`` wraps the view only), so a
second sending sees it at once.
"""

from __future__ import annotations

import datetime
import time
import uuid

from django.contrib import messages
from django.db import IntegrityError, transaction
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils import timezone

from bazhou.core.models import Submission

FIELD = "_submission"
WAIT_SECONDS = 20.0
POLL_SECONDS = 0.1
KEEP = datetime.timedelta(days=2)
REPLAYED = "这次提交已处理过（重复提交只处理一次），以下是处理结果。"
STILL_RUNNING = "上一次提交仍在处理中，请稍候刷新页面查看结果，不要重复提交。"
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def new_key() -> str:
    return str(uuid.uuid4())


def key_of(request) -> uuid.UUID | None:
    """The request's one-time key, when it is a form post that carries a well-formed one."""
    if request.method != "POST" or request.content_type not in FORM_TYPES or request.path.startswith("/api/"):
        return None
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    value = request.POST.get(FIELD, "")
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def result_url(response) -> str:
    """Where the answer sends the browser, when it is a redirect ("" otherwise)."""
    if response.status_code in (301, 302, 303) and response.has_header("Location"):
        return response["Location"][:1000]
    if 200 <= response.status_code < 300 and response.has_header("HX-Redirect"):
        return response["HX-Redirect"][:1000]
    return ""


def forget_old(now: datetime.datetime | None = None) -> int:
    """Drop the records older than two days (run daily); returns how many."""
    deleted, _ = Submission.objects.filter(created_at__lt=(now or timezone.now()) - KEEP).delete()
    return deleted


class SubmitOnceMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        key = key_of(request)
        if key is None:
            return self.get_response(request)
        record = self._claim(request, key)
        if record is None:
            return self._replay(request, key)
        response = self.get_response(request)
        url = result_url(response)
        if url:
            Submission.objects.filter(pk=record.pk).update(result_url=url, finished=True)
        else:
            Submission.objects.filter(pk=record.pk).delete()
        return response

    @staticmethod
    def _claim(request, key) -> Submission | None:
        try:
            with transaction.atomic():
                return Submission.objects.create(user=request.user, key=key, path=request.path[:300])
        except IntegrityError:
            return None

    def _replay(self, request, key):
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            record = Submission.objects.filter(user=request.user, key=key).first()
            if record is None:
                # The first sending was not a success and was forgotten: this one is handled as new.
                return self(request)
            if record.finished:
                messages.info(request, REPLAYED)
                return _redirect(request, record.result_url)
            if time.monotonic() >= deadline:
                return render(request, "submission_pending.html", {"message": STILL_RUNNING}, status=409)
            time.sleep(POLL_SECONDS)


def _redirect(request, url: str):
    if request.headers.get("HX-Request") == "true":
        return HttpResponse(status=204, headers={"HX-Redirect": url})
    return HttpResponseRedirect(url)
