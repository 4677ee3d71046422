"""Messages that arrive: notification records (the in-app inbox) and their delivery through the configured channels.

Any layer creates notifications through :func:`notify_users` (people with an account) and :func:`notify_people`
(responsible people known by a phone number or an e-mail address, who may or may not have an account). Both
are idempotent per (recipient, object, reason, day): the unique constraint ``notification_once_a_day`` drops the
repeats, so a second run of the same day creates nothing. Delivering them (SMS, e-mail, group robots, the delivery
log, retries) is ``bazhou.core.notify.delivery``.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass

from bazhou.core.models import Notification


def target_of(obj) -> tuple[str, int]:
    """How a notification names ``obj``: its model label ("tasks.task") and primary key."""
    return obj._meta.label_lower, obj.pk


def user_key(user_id: int) -> str:
    return f"user:{user_id}"


def phone_key(phone: str) -> str:
    return f"phone:{normalise_phone(phone)}"


def email_key(email: str) -> str:
    return f"email:{email.strip().lower()}"


def normalise_phone(phone: str) -> str:
    """Digits only, without a leading +86 / 86 country code: "+86 138-0000-1234" → "13800001234"."""
    digits = "".join(ch for ch in (phone or "") if ch in "0123456789")
    if len(digits) == 13 and digits.startswith("86"):
        digits = digits[2:]
    return digits


def mask_phone(phone: str) -> str:
    """A phone number as logs and pages show it: "138****1234"."""
    digits = normalise_phone(phone)
    if len(digits) < 7:
        return "*" * len(digits)
    return f"{digits[:3]}{'*' * (len(digits) - 7)}{digits[-4:]}"


@dataclass(frozen=True)
class Person:
    """A responsible person as the plan names them: a name, a phone number and/or an e-mail address, and the
    account (a user id) whose phone matches, if any."""

    name: str = ""
    phone: str = ""
    email: str = ""
    user_id: int | None = None

    @property
    def key(self) -> str | None:
        if self.user_id:
            return user_key(self.user_id)
        if normalise_phone(self.phone):
            return phone_key(self.phone)
        if self.email.strip():
            return email_key(self.email)
        return None


@dataclass(frozen=True)
class Message:
    """What to tell about one object: the reason, the object, a title, a body and the link one tap opens."""

    reason: str
    target: tuple[str, int]
    title: str
    body: str = ""
    url: str = ""


def notify_people(pairs: Iterable[tuple[Person, Message]], *, day: datetime.date, district=None) -> int:
    """Create one notification per (person, message) for ``day``, skipping people with no key and the
    (recipient, object, reason, day) already notified. Returns how many were created. One INSERT per 500 rows."""
    rows = []
    seen = set()
    for person, message in pairs:
        key = person.key
        if key is None:
            continue
        identity = (key, message.target, message.reason)
        if identity in seen:
            continue
        seen.add(identity)
        rows.append(
            Notification(
                recipient_key=key,
                user_id=person.user_id,
                name=person.name[:50],
                phone=normalise_phone(person.phone)[:20],
                email=person.email.strip(),
                district=district,
                reason=message.reason,
                target_type=message.target[0],
                target_id=message.target[1],
                day=day,
                title=message.title[:200],
                body=message.body,
                url=message.url[:300],
            )
        )
    if not rows:
        return 0
    before = Notification.objects.filter(day=day).count()
    Notification.objects.bulk_create(rows, ignore_conflicts=True, batch_size=500)
    return Notification.objects.filter(day=day).count() - before


def notify_users(users: Iterable, message: Message, *, day: datetime.date, district=None) -> int:
    """Tell each of ``users`` (accounts) ``message`` in their inbox (and through their phone/e-mail channels)."""
    pairs = [
        (Person(name=str(u), phone=u.phone or "", email=u.email or "", user_id=u.pk), message)
        for u in users
        if u.is_active
    ]
    return notify_people(pairs, day=day, district=district)


def inbox_of(user):
    """The notifications in ``user``'s in-app inbox (none for anyone not signed in)."""
    if user is None or not user.is_authenticated or not user.is_active:
        return Notification.objects.none()
    return Notification.objects.filter(user=user)


def unread_count(user) -> int:
    """How many of ``user``'s notifications are unread: the count in the navigation (one query)."""
    if user is None or not user.is_authenticated or not user.is_active:
        return 0
    return Notification.objects.filter(user=user, read_at__isnull=True).count()


def notices_about(obj):
    """Who was told about ``obj`` (a plan row, a rectification), when, through which channels, and when they read
    it: the notifications naming it, oldest first, with their deliveries (two queries). The evidence an
    accountability decision reads: the person was notified on day N and opened it at T (or never)."""
    label, pk = target_of(obj)
    return (
        Notification.objects.filter(target_type=label, target_id=pk)
        .select_related("user")
        .prefetch_related("deliveries")
        .order_by("day", "pk")
    )
