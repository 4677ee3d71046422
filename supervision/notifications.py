"""The daily supervision run (``manage.py supervision_daily``, from cron once a day).

For one district and one day it:

1. records every plan row and rectification that is overdue and has no OverdueRecord for its current
   deadline yet (one record per object and deadline; a deadline that is moved and passes again is a
   new record): the existing records are read in one query and the new ones inserted with one
   ``bulk_create`` in the same transaction; a concurrent run that inserted the same records first makes
   the insert fail (``ignore_conflicts=False``) and the step is read and tried again;
2. runs the supervision chain's daily step (``supervision.chain.daily``: escalations to the 挂包 leaders,
   referrals to the 纪委), which notifies the people concerned itself;
3. creates the notifications (``bazhou.core.notify``) of every unnotified record whose object is still overdue on
   the same deadline: one to the person responsible (the row's name, phone and e-mail, and the account of the
   district whose phone is theirs: in-app, SMS, e-mail), one in-app to each user of the row's department, and one
   in-app to the area staff (the village's cadres, the township's staff). A record is marked notified
   (``notified_to``/``notified_at``) when its responsible person was given a notification; a row without any
   phone, e-mail or account stays unnotified and is told by a later run once it has one, while still overdue;
4. sends the district's supervisors and district admins one digest mail for the day (as before: the DailyDigest
   row, unique per district and day, is written in the same transaction as the mail is sent), and puts the digest
   in their in-app inbox; each active 挂包 leader gets the digest of their charge (in-app and e-mail);
5. delivers the day's new notifications through the configured channels (``bazhou.core.notify.delivery``); a
   delivery that fails is retried later by ``manage.py deliver_notifications`` and never stops the run.

Run twice on a day, the second run finds every record, notification, delivery and the digest, and creates and
sends nothing. Notification creation takes a fixed number of queries whatever the number of rows (bulk).
"""

from __future__ import annotations

import datetime
import logging
import smtplib
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import IntegrityError, transaction
from django.db.models import Count, F, Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from bazhou.core import access
from bazhou.core.models import Notification, User
from bazhou.core.notify import Message, Person, delivery, mask_phone, normalise_phone, notify_people
from supervision import chain
from supervision.bulletin_data import cn_date, household_label, rectifications_in, target_text, tasks_in
from supervision.models import FINDING_AREA_PATHS, DailyDigest, OverdueRecord
from tasks.models import Task, days_overdue

logger = logging.getLogger(__name__)

TOP_TOWNSHIPS = 5
LEADER_ROWS = 20
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
        NO_RECIPIENTS: "督查人员和区级管理员均无邮箱，未发邮件（已放进其站内消息）",
        FAILED: "发送失败，下次运行时重发",
    }


@dataclass
class DailyResult:
    """What one district's run did, for the command's summary line."""

    district: object
    day: datetime.date
    new_tasks: int = 0
    new_rectifications: int = 0
    escalations: int = 0
    cases: int = 0
    messages: int = 0
    sms: int = 0
    mails_sent: int = 0
    robots: int = 0
    failed: int = 0
    digest: str = ""

    def summary(self) -> str:
        return (
            f"{self.district.name}（{self.district.code}）{self.day.isoformat()}："
            f"新增逾期任务 {self.new_tasks} 项，新增逾期整改 {self.new_rectifications} 项，"
            f"提请挂包领导协调 {self.escalations} 项，移送纪委 {self.cases} 件；"
            f"消息 {self.messages} 条，短信 {self.sms} 条，邮件 {self.mails_sent} 封，群机器人 {self.robots} 条，"
            f"失败 {self.failed} 条；督查摘要：{Digest.LABELS[self.digest]}。"
        )


