"""The first and the third link of the supervision chain: a village's information officer (村督查信息员) files leads
(线索) and progress observations, which the district supervisors turn into findings, keep on file or dismiss; the
people's congress and CPPCC (人大/政协) record supervision opinions (督导意见) on findings and their rectification.

As in ``supervision.services``: keyword-only arguments and the acting ``user``; the rows come through the access
scope (a row outside it is a 404); Chinese ``ValidationError``s keyed by field before anything is written;
simple-history signs every save. A form's one-time ``token`` makes a second submission of the same form find the
row the first one filed (the unique constraints ``lead_token_once`` / ``opinion_token_once`` are the backstop when
both arrive at once). Each event tells the people it concerns (``bazhou.core.notify``): a new lead the district's
supervisors, its handling the informant, an opinion the area staff of the finding and the supervisors.
"""

from __future__ import annotations

from collections.abc import Mapping

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone

from bazhou.core import access, clock, dates
from bazhou.core.models import Notification, User
from bazhou.core.notify import Message, notify_users, target_of
from bazhou.core.services import add_error, collect_errors, raise_if, sign
from bazhou.core.text import BLANK_MESSAGE, is_blank
from households.models import Household
from supervision import services
from supervision.models import Finding, Lead, Opinion
from tasks.models import Task
from villages.models import District

LEAD_FIELDS = ("kind", "description", "observed_on", "task", "household")
OPINION_FIELDS = ("body", "text", "given_on")
DEFAULT_REQUIREMENT = "限期整改到位，并报送整改结果和佐证材料。"
HANDLINGS = {
    Lead.State.FINDING: "转为问题",
    Lead.State.NOTED: "已阅存档",
    Lead.State.DISMISSED: "不予采纳",
}
DESCRIPTION_REQUIRED = "请填写情况描述。"
NOTE_REQUIRED_TO_DISMISS = "不予采纳须填写处理意见，说明理由。"
HANDLED_ALREADY = "该线索已处理，不能再次处理。"
TASK_NOT_IN_VILLAGE = "该任务不在您的村，请从列表中选择本村的任务。"
HOUSEHOLD_NOT_IN_VILLAGE = "该户不在您的村，请从列表中选择本村的户。"
FUTURE_DATE = "日期不能晚于今天。"
TEXT_REQUIRED = "请填写督导意见。"


# ---------------------------------------------------------------------------------------------
# Leads (线索 / 进度观察)
# ---------------------------------------------------------------------------------------------


def lead_tasks(user):
    """The plan rows a lead of ``user`` may be about: the live rows of their village (none for anyone else)."""
    if not access.may_file_leads(user) or not user.village_id:
        return Task.objects.none()
    return Task.objects.visible_to(user).live().filter(plan__village=user.village_id)


def lead_households(user):
    """The households a lead of ``user`` may be about: those of their village."""
    if not access.may_file_leads(user) or not user.village_id:
        return Household.objects.none()
    return Household.objects.visible_to(user).filter(village=user.village_id)


def lead_file(*, user, data: Mapping, token: str = "") -> tuple[Lead, bool]:
    """File a lead (or a progress observation) for the informant's own village; ``(lead, created)``.

    The same ``token`` from the same person finds the lead already filed (``created`` False) and changes nothing.
    """
    if not access.may_file_leads(user) or not user.village_id:
        raise Http404("只有村督查信息员可以报送线索。")
    unknown = set(data) - set(LEAD_FIELDS)
    if unknown:
        raise ValueError(f"Not fields a person may set on a lead: {sorted(unknown)}")
    token = (token or "")[:64]
    if token:
        existing = Lead.objects.filter(filed_by=user, token=token).first()
        if existing is not None:
            return existing, False

    errors: dict[str, list[str]] = {}
    task, household = data.get("task"), data.get("household")
    if task is not None and not lead_tasks(user).filter(pk=task.pk).exists():
        add_error(errors, "task", TASK_NOT_IN_VILLAGE)
    if household is not None and not lead_households(user).filter(pk=household.pk).exists():
        add_error(errors, "household", HOUSEHOLD_NOT_IN_VILLAGE)
    if task is not None and household is not None and task.household_id and task.household_id != household.pk:
        add_error(errors, "household", "所选的户与所选任务的户不一致。")
    description = (data.get("description") or "").strip()
    if not description:
        add_error(errors, "description", DESCRIPTION_REQUIRED)
    elif is_blank(description):
        add_error(errors, "description", BLANK_MESSAGE)
    observed_on = data.get("observed_on")
    date_error = dates.done_date_error(observed_on, "日期")
    if date_error:
        add_error(errors, "observed_on", date_error)
    lead = Lead(
        village_id=user.village_id,
        task=task if "task" not in errors else None,
        household=household if "household" not in errors else None,
        kind=data.get("kind") or Lead.Kind.LEAD,
        description=description,
        observed_on=observed_on,
        filed_by=user,
        token=token,
    )
    collect_errors(errors, lambda: lead.full_clean(exclude=["token"], validate_unique=False))
    raise_if(errors)

    sign(lead, user, "报送线索" if lead.kind == Lead.Kind.LEAD else "报送进度观察")
    lead, created = _save_once(lead, filed_by=user, token=token)
    if created:
        _tell_supervisors(lead)
    return lead, created


