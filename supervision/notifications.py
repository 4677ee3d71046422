"""The daily supervision run (``manage.py supervision_daily``, from cron once a day).

For one district and one day it:

1. records every plan row and rectification that is overdue and has no OverdueRecord for its current
   deadline yet (one record per object and deadline; a deadline that is moved and passes again is a
   new record): the existing records are read in one query and the new ones inserted with one
   ``bulk_create`` in the same transaction; a concurrent run that inserted the same records first makes
   the insert fail (``ignore_conflicts=False``) and the step is read and tried again;
2. e-mails each responsible person with an address once, listing all their newly overdue items (one mail
   per address), and marks those records notified (``notified_to``/``notified_at``). A record whose mail
   could not be sent stays unnotified and is sent by the next run, if the item is still overdue;
3. sends the district's supervisors and district admins one digest for the day. The DailyDigest row
   (unique per district and day) is written in the same transaction as the mail is sent: if it exists,
   nothing is sent; if sending fails, it is rolled back and the next run sends it.

Run twice on a day, the second run finds every record and the digest, and sends nothing. Mails go
through Django's e-mail (``settings.EMAIL_BACKEND``), with Chinese subjects and text bodies from
``templates/email/``. A mail is sent after the records are committed, so a crash between sending and
marking may send a notice twice, never lose one.
"""

from __future__ import annotations

import datetime
import logging
import smtplib
from collections import defaultdict
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import IntegrityError, transaction
from django.db.models import Count, F, Q
from django.template.loader import render_to_string
from django.utils import timezone

from bazhou.core import access
from bazhou.core.models import User
from supervision.bulletin_data import cn_date, household_label, rectifications_in, target_text, tasks_in
from supervision.models import DailyDigest, OverdueRecord
from tasks.models import days_overdue

logger = logging.getLogger(__name__)

DUE_SOON_DAYS = 7
TOP_TOWNSHIPS = 5
RECORD_ATTEMPTS = 2
MAIL_ERRORS = (smtplib.SMTPException, OSError)


class Digest:
    SENT = "sent"
    ALREADY_SENT = "already_sent"
    NO_RECIPIENTS = "no_recipients"
    FAILED = "failed"

    LABELS = {
        SENT: "已发送",
        ALREADY_SENT: "今日已发送，未重复发送",
        NO_RECIPIENTS: "督查人员和区级管理员均无邮箱，未发送",
        FAILED: "发送失败，下次运行时重发",
    }


@dataclass
class DailyResult:
    """What one district's run did, for the command's summary line."""

    district: object
    day: datetime.date
    new_tasks: int = 0
    new_rectifications: int = 0
    mails_sent: int = 0
    mails_failed: int = 0
    digest: str = ""

    def summary(self) -> str:
        line = (
            f"{self.district.name}（{self.district.code}）{self.day.isoformat()}："
            f"新增逾期任务 {self.new_tasks} 项，新增逾期整改 {self.new_rectifications} 项，"
            f"发送邮件 {self.mails_sent} 封"
        )
        if self.mails_failed:
            line += f"，发送失败 {self.mails_failed} 封"
        return f"{line}；督查摘要：{Digest.LABELS[self.digest]}。"


def run_daily(*, district, today: datetime.date) -> DailyResult:
    """The whole daily run for one district: record, notify the responsible people, send the digest."""
    result = DailyResult(district, today)
    new = record_overdue(district=district, today=today)
    result.new_tasks = sum(1 for record in new if record.task_id)
    result.new_rectifications = len(new) - result.new_tasks
    connection = get_connection()
    try:
        connection.open()  # one connection for all of the district's mails
    except MAIL_ERRORS:
        logger.exception("无法连接邮件服务器；本次的邮件将逐封重试")
    try:
        sent, failed = notify_responsible(district=district, today=today, connection=connection)
        result.digest = send_digest(district=district, today=today, connection=connection)
    finally:
        connection.close()
    result.mails_sent = sent + (result.digest == Digest.SENT)
    result.mails_failed = failed + (result.digest == Digest.FAILED)
    return result


# ---------------------------------------------------------------------------------------------
# 1. Records
# ---------------------------------------------------------------------------------------------


def record_overdue(*, district, today: datetime.date) -> list[OverdueRecord]:
    """Record the rows and rectifications of ``district`` that are overdue on ``today`` and not yet recorded
    for their current deadline. Returns the new records."""
    for attempt in range(1, RECORD_ATTEMPTS + 1):
        try:
            with transaction.atomic():
                return _record_overdue(district, today)
        except IntegrityError:
            # Another run inserted some of the same records after this one read them: read again.
            if attempt == RECORD_ATTEMPTS:
                raise
    raise AssertionError("unreachable")