def run_daily(*, district, today: datetime.date) -> DailyResult:
    """The whole daily run for one district: record, the chain, notify, the digests, deliver."""
    result = DailyResult(district, today)
    new = record_overdue(district=district, today=today)
    result.new_tasks = sum(1 for record in new if record.task_id)
    result.new_rectifications = len(new) - result.new_tasks
    before = Notification.objects.filter(day=today, district=district).count()

    steps = chain.daily(district=district, today=today)
    result.escalations, result.cases = steps.escalations, steps.cases
    notify_responsible(district=district, today=today)
    summary = digest_summary(district=district, today=today)
    result.digest = send_digest(district=district, today=today, summary=summary)
    notify_digests(district=district, today=today, summary=summary)
    result.messages = Notification.objects.filter(day=today, district=district).count() - before

    sent = delivery.deliver(day=today, district=district)
    result.sms = sent.sent[delivery.channels.SMS]
    result.robots = sent.sent[delivery.channels.WECOM] + sent.sent[delivery.channels.DINGTALK]
    result.mails_sent = sent.sent[delivery.channels.EMAIL] + (result.digest == Digest.SENT)
    result.failed = sent.failed + (result.digest == Digest.FAILED)
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
# 2. Notifications to the people responsible, the departments and the area staff
# ---------------------------------------------------------------------------------------------


@dataclass
class Pending:
    """One unnotified record whose object is still overdue, as its notifications need it."""

    record: OverdueRecord
    message: Message
    person: Person
    department_id: int | None
    village_id: int | None
    township_code: str


def notify_responsible(*, district, today: datetime.date) -> int:
    """Notify the people of every unnotified record of ``district`` still overdue on ``today``; returns how many
    notifications were created. Seven queries (and one more INSERT/UPDATE per 500 rows) whatever the size."""
    accounts = _accounts_by_phone(district)
    pending = list(_pending(district, today, accounts))
    if not pending:
        return 0
    staff = _staff_of(pending)
    pairs = [(p.person, p.message) for p in pending if p.person.key]
    for p in pending:
        for user in staff.get(("department", p.department_id), []) + staff.get(("village", p.village_id), []):
            pairs.append((Person(name=str(user), user_id=user.pk), p.message))
        for user in staff.get(("township", p.township_code), []):
            pairs.append((Person(name=str(user), user_id=user.pk), p.message))
    created = notify_people(pairs, day=today, district=district)

    now = timezone.now()
    notified = []
    for p in pending:
        if p.person.key:
            p.record.notified_to = (p.person.email or mask_phone(p.person.phone) or p.person.name)[:254]
            p.record.notified_at = now
            notified.append(p.record)
    OverdueRecord.objects.bulk_update(notified, ["notified_to", "notified_at"], batch_size=500)
    return created


def _accounts_by_phone(district) -> dict[str, tuple[int, str]]:
    """The active users of ``district`` (its own, its townships', its villages') by normalised phone: (id, e-mail),
    the first by id when two share a number. One query."""
    users = (
        User.objects.filter(is_active=True)
        .filter(Q(district=district) | Q(township__district=district) | Q(village__township__district=district))
        .exclude(phone="")
        .order_by("pk")
        .values_list("pk", "phone", "email")
    )
    accounts: dict[str, tuple[int, str]] = {}
    for pk, phone, email in users:
        accounts.setdefault(normalise_phone(phone), (pk, email))
    return accounts


def _person(name: str, phone: str, email: str, accounts) -> Person:
    account = accounts.get(normalise_phone(phone)) if normalise_phone(phone) else None
    user_id, user_email = account if account else (None, "")
    return Person(name=name, phone=phone, email=(email or user_email).strip(), user_id=user_id)


def _staff_of(pending: list[Pending]) -> dict[tuple, list]:
    """The in-app recipients besides the responsible person: the department's users, the village's cadres, the
    township's staff, by (kind, key). One query."""
    departments = {p.department_id for p in pending if p.department_id}
    villages = {p.village_id for p in pending if p.village_id}
    townships = {p.township_code for p in pending if p.township_code}
    users = User.objects.filter(access.keepers_of_rows(departments=departments, villages=villages, townships=townships))
    staff: dict[tuple, list] = {}
    for user in users.order_by("pk").only("pk", "name", "username", "role", "department", "village", "township"):
        key = access.keeper_key(user)
        staff.setdefault(key, []).append(user)
    return staff


