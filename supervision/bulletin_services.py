"""通报 (bulletins), what changes them: generate a draft (第 N 期), edit it, publish it.

A generation reads the district as of the period's end (``supervision.bulletin_data.build_snapshot``) and
keeps it in the bulletin; editing changes only the wording; publishing makes the bulletin read-only. Each
write locks the draft and compares its fingerprint with the one the caller loaded, so two people editing the
same draft never overwrite each other silently.
"""

from __future__ import annotations

import datetime
import hashlib
import json

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.shortcuts import get_object_or_404
from django.utils import timezone

from bazhou.core import access, clock
from bazhou.core.services import sign
from bazhou.core.text import strip_illegal
from supervision.bulletin_data import (
    build_snapshot,
    cn_date,
    districts_for_bulletins,
    document_number,
    draft_body,
    draft_title,
    issuer_name,
)
from supervision.models import Bulletin, Organiser
from villages.models import District

PUBLISHED_READ_ONLY = "该通报已发布，不能再修改。"
EMPTY_BODY = "正文为空，不能发布。请先填写正文。"
CHOOSE_DISTRICT = "请选择区县。"
# Two generations that read the same last number both try to take the next one; the unique constraint
# (district, year, number) refuses the second, which reads the number again. A handful of tries is plenty.
NUMBER_ATTEMPTS = 5


class BulletinConflict(Exception):
    """Someone saved the draft after the caller loaded it; nothing was changed."""

    def __init__(self, current: Bulletin):
        self.current = current
        super().__init__(f"通报 {current.pk} 已被他人修改。")


def fingerprint(bulletin: Bulletin) -> str:
    """A short digest of what a person edits, to tell whether a draft changed since it was loaded
    (the model has no version number)."""
    content = [bulletin.title, bulletin.issuer, bulletin.issued_on.isoformat(), bulletin.body, bulletin.state]
    return hashlib.sha256(json.dumps(content, ensure_ascii=False).encode()).hexdigest()[:20]


@transaction.atomic
def bulletin_check(
    *,
    user,
    period_start: datetime.date,
    period_end: datetime.date,
    issuer: str,
    district: District | None,
    today: datetime.date,
) -> District:
    """The district a bulletin of these dates and issuer would be of, if ``user`` may generate it (else 404), or a
    ValidationError naming the field at fault. Cheap (1 query): a page checks before starting the generation job."""
    if district is None and not user.district_id and access.may_write_bulletins(user):
        raise ValidationError({"district": CHOOSE_DISTRICT})
    wanted = district.pk if district is not None else user.district_id
    district = get_object_or_404(districts_for_bulletins(user), pk=wanted)
    errors = {}
    if period_end < period_start:
        errors["period_end"] = "通报期间的止日不能早于起日。"
    if period_start > today:
        errors["period_start"] = f"通报期间不能从今天（{cn_date(today)}）之后开始。"
    if issuer not in Organiser.values:
        errors["issuer"] = "请选择发布单位。"
    if errors:
        raise ValidationError(errors)
    return district


def bulletin_generate(
    *,
    user,
    period_start: datetime.date,
    period_end: datetime.date,
    issuer: str = Organiser.POVERTY_OFFICE,
    district: District | None = None,
    today: datetime.date | None = None,
) -> Bulletin:
    """Generate a draft bulletin, 第 N 期 of the district and year, from the data as of the period's end.

    ``district`` defaults to the user's own (a superuser without one must name it). The year is the issue
    year (today's). Queries: the two reads of :func:`build_snapshot`, then the number and the insert.
    """
    today = today or clock.today()
    district = bulletin_check(
        user=user, period_start=period_start, period_end=period_end, issuer=issuer, district=district, today=today
    )
    as_of = min(period_end, today)
    # Rows saved before the check at input may hold a character XML cannot carry: the snapshot keeps none, so
    # its Word and Excel files (rendered from it at every download, through the stripping writers) stay sound.
    snapshot = without_illegal(build_snapshot(district=district, period_start=period_start, as_of=as_of))
    bulletin = Bulletin(
        district=district,
        year=today.year,
        title=draft_title(period_start, period_end),
        issuer=issuer,
        issued_on=today,
        period_start=period_start,
        period_end=period_end,
        body=draft_body(snapshot, issuer_name=issuer_name(district.name, issuer)),
        snapshot=snapshot,
        state=Bulletin.State.DRAFT,
        created_by=user,
    )
    sign(bulletin, user, "生成通报草稿")
    return _insert_with_next_number(bulletin)