def lead_handle(*, user, lead_id: int, state: str, note: str = "", finding: Mapping | None = None) -> Lead:
    """A supervisor handles a lead: turns it into a finding (``state`` "finding", with ``finding`` the finding's
    type and severity; its target is the lead's plan row, household or village, its description the lead's), keeps it
    on file ("noted") or dismisses it ("dismissed", ``note`` required). A new lead may be handled, and a lead kept on
    file may still be turned into a finding; anything else is refused."""
    if not access.may_handle_leads(user):
        raise Http404("只有督查人员和区级管理员可以处理线索。")
    with transaction.atomic():
        lead = get_object_or_404(
            Lead.objects.visible_to(user).select_for_update(of=("self",)).select_related("task", "household"),
            pk=lead_id,
        )
        note = (note or "").strip()
        errors: dict[str, list[str]] = {}
        if state not in HANDLINGS:
            add_error(errors, "state", "请选择处理方式：转为问题、已阅存档或不予采纳。")
        elif lead.state != Lead.State.NEW and not (lead.state == Lead.State.NOTED and state == Lead.State.FINDING):
            add_error(errors, "__all__", HANDLED_ALREADY)
        if state == Lead.State.DISMISSED and not note:
            add_error(errors, "note", NOTE_REQUIRED_TO_DISMISS)
        raise_if(errors)

        if state == Lead.State.FINDING:
            lead.finding = _finding_from(lead, user, finding or {})
        lead.state = state
        lead.handling_note = note
        lead.handled_by = user
        lead.handled_at = timezone.now()
        lead.full_clean(exclude=["token"], validate_unique=False)
        sign(lead, user, HANDLINGS[state])
        lead.save()
    _tell_informant(lead)
    return lead


def _finding_from(lead: Lead, user, values: Mapping) -> Finding:
    """The finding a lead becomes (``supervision.services.finding_create``: the same rules as the finding form)."""
    # A plan row removed since the lead was filed is no target any more: the finding is about its household or village.
    task = lead.task if lead.task_id and Task.objects.live().filter(pk=lead.task_id).exists() else None
    target = task or lead.household or lead.village
    data = {
        "type": values.get("type") or (Finding.Type.DELAY if task is not None else ""),
        "severity": values.get("severity") or Finding.Severity.MINOR,
        "description": lead.description,
        "found_on": lead.observed_on,
    }
    demand = {"requirement": values.get("requirement") or DEFAULT_REQUIREMENT}
    if task is not None:
        for name in ("responsible_unit", "responsible_person", "responsible_phone", "responsible_email"):
            demand[name] = getattr(task, name) or ""
    try:
        return services.finding_create(user=user, target=target, data=data, rectification=demand)
    except ValidationError as error:
        # The finding's messages as the handling form shows them: beside its type and severity, or above it.
        if not hasattr(error, "error_dict"):
            raise
        shown: dict[str, list[str]] = {}
        for key, messages in error.message_dict.items():
            add_error(shown, key if key in ("type", "severity") else "__all__", *messages)
        raise ValidationError(shown) from error