def _pending(district, today: datetime.date, accounts):
    """A :class:`Pending` for every unnotified record whose object is still overdue on the same deadline: the ones
    just recorded, and those whose person could not be reached before."""
    task_records = (
        OverdueRecord.objects.filter(
            notified_at__isnull=True,
            task__in=tasks_in(district).overdue(today).values("pk"),
            task__deadline=F("deadline"),
        )
        .select_related("task__plan__village__township", "task__household")
        .order_by("task__plan__village__township", "task__deadline", "task_id")
    )
    for record in task_records:
        task = record.task
        village = task.plan.village
        what = f"{village.name} {task.item}" + (f"（户编号 {task.household.number}）" if task.household_id else "")
        days = days_overdue(task.deadline, today)
        message = Message(
            reason=Notification.Reason.TASK_OVERDUE,
            target=("tasks.task", task.pk),
            title=f"{village.township.name} {what}",
            body=(
                f"完成时限：{cn_date(task.deadline)}（已逾期{days}天）；"
                f"当前：{task.get_status_display()} {task.progress}%"
            ),
            url=reverse("tasks:task_detail", args=[task.pk]),
        )
        person = _person(task.responsible_person, task.responsible_phone, task.responsible_email, accounts)
        yield Pending(record, message, person, task.department_id, village.pk, village.township_id)

    rectification_records = (
        OverdueRecord.objects.filter(
            notified_at__isnull=True,
            rectification__in=rectifications_in(district).overdue(today).values("pk"),
            rectification__deadline=F("deadline"),
        )
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
        message = Message(
            reason=Notification.Reason.RECTIFICATION_OVERDUE,
            target=("supervision.rectification", rectification.pk),
            title=f"{township.name} {what}：{rectification.requirement}",
            body=(
                f"整改时限：{cn_date(rectification.deadline)}"
                f"（已逾期{days_overdue(rectification.deadline, today)}天）；"
                f"当前：{rectification.get_status_display()}"
            ),
            url=reverse("supervision:finding", args=[finding.pk]),
        )
        person = _person(
            rectification.responsible_person,
            rectification.responsible_phone,
            rectification.responsible_email,
            accounts,
        )
        department = finding.task.department_id if finding.task_id else None
        yield Pending(record, message, person, department, village.pk if village else None, township.pk)


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
# 3. The digests: the supervisors' (mail and in-app), each 挂包 leader's (their charge; in-app and mail)
# ---------------------------------------------------------------------------------------------


def _digest_context(district, today: datetime.date, summary: dict, **extra) -> dict:
    context = {
        "district": district,
        "summary": summary,
        "day_text": cn_date(today),
        "days": settings.BAZHOU_DUE_SOON_DAYS,
    }
    context["site_url"] = getattr(settings, "BAZHOU_SITE_URL", "")
    context.update(extra)
    return context


def send_digest(*, district, today: datetime.date, summary: dict | None = None, connection=None) -> str:
    """Send the day's digest to the district's supervisors and district admins, once per district and day."""
    if DailyDigest.objects.filter(district=district, day=today).exists():
        return Digest.ALREADY_SENT
    recipients = digest_recipients(district)
    if not recipients:
        return Digest.NO_RECIPIENTS
    if summary is None:
        summary = digest_summary(district=district, today=today)
    context = _digest_context(district, today, summary)
    message = EmailMessage(
        subject=_subject("email/daily_digest_subject.txt", context),
        body=render_to_string("email/daily_digest.txt", context),
        to=recipients,
        connection=connection or get_connection(),
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


def digest_target(district) -> tuple[str, int]:
    """What a digest notification is about: the district (its code is its number)."""
    return ("villages.district", int(district.code))


def notify_digests(*, district, today: datetime.date, summary: dict) -> int:
    """The digest in the in-app inbox of the district's supervisors and admins (their mail is :func:`send_digest`'s),
    and for each active 挂包 leader the digest of their charge (in-app and, with an address, by mail). Returns how
    many notifications were created (none on a second run the same day)."""
    context = _digest_context(district, today, summary)
    queue = reverse("supervision:queue")
    message = Message(
        reason=Notification.Reason.DIGEST,
        target=digest_target(district),
        title=_subject("email/daily_digest_subject.txt", context),
        body=render_to_string("email/daily_digest.txt", context),
        url=queue,
    )
    pairs = [
        (Person(name=str(u), user_id=u.pk), message)
        for u in User.objects.filter(access.supervisors_of(district)).order_by("pk")
    ]
    leaders = (
        User.objects.filter(access.charge_leaders_in(district))
        .prefetch_related("charge_townships", "charge_villages")
        .order_by("pk")
    )
    for leader in leaders:
        charge = access.charge_of(leader)  # from the prefetched charges, no query
        if not (charge[0] or charge[1]):
            continue
        places = [t.name for t in leader.charge_townships.all()] + [v.name for v in leader.charge_villages.all()]
        charged = digest_summary(district=district, today=today, charge=charge)
        rows = charge_overdue_rows(district=district, today=today, charge=charge)
        leader_context = _digest_context(district, today, charged, charge="、".join(places), rows=rows)
        pairs.append(
            (
                Person(name=str(leader), email=leader.email, user_id=leader.pk),
                Message(
                    reason=Notification.Reason.DIGEST,
                    target=digest_target(district),
                    title=_subject("email/daily_digest_subject.txt", leader_context),
                    body=render_to_string("email/daily_digest.txt", leader_context),
                    url=queue,
                ),
            )
        )
    return notify_people(pairs, day=today, district=district)


def _charge_tasks_q(charge) -> Q:
    return access.charge_q(Task.objects.none().paths, charge)


def _charge_rectifications_q(charge) -> Q:
    return access.charge_q(FINDING_AREA_PATHS.prefixed("finding"), charge)


def charge_overdue_rows(*, district, today: datetime.date, charge) -> list[str]:
    """The plan rows of a charge that became overdue on ``today`` (the first LEADER_ROWS), as the digest lists them."""
    rows = (
        tasks_in(district)
        .filter(_charge_tasks_q(charge))
        .filter(overdue_records__recorded_on=today)
        .select_related("plan__village__township")
        .order_by("plan__village__township", "plan__village", "deadline", "pk")[:LEADER_ROWS]
    )
    return [
        f"{t.plan.village.township.name} {t.plan.village.name} {t.item}（{t.responsible_person or '未填责任人'}，"
        f"时限{cn_date(t.deadline)}）"
        for t in rows
    ]


def digest_summary(*, district, today: datetime.date, charge=None) -> dict:
    """The figures of the digest (kept in DailyDigest.summary): five queries whatever the district's size. With
    ``charge`` (a 挂包 leader's townships and villages, ``access.charge_of``) only the rows inside it."""
    tasks = tasks_in(district)
    rectifications = rectifications_in(district)
    if charge is not None:
        tasks = tasks.filter(_charge_tasks_q(charge))
        rectifications = rectifications.filter(_charge_rectifications_q(charge))
    overdue = tasks.overdue(today)
    new_today = OverdueRecord.objects.filter(recorded_on=today).aggregate(
        tasks=Count("pk", filter=Q(task__in=tasks.values("pk"))),
        rectifications=Count("pk", filter=Q(rectification__in=rectifications.values("pk"))),
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
        "overdue_rectifications": rectifications.overdue(today).count(),
        "new_overdue_rectifications": new_today["rectifications"],
        "due_soon_tasks": tasks.due_within(today, settings.BAZHOU_DUE_SOON_DAYS).count(),
        "due_soon_days": settings.BAZHOU_DUE_SOON_DAYS,
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
