"""Submit once (bazhou.core.submissions): a form sent twice with its one-time key is acted on once, and the repeat
gets the first result; what was not a success is forgotten, so the corrected form can be sent again."""

import datetime
import uuid

import pytest
from django.contrib.messages import get_messages
from django.template import Context, Template
from django.urls import reverse
from django.utils import timezone

from bazhou.core import submissions
from bazhou.core.models import Submission
from tasks.models import Task
from tests import factories


@pytest.fixture
def row(area):
    return factories.task(factories.plan(area.village_a), item="茅垭村通村硬化路")


def complete(client, row, key, version=1):
    return client.post(reverse("tasks:task_complete", args=[row.pk]), {"version": version, "_submission": key})


def said(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_the_template_tag_renders_a_fresh_key_in_a_hidden_field():
    template = Template("{% load bazhou %}{% submission_key %}|{% submission_key %}")
    first, second = template.render(Context()).split("|")
    assert first.startswith('<input type="hidden" name="_submission" value="')
    assert first != second
    uuid.UUID(first.split('value="')[1].split('"')[0])


def test_a_double_tap_completes_the_row_once_and_the_repeat_sees_the_first_result(client, personas, row):
    client.force_login(personas.village_cadre)
    key = str(uuid.uuid4())
    first = complete(client, row, key)
    assert first.status_code == 302
    history = Task.history.filter(id=row.pk).count()

    again = complete(client, row, key)

    assert again.status_code == 302
    assert again.url == first.url
    assert submissions.REPLAYED in said(again)
    assert not any("未保存" in m for m in said(again))
    assert Task.history.filter(id=row.pk).count() == history
    assert Task.objects.get(pk=row.pk).version == 2


def test_without_the_key_the_repeat_meets_the_version_check(client, personas, row):
    client.force_login(personas.village_cadre)
    complete(client, row, "")
    again = client.post(reverse("tasks:task_complete", args=[row.pk]), {"version": 1}, follow=True)
    assert any("未保存" in m for m in said(again))
    assert not Submission.objects.exists()


def test_a_refused_sending_is_forgotten_so_the_same_key_may_be_sent_again(client, personas, row):
    client.force_login(personas.village_cadre)
    key = str(uuid.uuid4())
    refused = client.post(reverse("tasks:task_progress", args=[row.pk]), {"version": 1, "_submission": key})
    assert refused.status_code == 200  # the form again, with its errors
    assert not Submission.objects.filter(key=key).exists()

    done = complete(client, row, key)
    assert done.status_code == 302
    assert Task.objects.get(pk=row.pk).status == Task.Status.DONE
    assert Submission.objects.get(key=key).finished


def test_keys_are_per_user(client, personas, row):
    key = str(uuid.uuid4())
    client.force_login(personas.village_cadre)
    complete(client, row, key)
    client.force_login(personas.township_a)
    other = complete(client, row, key)
    # Not the cadre's result: the township's user is acted on, and meets the version check of the first.
    assert submissions.REPLAYED not in said(other)
    assert Submission.objects.filter(key=key).count() == 2


@pytest.mark.parametrize("value", ["", "x" * 65, "not-a-uuid", "²", "0" * 32 + "g"])
def test_an_odd_key_is_ignored_not_a_500(client, personas, row, value):
    client.force_login(personas.village_cadre)
    response = complete(client, row, value)
    assert response.status_code == 302
    assert not Submission.objects.exists()


def test_a_repeat_while_the_first_still_runs_waits_for_its_result(client, personas, row, monkeypatch):
    client.force_login(personas.village_cadre)
    key = uuid.uuid4()
    running = Submission.objects.create(user=personas.village_cadre, key=key, path="/tasks/")
    waits = []

    def first_finishes(seconds):
        waits.append(seconds)
        Submission.objects.filter(pk=running.pk).update(finished=True, result_url="/tasks/1/")

    monkeypatch.setattr(submissions.time, "sleep", first_finishes)
    response = complete(client, row, str(key))
    assert waits == [submissions.POLL_SECONDS]
    assert (response.status_code, response.url) == (302, "/tasks/1/")
    assert Task.objects.get(pk=row.pk).version == 1  # not acted on a second time


def test_a_repeat_gives_up_waiting_with_a_clear_message(client, personas, row, monkeypatch):
    client.force_login(personas.village_cadre)
    key = uuid.uuid4()
    Submission.objects.create(user=personas.village_cadre, key=key, path="/tasks/")
    monkeypatch.setattr(submissions, "WAIT_SECONDS", 0)
    response = complete(client, row, str(key))
    assert response.status_code == 409
    assert submissions.STILL_RUNNING in response.content.decode()
    assert Task.objects.get(pk=row.pk).version == 1


def test_an_htmx_repeat_is_sent_on_with_hx_redirect(client, personas, row):
    client.force_login(personas.village_cadre)
    key = uuid.uuid4()
    Submission.objects.create(user=personas.village_cadre, key=key, path="/x/", finished=True, result_url="/tasks/9/")
    response = client.post(
        reverse("tasks:task_complete", args=[row.pk]), {"version": 1, "_submission": str(key)}, HTTP_HX_REQUEST="true"
    )
    assert (response.status_code, response["HX-Redirect"]) == (204, "/tasks/9/")


def test_records_older_than_two_days_are_forgotten(personas):
    now = timezone.now()
    old = Submission.objects.create(
        user=personas.village_cadre, key=uuid.uuid4(), path="/", created_at=now - datetime.timedelta(days=2, hours=1)
    )
    kept = Submission.objects.create(user=personas.village_cadre, key=uuid.uuid4(), path="/")
    assert submissions.forget_old(now) == 1
    assert list(Submission.objects.values_list("pk", flat=True)) == [kept.pk]
    assert not Submission.objects.filter(pk=old.pk).exists()


def test_the_daily_run_forgets_old_records(personas):
    from io import StringIO

    from django.core.management import call_command

    Submission.objects.create(
        user=personas.village_cadre,
        key=uuid.uuid4(),
        path="/",
        created_at=timezone.now() - datetime.timedelta(days=3),
    )
    out = StringIO()
    call_command("supervision_daily", "--date", "2017-09-15", stdout=out)
    assert "清理两天前的表单提交记录 1 条。" in out.getvalue()
    assert not Submission.objects.exists()


def test_a_conflict_names_someone_else_only_when_it_was_someone_else(personas):
    template = Template("{% load bazhou %}{{ who|changer:user }}")
    me = personas.village_cadre
    assert template.render(Context({"who": me, "user": me})) == "您本人"
    assert template.render(Context({"who": personas.township_a, "user": me})) == str(personas.township_a)
    assert template.render(Context({"who": None, "user": me})) == "他人"