def without_illegal(value):
    """``value`` (a snapshot: dicts, lists, strings, numbers) with every string stripped of illegal characters."""
    if isinstance(value, str):
        return strip_illegal(value)
    if isinstance(value, dict):
        return {without_illegal(key): without_illegal(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [without_illegal(item) for item in value]
    return value


def _insert_with_next_number(bulletin: Bulletin) -> Bulletin:
    """Insert ``bulletin`` as the next number of its district and year.

    The read of the last number and the insert are not atomic across transactions: two generations may
    both read 2 and both try 3. The unique constraint refuses the second insert (on PostgreSQL it waits
    for the first transaction, then fails); its savepoint is rolled back and it reads the number again.
    """
    for attempt in range(1, NUMBER_ATTEMPTS + 1):
        bulletin.number = next_number(bulletin.district, bulletin.year)
        try:
            with transaction.atomic():
                bulletin.save(force_insert=True)
        except IntegrityError:
            if attempt == NUMBER_ATTEMPTS:
                raise
            bulletin.pk = None
        else:
            return bulletin
    raise AssertionError("unreachable")


def next_number(district: District, year: int) -> int:
    """The number the next bulletin of ``district`` in ``year`` takes: 1 for the first."""
    last = Bulletin.objects.filter(district=district, year=year).aggregate(last=Max("number"))["last"]
    return (last or 0) + 1


@transaction.atomic
def bulletin_update_draft(
    *, bulletin_id: int, user, expected: str, title: str, issuer: str, issued_on: datetime.date, body: str
) -> Bulletin:
    """Change a draft's title, issuing office, issue date and body.

    Raises BulletinConflict if it changed since the caller loaded it (``expected`` is its fingerprint),
    ValidationError if it is published or a value is wrong.
    """
    bulletin = _locked_draft(bulletin_id, user)
    if fingerprint(bulletin) != expected:
        raise BulletinConflict(bulletin)
    bulletin.title = (title or "").strip()
    bulletin.issuer = issuer
    bulletin.issued_on = issued_on
    bulletin.body = (body or "").replace("\r\n", "\n").strip()  # a form's text area sends CRLF
    errors = {}
    if issued_on and issued_on.year != bulletin.year:
        errors["issued_on"] = f"本期是{bulletin.year}年第{bulletin.number}期，发布日期须在{bulletin.year}年内。"
    elif issued_on and issued_on < bulletin.period_start:
        errors["issued_on"] = f"发布日期不能早于通报期间起日（{cn_date(bulletin.period_start)}）。"
    try:
        bulletin.full_clean(exclude=["district", "created_by", "published_by"], validate_constraints=False)
    except ValidationError as error:
        errors = {**error.message_dict, **errors}
    if errors:
        raise ValidationError(errors)
    sign(bulletin, user, "修改通报草稿")
    bulletin.save(update_fields=["title", "issuer", "issued_on", "body"])
    return bulletin


@transaction.atomic
def bulletin_publish_draft(*, bulletin_id: int, user, expected: str) -> Bulletin:
    """Publish a draft as it stands, under the next 文号 of its district and year: from now on it is read-only.

    ``expected`` is the fingerprint of the text the person confirmed: if the draft changed since, nothing is
    published (BulletinConflict), so what is published is what they read."""
    bulletin = _locked_draft(bulletin_id, user)
    if fingerprint(bulletin) != expected:
        raise BulletinConflict(bulletin)
    if not bulletin.body.strip():
        raise ValidationError({"body": EMPTY_BODY})
    bulletin.state = Bulletin.State.PUBLISHED
    bulletin.published_by = user
    bulletin.published_at = timezone.now()
    sign(bulletin, user, "发布通报")
    return _save_with_next_document_number(bulletin)


def _save_with_next_document_number(bulletin: Bulletin) -> Bulletin:
    """Save the publication with the next 文号 of the district's year; two publications that read the same last
    number both try the next, the unique constraint refuses the second, which reads the number again."""
    for attempt in range(1, NUMBER_ATTEMPTS + 1):
        bulletin.doc_seq = next_document_seq(bulletin.district, bulletin.year)
        bulletin.doc_number = document_number(bulletin.district.name, bulletin.issuer, bulletin.year, bulletin.doc_seq)
        try:
            with transaction.atomic():
                bulletin.save(update_fields=["state", "published_by", "published_at", "doc_seq", "doc_number"])
        except IntegrityError:
            if attempt == NUMBER_ATTEMPTS:
                raise
        else:
            return bulletin
    raise AssertionError("unreachable")


def next_document_seq(district: District, year: int) -> int:
    """The 文号 the next published bulletin of ``district`` in ``year`` takes: 1 for the first."""
    last = Bulletin.objects.filter(district=district, year=year).aggregate(last=Max("doc_seq"))["last"]
    return (last or 0) + 1


def _locked_draft(bulletin_id: int, user) -> Bulletin:
    """The bulletin, locked for the rest of the transaction, if the user may change it and it is a draft."""
    bulletin = get_object_or_404(
        Bulletin.objects.editable_by(user).select_for_update(of=("self",)).select_related("district"), pk=bulletin_id
    )
    if bulletin.state != Bulletin.State.DRAFT:
        raise ValidationError(PUBLISHED_READ_ONLY)
    return bulletin