def _record_overdue(district, today: datetime.date) -> list[OverdueRecord]:
    tasks = tasks_in(district).overdue(today)
    rectifications = rectifications_in(district).overdue(today)
    existing = set(
        OverdueRecord.objects.filter(
            Q(task__in=tasks.values("pk")) | Q(rectification__in=rectifications.values("pk"))
        ).values_list("task_id", "rectification_id", "deadline")
    )
    new = [
        OverdueRecord(task_id=pk, deadline=deadline, recorded_on=today)
        for pk, deadline in tasks.values_list("pk", "deadline")
        if (pk, None, deadline) not in existing
    ]
    new += [
        OverdueRecord(rectification_id=pk, deadline=deadline, recorded_on=today)
        for pk, deadline in rectifications.values_list("pk", "deadline")
        if (None, pk, deadline) not in existing
    ]
    return OverdueRecord.objects.bulk_create(new, ignore_conflicts=False) if new else []


# ---------------------------------------------------------------------------------------------
# 2. Notices to the people responsible
# ---------------------------------------------------------------------------------------------


@dataclass
class Item:
    """One overdue thing as a notice lists it."""

    kind: str  # "task" or "rectification"
    township: str
    what: str
    deadline: datetime.date
    days_overdue: int
    state: str
    person: str


def notify_responsible(*, district, today: datetime.date, connection) -> tuple[int, int]:
    """Mail every address with unnotified overdue records in ``district`` once; returns (sent, failed)."""
    by_address: dict[str, dict] = defaultdict(lambda: {"address": "", "records": [], "items": [], "names": []})
    for record, address, item in _pending(district, today):
        entry = by_address[address.strip().lower()]
        entry["address"] = entry["address"] or address.strip()
        entry["records"].append(record.pk)
        entry["items"].append(item)
        if item.person and item.person not in entry["names"]:
            entry["names"].append(item.person)

    sent = failed = 0
    for entry in by_address.values():
        tasks = [i for i in entry["items"] if i.kind == "task"]
        rectifications = [i for i in entry["items"] if i.kind == "rectification"]
        context = {
            "names": "、".join(entry["names"]),
            "tasks": tasks,
            "rectifications": rectifications,
            "day": today,
            "day_text": cn_date(today),
            "site_url": getattr(settings, "BAZHOU_SITE_URL", ""),
        }
        message = EmailMessage(
            subject=_subject("email/overdue_notice_subject.txt", context),
            body=render_to_string("email/overdue_notice.txt", context),
            to=[entry["address"]],
            connection=connection,
        )
        if _send(message):
            OverdueRecord.objects.filter(pk__in=entry["records"]).update(
                notified_to=entry["address"], notified_at=timezone.now()
            )
            sent += 1
        else:
            failed += 1
    return sent, failed


def _pending(district, today: datetime.date):
    """(record, address, item) for every unnotified record whose object is still overdue on the same
    deadline and has an address: the ones just recorded, and any whose mail failed before."""
    task_records = (
        OverdueRecord.objects.filter(
            notified_at__isnull=True,
            task__in=tasks_in(district).overdue(today).values("pk"),
            task__deadline=F("deadline"),
        )
        .exclude(task__responsible_email="")
        .select_related("task__plan__village__township", "task__household")
        .order_by("task__plan__village__township", "task__deadline", "task_id")
    )
    for record in task_records:
        task = record.task
        village = task.plan.village
        what = f"{village.name} {task.item}" + (f"（户编号 {task.household.number}）" if task.household_id else "")
        state = f"{task.get_status_display()} {task.progress}%"
        days = days_overdue(task.deadline, today)
        item = Item("task", village.township.name, what, task.deadline, days, state, task.responsible_person)
        yield record, task.responsible_email, item

    rectification_records = (
        OverdueRecord.objects.filter(
            notified_at__isnull=True,
            rectification__in=rectifications_in(district).overdue(today).values("pk"),
            rectification__deadline=F("deadline"),
        )
        .exclude(rectification__responsible_email="")
        .select_related(
            "rectification__finding__task__plan__village__township",
            "rectification__finding__village__township",
            "rectification__finding__household__village__township",
            "rectification__finding__township",
        )
        .order_by("rectification__deadline", "rectification_id")
    )
    for record in rectification_records:
        rectification = record.rectification
        finding = rectification.finding
        village, township = _place_of(finding)
        what = target_text(
            task_item=finding.task.item if finding.task_id else "",
            village=village.name if village else "",
            household=household_label(None, finding.household.number) if finding.household_id else "",
            township=township.name,
        )
        yield (
            record,
            rectification.responsible_email,
            Item(
                "rectification",
                township.name,
                f"{what}：{rectification.requirement}",
                rectification.deadline,
                days_overdue(rectification.deadline, today),
                rectification.get_status_display(),
                rectification.responsible_person,
            ),
        )


