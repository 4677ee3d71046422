"""Delivering notifications: the delivery log (``Delivery``), grouping, sending, retries with backoff.

:func:`plan` turns the notifications of a day that a configured channel has not carried yet into ``Delivery`` rows:

- **e-mail**: one mail per address and run listing all of the person's new notifications;
- **SMS**: one short message per phone number and run (count, the first items, the site's link); digests go by
  e-mail and in-app only;
- **企业微信 / 钉钉 group robots**: one message per district and run listing the items (each object once), with
  the responsible people's mobile numbers mentioned (@).

A notification is carried by a channel once it belongs to a delivery of that channel, whatever that delivery's
fate: the delivery, not the notification, is retried. Planning reads each channel's candidates with one query and
writes the deliveries and their links with one INSERT each (per 500 rows), whatever the number of notifications.

:func:`send` sends the deliveries that are due: each is first claimed (a conditional UPDATE, so two runs never
send the same one), then sent; a failure adds an attempt, records the error (phone numbers masked) and schedules
the next try ``BAZHOU_NOTIFY_BACKOFF_SECONDS × 2^(attempts-1)`` later; after ``BAZHOU_NOTIFY_MAX_ATTEMPTS`` failed
attempts the delivery is given up (``failed``). One failing delivery never stops the others: every error is
caught per delivery and logged with the phone number masked.
"""

from __future__ import annotations

import datetime
import logging
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from django.conf import settings
from django.core.mail import get_connection
from django.db import transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone

from bazhou.core.models import Delivery, Notification
from bazhou.core.notify import channels, mask_phone, normalise_phone

logger = logging.getLogger("bazhou.notify")

Reason = Notification.Reason
OVERDUE_REASONS = (Reason.TASK_OVERDUE, Reason.RECTIFICATION_OVERDUE)
# The order of the sections of a mail and of the items of a message.
REASON_ORDER = [
    Reason.TASK_OVERDUE,
    Reason.RECTIFICATION_OVERDUE,
    Reason.ESCALATION,
    Reason.ACCOUNTABILITY,
    Reason.FINDING,
    Reason.RECHECK,
    Reason.TASK_DUE_SOON,
    Reason.LEAD,
    Reason.OPINION,
    Reason.CHANGE_REQUEST,
    Reason.DIGEST,
]
SECTION_TITLES = {
    Reason.TASK_OVERDUE: "逾期未完成的施工图任务",
    Reason.RECTIFICATION_OVERDUE: "超过整改时限的问题",
}
SMS_ITEMS = 2
SMS_ITEM_CHARS = 20
ROBOT_ITEMS = 20
ROBOT_MENTIONS = 20
BATCH = 500
CHINESE_NUMBERS = "一二三四五六七八九十"

FIELDS = (
    "pk",
    "recipient_key",
    "name",
    "phone",
    "email",
    "reason",
    "target_type",
    "target_id",
    "title",
    "body",
    "url",
    "district_id",
    "day",
)
LABELS = dict(Reason.choices)


def label(reason: str) -> str:
    return str(LABELS.get(reason, reason))


