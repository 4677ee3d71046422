"""The demo district (seed_demo), SMS (阿里云 SendSms) and both group robots configured against a local HTTP server:
supervision_daily for 2017-09-15 delivers to every responsible person of an overdue row with a phone (one SMS each)
or an account (in-app), and a second run delivers nothing new."""

import datetime
import io
import urllib.parse

import pytest
from django.core import mail
from django.core.management import call_command
from django.db import transaction

from bazhou.core.models import Delivery, Notification, User
from bazhou.core.notify import normalise_phone
from supervision.bulletin_data import rectifications_in, tasks_in
from tests.test_notify_channels import Gateway, configure
from villages.models import District

DAY = datetime.date(2017, 9, 15)

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("demo")]


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker):
    """Seed once for the module inside a transaction that is rolled back afterwards."""
    with django_db_blocker.unblock(), transaction.atomic():
        call_command("seed_demo", stdout=io.StringIO())
        yield
        transaction.set_rollback(True)


@pytest.fixture
def gateway():
    server = Gateway()
    server.answer("/sms", body={"Code": "OK", "Message": "OK", "RequestId": "R", "BizId": "B"})
    yield server
    server.close()


def run() -> str:
    out = io.StringIO()
    call_command("supervision_daily", "--date", DAY.isoformat(), stdout=out)
    return out.getvalue()


def sms_phones(gateway) -> list[str]:
    return [dict(urllib.parse.parse_qsl(r["body"].decode()))["PhoneNumbers"] for r in gateway.at("/sms")]


@pytest.mark.django_db
def test_the_daily_run_reaches_every_responsible_person_with_a_phone_or_an_account_once(gateway, settings):
    configure(settings, gateway)
    settings.BAZHOU_NOTIFY_TIMEOUT = 5
    district = District.objects.get()
    tasks = tasks_in(district).overdue(DAY)
    rectifications = rectifications_in(district).overdue(DAY)
    responsible = list(tasks.values_list("responsible_phone", flat=True)) + list(
        rectifications.values_list("responsible_phone", flat=True)
    )
    phones = {normalise_phone(p) for p in responsible if normalise_phone(p)}
    assert tasks.count() > 1000 and len(phones) > 500  # the demo's 1,404 newly overdue rows

    output = run()
    print(output)  # the figures, for whoever reads the test's output with -s
    assert "失败 0 条" in output

    # One SMS per phone number, every responsible phone among them (others: the chain's leaders and 纪委 users).
    sent = sms_phones(gateway)
    assert len(sent) == len(set(sent))
    assert phones <= set(sent)
    assert f"短信 {len(sent)} 条" in output
    assert set(Delivery.objects.values_list("status", flat=True)) == {"sent"}

    # Every responsible person with an account has the rows in their inbox.
    accounts = {
        normalise_phone(phone): pk
        for pk, phone in User.objects.filter(is_active=True).exclude(phone="").values_list("pk", "phone")
    }
    reached = set(
        Notification.objects.filter(reason__in=["task_overdue", "rect_overdue"], user__isnull=False).values_list(
            "user_id", flat=True
        )
    )
    assert {pk for phone, pk in accounts.items() if phone in phones} <= reached
    # ... and so does each row's village cadre / township staff; every row has its notification.
    overdue_rows = set(tasks.values_list("pk", flat=True))
    told = set(Notification.objects.filter(reason="task_overdue").values_list("target_id", flat=True))
    assert told == overdue_rows

    # One message per robot for the district, mentioning responsible people by mobile.
    (wecom,) = gateway.at("/wecom")
    (dingtalk,) = gateway.at("/dingtalk")
    assert b"mentioned_mobile_list" in wecom["body"] and b'"isAtAll": false' in dingtalk["body"]

    # The second run the same day: nothing created, nothing sent.
    before = (Notification.objects.count(), Delivery.objects.count(), len(gateway.requests), len(mail.outbox))
    output = run()
    assert "消息 0 条，短信 0 条，邮件 0 封，群机器人 0 条，失败 0 条" in output
    assert (Notification.objects.count(), Delivery.objects.count(), len(gateway.requests), len(mail.outbox)) == before