def _place_of(finding):
    """The village (or None) and the township a finding is about."""
    if finding.task_id:
        village = finding.task.plan.village
    elif finding.household_id:
        village = finding.household.village
    else:
        village = finding.village
    return village, village.township if village else finding.township


# ---------------------------------------------------------------------------------------------
# 3. The supervisors' digest
# ---------------------------------------------------------------------------------------------


def send_digest(*, district, today: datetime.date, connection) -> str:
    """Send the day's digest to the district's supervisors and district admins, once per district and day."""
    if DailyDigest.objects.filter(district=district, day=today).exists():
        return Digest.ALREADY_SENT
    recipients = digest_recipients(district)
    if not recipients:
        return Digest.NO_RECIPIENTS
    summary = digest_summary(district=district, today=today)
    context = {"district": district, "summary": summary, "day_text": cn_date(today), "days": DUE_SOON_DAYS}
    context["site_url"] = getattr(settings, "BAZHOU_SITE_URL", "")
    message = EmailMessage(
        subject=_subject("email/daily_digest_subject.txt", context),
        body=render_to_string("email/daily_digest.txt", context),
        to=recipients,
        connection=connection,
    )
    try:
        with transaction.atomic():
            DailyDigest.objects.create(district=district, day=today, recipients="\n".join(recipients), summary=summary)
            if not _send(message):
                raise _NotSent
    except IntegrityError:
        return Digest.ALREADY_SENT  # a concurrent run wrote it first
    except _NotSent:
        return Digest.FAILED
    return Digest.SENT


class _NotSent(Exception):
    """The digest could not be sent: roll its DailyDigest row back so the next run sends it."""


def digest_recipients(district) -> list[str]:
    """The addresses of the people who supervise ``district`` (``access.supervisors_of``), each once."""
    addresses = (
        User.objects.filter(access.supervisors_of(district))
        .exclude(email="")
        .order_by("email")
        .values_list("email", flat=True)
    )
    unique = {}
    for address in addresses:
        unique.setdefault(address.strip().lower(), address.strip())
    return list(unique.values())


def digest_summary(*, district, today: datetime.date) -> dict:
    """The figures of the digest (kept in DailyDigest.summary): five queries whatever the district's size."""
    tasks = tasks_in(district)
    overdue = tasks.overdue(today)
    new_today = OverdueRecord.objects.filter(recorded_on=today).aggregate(
        tasks=Count("pk", filter=Q(task__in=tasks.values("pk"))),
        rectifications=Count("pk", filter=Q(rectification__in=rectifications_in(district).values("pk"))),
    )
    top = (
        overdue.values("plan__village__township", "plan__village__township__name")
        .annotate(count=Count("pk"))
        .order_by("-count", "plan__village__township")[:TOP_TOWNSHIPS]
    )
    return {
        "day": today.isoformat(),
        "overdue_tasks": overdue.count(),
        "new_overdue_tasks": new_today["tasks"],
        "overdue_rectifications": rectifications_in(district).overdue(today).count(),
        "new_overdue_rectifications": new_today["rectifications"],
        "due_soon_tasks": tasks.due_within(today, DUE_SOON_DAYS).count(),
        "due_soon_days": DUE_SOON_DAYS,
        "top_townships": [{"name": row["plan__village__township__name"], "overdue_tasks": row["count"]} for row in top],
    }


# ---------------------------------------------------------------------------------------------
# Sending
# ---------------------------------------------------------------------------------------------


def _subject(template: str, context: dict) -> str:
    return " ".join(render_to_string(template, context).split())


def _send(message: EmailMessage) -> bool:
    try:
        message.send(fail_silently=False)
    except MAIL_ERRORS:
        logger.exception("邮件发送失败：%s", ", ".join(message.to))
        return False
    return True