def _tell_supervisors(lead: Lead) -> None:
    village = lead.village
    district = village.township.district
    users = User.objects.filter(access.supervisors_of(district)).order_by("pk")
    kind = lead.get_kind_display()
    message = Message(
        reason=Notification.Reason.LEAD,
        target=target_of(lead),
        title=f"{village.township.name}{village.name}报送{kind}",
        body=lead.description[:200],
        url=reverse("supervision:lead", args=[lead.pk]),
    )
    notify_users(users, message, day=clock.today(), district=district)


def _tell_informant(lead: Lead) -> None:
    message = Message(
        reason=Notification.Reason.LEAD,
        target=target_of(lead),
        title=f"您报送的{lead.get_kind_display()}已处理：{lead.get_state_display()}",
        body=lead.handling_note or lead.description[:200],
        url=reverse("supervision:lead", args=[lead.pk]),
    )
    informant = User.objects.filter(pk=lead.filed_by_id)
    notify_users(informant, message, day=clock.today(), district=lead.village.township.district)


# ---------------------------------------------------------------------------------------------
# Supervision opinions (督导意见)
# ---------------------------------------------------------------------------------------------


def opinion_give(*, user, finding_id: int, data: Mapping, token: str = "") -> tuple[Opinion, bool]:
    """Record a 人大/政协 supervision opinion on a finding the user sees; ``(opinion, created)``. The same
    ``token`` from the same person finds the opinion already recorded."""
    if not access.may_give_opinions(user):
        raise Http404("只有人大、政协督导人员可以提出督导意见。")
    unknown = set(data) - set(OPINION_FIELDS)
    if unknown:
        raise ValueError(f"Not fields a person may set on an opinion: {sorted(unknown)}")
    finding = get_object_or_404(Finding.objects.visible_to(user), pk=finding_id)
    token = (token or "")[:64]
    if token:
        existing = Opinion.objects.filter(given_by=user, token=token).first()
        if existing is not None:
            return existing, False
    errors: dict[str, list[str]] = {}
    text = (data.get("text") or "").strip()
    if not text:
        add_error(errors, "text", TEXT_REQUIRED)
    elif is_blank(text):
        add_error(errors, "text", BLANK_MESSAGE)
    given_on = data.get("given_on")
    date_error = dates.done_date_error(given_on, "日期")
    if date_error:
        add_error(errors, "given_on", date_error)
    opinion = Opinion(
        finding=finding, body=data.get("body") or "", text=text, given_on=given_on, given_by=user, token=token
    )
    collect_errors(errors, lambda: opinion.full_clean(exclude=["token"], validate_unique=False))
    raise_if(errors)
    sign(opinion, user, "督导意见")
    opinion, created = _save_once(opinion, given_by=user, token=token)
    if created:
        _tell_about_opinion(opinion, finding)
    return opinion, created


def _save_once(record, **identity):
    """Save a new ``record`` of a form with a one-time token; (record, True). If the same form, sent twice at once,
    was saved by the other request (the unique constraint on the author and ``token``), (that row, False)."""
    try:
        with transaction.atomic():
            record.save()
    except IntegrityError:
        existing = type(record).objects.filter(**identity).first() if identity.get("token") else None
        if existing is None:
            raise
        return existing, False
    return record, True


def finding_area(finding: Finding) -> tuple[str, int | None, District]:
    """The township code, the village id (None for a township's finding) and the district of a finding's target
    (a few small queries)."""
    if finding.task_id:
        village = finding.task.plan.village
    elif finding.household_id:
        village = finding.household.village
    elif finding.village_id:
        village = finding.village
    else:
        return finding.township_id, None, finding.township.district
    return village.township_id, village.pk, village.township.district


def _tell_about_opinion(opinion: Opinion, finding: Finding) -> None:
    township, village, district = finding_area(finding)
    users = (
        User.objects.filter(access.area_staff_of(township=township, village=village) | access.supervisors_of(district))
        .distinct()
        .order_by("pk")
    )
    message = Message(
        reason=Notification.Reason.OPINION,
        target=target_of(opinion),
        title=f"{opinion.get_body_display()}督导意见：{finding.description[:30]}",
        body=opinion.text[:500],
        url=reverse("supervision:finding", args=[finding.pk]),
    )
    notify_users(users, message, day=clock.today(), district=district)


def opinions_of(finding: Finding) -> list[Opinion]:
    """The opinions on a finding, newest first, with who recorded them (one query)."""
    return list(finding.opinions.select_related("given_by").order_by("-given_on", "-id"))