def cn_date(day: datetime.date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def _order(reason: str) -> int:
    return REASON_ORDER.index(reason) if reason in REASON_ORDER else len(REASON_ORDER)


def site_url() -> str:
    return getattr(settings, "BAZHOU_SITE_URL", "")


# ---------------------------------------------------------------------------------------------
# Planning: notifications → deliveries
# ---------------------------------------------------------------------------------------------


def plan(*, day: datetime.date, district=None) -> list[int]:
    """Create the deliveries of the configured channels for the notifications of ``day`` (of ``district``, or all)
    that the channel has not carried yet. Returns the new deliveries' ids. Safe to run again: a second call
    finds every notification carried and creates nothing."""
    enabled = channels.enabled()
    base = Notification.objects.filter(day=day)
    if district is not None:
        base = base.filter(district=district)
    planned: list[tuple[Delivery, list[int]]] = []
    with transaction.atomic():
        for channel in enabled:
            rows = _candidates(base, channel, day)
            if channel == channels.EMAIL:
                planned += _personal(rows, channel, day, key=lambda r: r["email"].strip().lower())
            elif channel == channels.SMS:
                planned += _personal(rows, channel, day, key=lambda r: normalise_phone(r["phone"]))
            else:
                planned += _robots(rows, channel, day)
        if not planned:
            return []
        deliveries = Delivery.objects.bulk_create([d for d, _ in planned], batch_size=BATCH)
        Link = Delivery.notifications.through
        links = [
            Link(delivery_id=delivery.pk, notification_id=pk)
            for delivery, (_, pks) in zip(deliveries, planned, strict=True)
            for pk in pks
        ]
        Link.objects.bulk_create(links, batch_size=BATCH * 2)
    return [d.pk for d in deliveries]


def _candidates(base, channel: str, day: datetime.date) -> list[dict]:
    # The notifications this channel carried already on ``day``: a plain NOT IN over the day's links of the channel
    # (a hashed subplan), not a correlated NOT EXISTS, whose plan on freshly filled tables without statistics can
    # turn quadratic on PostgreSQL.
    Link = Delivery.notifications.through
    carried = Link.objects.filter(delivery__channel=channel, delivery__day=day).values("notification_id")
    rows = base.exclude(pk__in=carried)
    if channel == channels.EMAIL:
        rows = rows.exclude(email="")
    elif channel == channels.SMS:
        rows = rows.exclude(phone="").exclude(reason=Reason.DIGEST)
    else:
        rows = rows.filter(district__isnull=False).exclude(reason=Reason.DIGEST)
    # Another run planning at the same moment skips the rows this one holds (PostgreSQL; SQLite runs one writer).
    rows = rows.select_for_update(skip_locked=True, of=("self",))
    return list(rows.order_by("created_at", "pk").values(*FIELDS, "district__name"))


def _personal(rows: list[dict], channel: str, day, *, key) -> list[tuple[Delivery, list[int]]]:
    groups: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        address = key(row)
        if address:
            groups[address].append(row)
    planned = []
    for address, items in groups.items():
        items.sort(key=lambda r: (_order(r["reason"]), r["pk"]))
        if channel == channels.EMAIL:
            subject, body = email_text(items, day)
            delivery = Delivery(
                channel=channel,
                recipient_key=f"email:{address}"[:120],
                address=items[0]["email"].strip(),
                day=day,
                subject=subject[:200],
                body=body,
            )
        else:
            delivery = Delivery(
                channel=channel, recipient_key=f"phone:{address}", address=address, day=day, body=sms_text(items)
            )
        planned.append((delivery, [r["pk"] for r in items]))
    return planned


def _robots(rows: list[dict], channel: str, day) -> list[tuple[Delivery, list[int]]]:
    by_district: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        by_district[row["district_id"]].append(row)
    planned = []
    for district_id, items in by_district.items():
        content, mentions = robot_text(items, day)
        delivery = Delivery(
            channel=channel,
            recipient_key=f"robot:{district_id}",
            address="",
            day=day,
            subject=f"{items[0]['district__name']}督查提醒",
            body=content,
            mentions=mentions,
        )
        planned.append((delivery, [r["pk"] for r in items]))
    return planned


# ---------------------------------------------------------------------------------------------
# The texts
# ---------------------------------------------------------------------------------------------


def email_text(items: list[dict], day: datetime.date) -> tuple[str, str]:
    """The subject and text body of one person's mail (``items`` sorted by reason)."""
    tasks = sum(1 for r in items if r["reason"] == Reason.TASK_OVERDUE)
    rectifications = sum(1 for r in items if r["reason"] == Reason.RECTIFICATION_OVERDUE)
    if tasks + rectifications == len(items):
        parts = [f"{tasks}项施工图任务"] * bool(tasks) + [f"{rectifications}项整改"] * bool(rectifications)
        subject = f"【逾期提醒】您负责的{'、'.join(parts)}已超过时限"
    elif len(items) == 1:
        subject = items[0]["title"]
    else:
        subject = f"【督查提醒】您有{len(items)}条新消息"
    sections = []
    for reason in sorted({r["reason"] for r in items}, key=_order):
        rows = [r for r in items if r["reason"] == reason]
        title = SECTION_TITLES.get(reason) or label(reason)
        sections.append(
            {
                "number": CHINESE_NUMBERS[len(sections)] if len(sections) < len(CHINESE_NUMBERS) else len(sections) + 1,
                "title": title,
                "rows": [
                    {
                        "title": r["title"],
                        "body_lines": [line for line in r["body"].splitlines() if line.strip()],
                        "link": f"{site_url()}{r['url']}" if site_url() and r["url"] else "",
                    }
                    for r in rows
                ],
            }
        )
    names = []
    for r in items:
        if r["name"] and r["name"] not in names and r["reason"] != Reason.DIGEST:
            names.append(r["name"])
    context = {
        "names": "、".join(names) or items[0]["name"],
        "sections": sections,
        "overdue": tasks + rectifications > 0,
        "day_text": cn_date(day),
        "site_url": site_url(),
    }
    return subject, render_to_string("email/notifications.txt", context)


def _short(text: str, chars: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= chars else text[: chars - 1] + "…"


def sms_items(items: list[dict]) -> str:
    first = "；".join(_short(r["title"], SMS_ITEM_CHARS) for r in items[:SMS_ITEMS])
    return first + ("等" if len(items) > SMS_ITEMS else "")


def sms_text(items: list[dict]) -> str:
    """A short SMS: whom, how many, the first items, where to read the rest."""
    name = items[0]["name"] or "您"
    counts = Counter(label(r["reason"]) for r in items)
    kinds = "、".join(f"{label}{n}项" for label, n in counts.items())
    link = f"{site_url()}/inbox/" if site_url() else "施工图管理系统“我的消息”"
    return f"{name}您好：您有{len(items)}条新消息（{kinds}）：{sms_items(items)}。详见{link}"


def sms_template_param(delivery: Delivery, items: list[dict]) -> dict:
    """The variables of the registered 阿里云 template (docs/notifications.md): name, count, items."""
    name = items[0]["name"] if items else ""
    return {"name": _short(name or "您", 10), "count": str(len(items)), "items": _short(sms_items(items), 35)}


def robot_text(items: list[dict], day: datetime.date) -> tuple[str, list[str]]:
    """One robot message for a district: the items (each object and reason once, in order) and the mobiles of the
    people responsible for the items listed."""
    objects: dict[tuple, dict] = {}
    for row in sorted(items, key=lambda r: (_order(r["reason"]), r["pk"])):
        entry = objects.setdefault(
            (row["reason"], row["target_type"], row["target_id"]),
            {"reason": row["reason"], "title": row["title"], "names": [], "phones": []},
        )
        if row["phone"]:
            phone = normalise_phone(row["phone"])
            if phone not in entry["phones"]:
                entry["phones"].append(phone)
            if row["name"] and row["name"] not in entry["names"]:
                entry["names"].append(row["name"])
    # As many items as fit in the message (at most ROBOT_ITEMS), then the count and the link; @ only those listed.
    head = f"【{items[0]['district__name']}督查提醒】{cn_date(day)}，新增需办理事项{len(objects)}项："
    tail = [f"……等共{len(objects)}项。"]
    tail.append(f"请登录系统查看：{site_url()}/inbox/" if site_url() else "请登录施工图管理系统查看“我的消息”。")
    budget = channels.ROBOT_MAX_BYTES - sum(len(t.encode()) + 1 for t in tail) - len(head.encode())
    lines, mentions = [head], []
    for n, entry in enumerate(list(objects.values())[:ROBOT_ITEMS], start=1):
        who = f"（{'、'.join(entry['names'])}）" if entry["names"] else ""
        line = channels.fit_bytes(f"{n}. [{label(entry['reason'])}] {entry['title']}{who}", 300)
        phones = [p for p in entry["phones"] if p not in mentions][: max(ROBOT_MENTIONS - len(mentions), 0)]
        cost = len(line.encode()) + 1 + 13 * len(phones)  # 钉钉 adds "@<mobile> " to the text for each
        if cost > budget:
            break
        budget -= cost
        lines.append(line)
        mentions += phones
    if len(lines) - 1 < len(objects):
        lines.append(tail[0])
    lines.append(tail[1])
    content = "\n".join(lines)
    return content, mentions


# ---------------------------------------------------------------------------------------------
# Sending
# ---------------------------------------------------------------------------------------------


@dataclass
class SendResult:
    sent: Counter = field(default_factory=Counter)  # by channel
    failed: int = 0  # attempts that failed in this run
    given_up: int = 0  # deliveries that failed for the last time in this run

    def __iadd__(self, other: SendResult) -> SendResult:
        self.sent += other.sent
        self.failed += other.failed
        self.given_up += other.given_up
        return self

    def summary(self) -> str:
        return (
            f"短信 {self.sent[channels.SMS]} 条，邮件 {self.sent[channels.EMAIL]} 封，"
            f"企业微信 {self.sent[channels.WECOM]} 条，钉钉 {self.sent[channels.DINGTALK]} 条，"
            f"失败 {self.failed} 条（其中放弃 {self.given_up} 条）"
        )


def due_q(now: datetime.datetime) -> Q:
    return Q(status__in=[Delivery.Status.PENDING, Delivery.Status.RETRYING]) & (
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    )


def backoff(attempts: int) -> datetime.timedelta:
    """How long to wait after the ``attempts``-th failed attempt: BACKOFF × 2^(attempts-1)."""
    return datetime.timedelta(seconds=settings.BAZHOU_NOTIFY_BACKOFF_SECONDS * 2 ** (attempts - 1))


def send(*, ids: list[int] | None = None, now: datetime.datetime | None = None) -> SendResult:
    """Send the deliveries that are due at ``now`` (of ``ids`` only, when given). Never raises for a failed one."""
    now = now or timezone.now()
    result = SendResult()
    rows = Delivery.objects.filter(due_q(now))
    if ids is not None:
        if not ids:
            return result
        rows = rows.filter(pk__in=ids)
    deliveries = list(rows.order_by("pk"))
    if not deliveries:
        return result
    items = _items_of([d.pk for d in deliveries if d.channel == channels.SMS])
    connection = get_connection()
    try:
        for delivery in deliveries:
            _attempt(delivery, now, result, connection, items.get(delivery.pk, []))
    finally:
        try:
            connection.close()
        except Exception:  # closing a broken SMTP connection must not hide the run's result
            logger.exception("关闭邮件连接失败")
    return result


def _items_of(sms_ids: list[int]) -> dict[int, list[dict]]:
    """The notifications of each SMS delivery (for the 阿里云 template's variables), in one query."""
    if not sms_ids:
        return {}
    Link = Delivery.notifications.through
    out: dict[int, list[dict]] = defaultdict(list)
    for delivery_id, name, title, reason in (
        Link.objects.filter(delivery_id__in=sms_ids)
        .order_by("delivery_id", "notification_id")
        .values_list("delivery_id", "notification__name", "notification__title", "notification__reason")
    ):
        out[delivery_id].append({"name": name, "title": title, "reason": reason})
    for rows in out.values():
        rows.sort(key=lambda r: _order(r["reason"]))
    return out


def _claim(delivery: Delivery, now: datetime.datetime) -> bool:
    """Take the delivery for this run: another run that read it too finds it changed and leaves it."""
    lease = now + datetime.timedelta(seconds=2 * float(settings.BAZHOU_NOTIFY_TIMEOUT) + 60)
    return bool(
        Delivery.objects.filter(pk=delivery.pk, status=delivery.status, attempts=delivery.attempts)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .update(next_attempt_at=lease)
    )


def describe(delivery: Delivery) -> str:
    """Who a delivery goes to, as logs say it: phone numbers masked."""
    if delivery.channel == channels.SMS:
        return mask_phone(delivery.address)
    if delivery.channel == channels.EMAIL:
        return delivery.address
    return delivery.recipient_key


def _attempt(delivery: Delivery, now, result: SendResult, connection, items: list[dict]) -> None:
    if not _claim(delivery, now):
        return
    try:
        _send_one(delivery, connection, items)
    except Exception as error:  # noqa: BLE001 (one failed delivery never blocks the others or the run)
        message = str(error) if isinstance(error, channels.SendError) else f"{type(error).__name__}: {error}"
        _failed(delivery, channels.mask_phones(message), now, result)
    else:
        delivery.attempts += 1
        delivery.status = Delivery.Status.SENT
        delivery.sent_at = timezone.now()
        delivery.next_attempt_at = None
        delivery.save(update_fields=["attempts", "status", "sent_at", "next_attempt_at"])
        result.sent[delivery.channel] += 1


def _send_one(delivery: Delivery, connection, items: list[dict]) -> None:
    if delivery.channel == channels.EMAIL:
        channels.send_email(
            address=delivery.address, subject=delivery.subject, body=delivery.body, connection=connection
        )
    elif delivery.channel == channels.SMS:
        if not getattr(settings, "BAZHOU_SMS_URL", ""):
            raise channels.SendError("短信网关未配置（BAZHOU_SMS_URL）")
        channels.send_sms(
            phone=delivery.address, content=delivery.body, template_param=sms_template_param(delivery, items)
        )
    elif delivery.channel == channels.WECOM:
        if not getattr(settings, "BAZHOU_WECOM_WEBHOOK", ""):
            raise channels.SendError("企业微信群机器人未配置（BAZHOU_WECOM_WEBHOOK）")
        channels.send_wecom(content=delivery.body, mobiles=delivery.mentions)
    elif delivery.channel == channels.DINGTALK:
        if not getattr(settings, "BAZHOU_DINGTALK_WEBHOOK", ""):
            raise channels.SendError("钉钉群机器人未配置（BAZHOU_DINGTALK_WEBHOOK）")
        channels.send_dingtalk(content=delivery.body, mobiles=delivery.mentions)
    else:
        raise channels.SendError(f"未知渠道 {delivery.channel}")


def _failed(delivery: Delivery, error: str, now, result: SendResult) -> None:
    delivery.attempts += 1
    delivery.last_error = error[:1000]
    result.failed += 1
    if delivery.attempts >= settings.BAZHOU_NOTIFY_MAX_ATTEMPTS:
        delivery.status = Delivery.Status.FAILED
        delivery.next_attempt_at = None
        result.given_up += 1
        logger.error(
            "%s发送失败，已尝试 %d 次，放弃：%s（%s）",
            delivery.get_channel_display(),
            delivery.attempts,
            describe(delivery),
            delivery.last_error,
        )
    else:
        delivery.status = Delivery.Status.RETRYING
        delivery.next_attempt_at = now + backoff(delivery.attempts)
        logger.warning(
            "%s发送失败（第 %d 次），%s 重试：%s（%s）",
            delivery.get_channel_display(),
            delivery.attempts,
            timezone.localtime(delivery.next_attempt_at).strftime("%Y-%m-%d %H:%M:%S"),
            describe(delivery),
            delivery.last_error,
        )
    delivery.save(update_fields=["attempts", "last_error", "status", "next_attempt_at"])


# ---------------------------------------------------------------------------------------------
# Both
# ---------------------------------------------------------------------------------------------


def deliver(*, day: datetime.date, district=None, now: datetime.datetime | None = None) -> SendResult:
    """Plan the day's deliveries (of ``district``) and send the new ones. The daily run calls this; the retries
    of earlier deliveries are :func:`deliver_due`'s (``manage.py deliver_notifications``)."""
    return send(ids=plan(day=day, district=district), now=now)


def deliver_due(*, day: datetime.date, now: datetime.datetime | None = None) -> SendResult:
    """Plan the deliveries of ``day``'s notifications not carried yet (those created since the last run: an
    escalation, a case) and send every delivery that is due, retries included."""
    plan(day=day)
    return send(now=now)
