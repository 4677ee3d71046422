"""Admin for users, export logs and API tokens, and the pieces every app's admin shares.

The admin is the data-maintenance back office (superusers and district staff). It still respects
the area rules: a staff user who is not a superuser sees only the rows ``visible_to`` them.

It is no side door (docs: DESIGN "Data that must never be lost"). Two kinds of model admin:

- **Read-only** (:class:`ViewOnlyMixin`): records the product's pages and API change through their services
  (version checks, reasons, history) — the plan table, the registry, supervision, bulletins, logs. Here they are
  only read, with their history; no add, change, delete or revert, inlines included.
- **Maintained here** (every other :class:`ModelAdmin` / :class:`HistoryAdmin`, and users): reference data that has
  no page of its own, so the admin is its editing page and keeps the same rules (:class:`ChangeRulesMixin`):
  a change needs a 修改原因, signed into the model's history (when it has one) and always into the admin's own
  log (the 历史 page); a change made by someone else since the form was opened (the row's ``version``, or a
  fingerprint of the fields the form edits when it has none) is refused and changes nothing; nothing is deleted.
"""

import hashlib
import json

from django import forms
from django.contrib import admin
from django.contrib.admin.models import LogEntry
from django.contrib.auth.admin import GroupAdmin as DjangoGroupAdmin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.models import Group
from django.core.exceptions import FieldDoesNotExist, PermissionDenied, ValidationError
from django.db import models
from django.db.models import Count, IntegerField, OuterRef, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone
from simple_history.admin import SimpleHistoryAdmin

from bazhou.core.access import AreaPaths, area_q
from bazhou.core.models import (
    ApiToken,
    Delivery,
    ExportLog,
    ImportBatch,
    Job,
    Notification,
    Role,
    Submission,
    User,
    WorkerBeat,
)
from bazhou.core.notify import mask_phone
from bazhou.core.services import sign

# Fields that record who created a row; filled with the signed-in user when a row is added in the admin.
STAMP_FIELDS = ("created_by", "uploaded_by", "reported_by")


def count_of(model, fk: str, outer: str = "pk", **filters):
    """A correlated subquery counting ``model`` rows whose ``fk`` is the outer row's ``outer`` (0 when none).

    Unlike ``Count`` over a join it does not multiply rows, so it combines with other annotations and filters.
    """
    rows = model.objects.filter(**{fk: OuterRef(outer)}, **filters).order_by().values(fk)
    return Coalesce(Subquery(rows.annotate(n=Count("pk")).values("n")[:1], output_field=IntegerField()), 0)


def sum_of(model, fk: str, field: str, output_field, outer: str = "pk", **filters):
    """A correlated subquery summing ``field`` over ``model`` rows whose ``fk`` is the outer row's ``outer``."""
    rows = model.objects.filter(**{fk: OuterRef(outer)}, **filters).order_by().values(fk)
    return Subquery(rows.annotate(total=Sum(field)).values("total")[:1], output_field=output_field)


def titled_filter(title: str, base=admin.ChoicesFieldListFilter):
    """A field filter with its own title, for a related field whose own name says too little (``方式``)."""

    class TitledFilter(base):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.title = title

    return TitledFilter


def stamp_user(obj, user) -> None:
    """Fill the "who created it" fields of a new row that are still empty."""
    for name in STAMP_FIELDS:
        if hasattr(obj, f"{name}_id") and getattr(obj, f"{name}_id") is None:
            setattr(obj, name, user)


# ---------------------------------------------------------------------------------------------
# Changes made here: a reason, no lost update, no delete
# ---------------------------------------------------------------------------------------------

REASON_FIELD = "change_reason"
LOADED_FIELD = "loaded_state"
RULE_FIELDS = (REASON_FIELD, LOADED_FIELD)
REASON_REQUIRED = "请填写修改原因：它与修改人、修改时间一起记入修改历史。"
EDITED_MEANWHILE = "保存失败：您打开本页之后，这条记录已被他人修改，您的修改没有保存。"
REOPEN = "请重新打开本页，核对最新内容后再改。"
NO_REASON_NO_CHANGE = "管理后台的每次修改都须在修改页填写修改原因。"


def has_history(model) -> bool:
    """Whether ``model`` keeps django-simple-history records (``history = HistoricalRecords()``)."""
    return hasattr(model._meta, "simple_history_manager_attribute")


def has_version(model) -> bool:
    """Whether ``model`` has an optimistic-locking ``version`` field (raised by one on every change)."""
    try:
        model._meta.get_field("version")
    except FieldDoesNotExist:
        return False
    return True


def _field_value(obj, field):
    if field.many_to_many:
        return sorted(str(pk) for pk in getattr(obj, field.name).values_list("pk", flat=True))
    return field.value_to_string(obj)


def row_state(obj, field_names) -> str:
    """What "the row as the form was opened" means: its ``version``, or for a model without one a fingerprint of
    the values of ``field_names`` (the fields the form edits; others are never written from the form)."""
    if has_version(type(obj)):
        return f"v{obj.version}"
    opts = obj._meta
    values = {name: _field_value(obj, opts.get_field(name)) for name in sorted(field_names)}
    blob = json.dumps(values, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def _shown(field, value) -> str:
    """A value as a person reads it, for the conflict message."""
    if isinstance(value, models.QuerySet | models.Manager):
        value = list(value.all())
    if isinstance(value, list | tuple):
        return "、".join(_shown(field, v) for v in value) or "（空）"
    if value is None or value == "":
        return "（空）"
    if isinstance(value, bool):
        return "是" if value else "否"
    if getattr(field, "flatchoices", None) and not isinstance(value, models.Model):
        return str(dict(field.flatchoices).get(value, value))
    return str(value)


class ChangeRulesForm(forms.ModelForm):
    """Added to the change form of a row maintained in the admin (see :class:`ChangeRulesMixin`)."""

    change_reason = forms.CharField(
        label="修改原因",
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="必填。说明为什么修改（如依据的文件、核实情况），与修改人、修改时间一起记入修改历史。",
        error_messages={"required": REASON_REQUIRED},
    )
    loaded_state = forms.CharField(label="打开时的状态", widget=forms.HiddenInput, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound and self.instance.pk is not None:
            self.initial[LOADED_FIELD] = row_state(self.instance, self.guarded_fields())

    @property
    def changed_data(self):
        """The row's fields that changed (not the reason and the state, which are about the change)."""
        return [name for name in super().changed_data if name not in RULE_FIELDS]

    def guarded_fields(self) -> list[str]:
        """The model fields this form writes (disabled ones keep their stored value)."""
        opts = self._meta.model._meta
        names = []
        for name, field in self.fields.items():
            if name in RULE_FIELDS or field.disabled:
                continue
            try:
                opts.get_field(name)
            except FieldDoesNotExist:
                continue
            names.append(name)
        return names

    def clean(self):
        cleaned = super().clean()
        if self.instance.pk is None:
            return cleaned
        model = self._meta.model
        # Locked until the save commits (the admin's change view runs in one transaction), so nobody writes the row
        # between this check and the save.
        current = model._base_manager.select_for_update().filter(pk=self.instance.pk).first()
        names = self.guarded_fields()
        if current is None or cleaned.get(LOADED_FIELD) != row_state(current, names):
            raise ValidationError(self.conflict_message(current, names), code="edited_meanwhile")
        return cleaned

    def conflict_message(self, current, names) -> str:
        """Says that nothing was saved, and, field by field, the stored value beside the one the user entered."""
        differences = []
        if current is not None:
            opts = self._meta.model._meta
            for name in names:
                if name not in self.cleaned_data:
                    continue
                field = opts.get_field(name)
                now = _shown(field, getattr(current, name))
                theirs = _shown(field, self.cleaned_data[name])
                if now != theirs:
                    differences.append(f"{field.verbose_name}：现为“{now}”，您填写的是“{theirs}”")
        detail = f"与您填写的不同之处——{'；'.join(differences)}。" if differences else ""
        return f"{EDITED_MEANWHILE}{detail}{REOPEN}"


def with_change_rules(form_class):
    """``form_class`` with a required 修改原因 and the state the form was opened with (a hidden field)."""
    return type(f"{form_class.__name__}WithChangeRules", (ChangeRulesForm, form_class), {})


class ChangeRulesMixin:
    """The rules of a model admin whose rows are maintained here (reference data without a page of its own).

    - A change to an existing row needs a 修改原因. It is signed into the row's history record (``sign``) when
      the model keeps history, and written into the admin's log of the row in every case (the 历史 page shows who,
      when, which fields and why).
    - The form carries the state the row had when it was opened (its ``version``; for a model without one, a
      fingerprint of the fields the form edits). If the row has changed since, the save is refused with a Chinese
      message naming the stored and the entered values, and nothing changes. ``version`` is raised by one on a
      change; it is never bumped blindly.
    - Nothing is deleted here: rows that evidence or supervision rest on are ended (an end date, 不在册, 停用),
      not removed.
    """

    def guarded(self, request, obj) -> bool:
        return obj is not None and self.has_change_permission(request, obj)

    def get_form(self, request, obj=None, change=False, **kwargs):
        if self.guarded(request, obj):
            kwargs["form"] = with_change_rules(kwargs.get("form", self.form))
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if not self.guarded(request, obj):
            return fieldsets
        kept = [
            (name, {**options, "fields": [f for f in options["fields"] if f not in RULE_FIELDS]})
            for name, options in fieldsets
        ]
        return [*[(n, o) for n, o in kept if o["fields"]], ("修改原因", {"fields": RULE_FIELDS})]

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        if change:
            if REASON_FIELD not in getattr(form, "cleaned_data", {}):
                # A save without the change form (a list_editable column, a custom action): refused, not silent.
                raise PermissionDenied(NO_REASON_NO_CHANGE)
            reason = form.cleaned_data[REASON_FIELD]
            obj._admin_change_reason = reason
            if has_history(type(obj)):
                sign(obj, request.user, reason)
            if has_version(type(obj)) and form.has_changed():
                obj.version = int(form.cleaned_data[LOADED_FIELD].removeprefix("v")) + 1
        super().save_model(request, obj, form, change)

    def log_change(self, request, obj, message):
        reason = getattr(obj, "_admin_change_reason", "")
        if reason:
            if isinstance(message, list):
                message = LogEntry(change_message=json.dumps(message)).get_change_message()
            message = f"{message} 修改原因：{reason}"
        return super().log_change(request, obj, message)


class ProjectAdminMixin(ChangeRulesMixin):
    """Area scoping, the change rules and user stamping, for model admins of this project.

    - A non-superuser sees only the rows their model's ``visible_to(user)`` (or ``area_paths``) allows,
      and so do the autocomplete lookups that go through this admin; where the model has
      ``editable_by(user)`` (or area paths), they may change only those rows (on top of Django permissions).
    - Changes follow :class:`ChangeRulesMixin` (a reason, no lost update, no delete); admins of records that
      the product's services write add :class:`ViewOnlyMixin` instead.
    - New rows get ``created_by`` / ``uploaded_by`` / ``reported_by`` filled with the signed-in user.
    """

    # For models whose QuerySet has no ``visible_to``: the lookup paths from a row to its area.
    area_paths: AreaPaths | None = None

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        # The relations the list shows are also what the rows' names need (on change pages, in
        # autocomplete results); joining them here means the changelist must not add a partial list.
        if isinstance(self.list_select_related, list | tuple) and self.list_select_related:
            qs = qs.select_related(*self.list_select_related)
        if request.user.is_superuser:
            return qs
        return self.scope_queryset(request, qs)

    def scope_queryset(self, request, qs):
        """The rows of ``qs`` the (non-superuser) user may see."""
        if hasattr(qs, "visible_to"):
            return qs.visible_to(request.user)
        if self.area_paths is not None:
            return qs.filter(area_q(request.user, self.area_paths))
        return qs  # Reference data with no area (districts, indicators, poverty lines…).

    def may_write(self, request, obj) -> bool:
        """Whether a non-superuser may change ``obj``: their model's ``editable_by(user)``, or for a model without
        one the area rule for writing (``area_q(…, write=True)``) over its area paths."""
        if obj is None or request.user.is_superuser:
            return True
        rows = self.model._default_manager.all()
        if hasattr(rows, "editable_by"):
            return rows.editable_by(request.user).filter(pk=obj.pk).exists()
        paths = self.area_paths or getattr(rows, "paths", None)
        if paths is not None:
            return rows.filter(area_q(request.user, paths, write=True)).filter(pk=obj.pk).exists()
        return True  # Reference data with no area: Django's permissions decide.

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and self.may_write(request, obj)

    def save_model(self, request, obj, form, change):
        if not change:
            stamp_user(obj, request.user)
        super().save_model(request, obj, form, change)

    def save_formset(self, request, form, formset, change):
        for inline_form in formset.forms:
            if inline_form.instance.pk is None:
                stamp_user(inline_form.instance, request.user)
        super().save_formset(request, form, formset, change)


class ViewOnlyMixin:
    """Rows read here, not written: records the product's pages and API change through their services (which check
    versions, ask reasons, keep history and never hard-delete), and logs. For model admins and inlines alike."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class SuperuserOnlyMixin:
    """Pages only superusers see: records that name people and what they did (logs, tokens, uploads)."""

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser

    def has_module_permission(self, request):
        return self.has_view_permission(request)


class ModelAdmin(ProjectAdminMixin, admin.ModelAdmin):
    list_per_page = 50
    show_full_result_count = False


class HistoryAdmin(ProjectAdminMixin, SimpleHistoryAdmin):
    """For models with ``history = HistoricalRecords()``: the 历史 page lists every change, who made it and why.

    An old version opens read-only; it is never restored from here ("revert" would write the row past the version
    check, the reason and the services).
    """

    list_per_page = 50
    show_full_result_count = False

    def revert_disabled(self, request, obj=None):
        return True

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        if request.method == "POST":
            raise PermissionDenied
        return super().history_form_view(request, object_id, version_id, extra_context)


# ---------------------------------------------------------------------------------------------
# Users
# ---------------------------------------------------------------------------------------------

AREA_FIELDSET = (
    "角色与所属区域",
    {
        "fields": ("role", "district", "township", "village", "department", "charge_townships", "charge_villages"),
        "description": "区级管理员、督查人员、区级挂包领导、行业部门、人大/政协督导和区纪委选所属区县；"
        "乡镇工作人员选所属乡镇；村干部和村督查信息员选所属村；区级领导选其中一级。"
        "行业部门的用户另选所属部门；区级挂包领导另选挂包乡镇和/或挂包村（分片挂包）。超级用户可不选角色。",
    },
)

CHARGE_ONLY_FOR_PATCH_LEADERS = "只有区级挂包领导选择挂包乡镇和挂包村，请清空或把角色改为区级挂包领导。"
CHARGE_REQUIRED = "区级挂包领导须至少选择一个挂包乡镇或挂包村。"


class ChargeFormMixin:
    """The 挂包 charge of a user, checked with the role and the district (the model's own checks cannot see
    many-to-many fields before the user is saved): only a patch leader has one, a patch leader must have one,
    and it lies in their district."""

    def clean(self):
        cleaned = super().clean()
        role = cleaned.get("role")
        townships = list(cleaned.get("charge_townships") or [])
        villages = list(cleaned.get("charge_villages") or [])
        if role != Role.PATCH_LEADER:
            if townships or villages:
                self.add_error("charge_townships", CHARGE_ONLY_FOR_PATCH_LEADERS)
            return cleaned
        if not townships and not villages:
            self.add_error("charge_townships", CHARGE_REQUIRED)
            return cleaned
        district = cleaned.get("district")
        if district is not None:
            foreign = [t.name for t in townships if t.district_id != district.pk]
            if foreign:
                self.add_error("charge_townships", f"挂包乡镇须是{district.name}的乡镇：{'、'.join(foreign)}不是。")
            foreign = [v.name for v in villages if v.township.district_id != district.pk]
            if foreign:
                self.add_error("charge_villages", f"挂包村须是{district.name}的村：{'、'.join(foreign)}不是。")
        return cleaned


class UserChangeForm(ChargeFormMixin, DjangoUserAdmin.form):
    pass


class UserCreationForm(ChargeFormMixin, DjangoUserAdmin.add_form):
    pass


@admin.register(User)
class UserAdmin(ChangeRulesMixin, DjangoUserAdmin):
    """Users are maintained here (there is no page for them): a change needs a reason and is refused if the user was
    changed meanwhile; a user is never deleted (their name stays on what they approved, reported and signed), only
    made inactive. Sign-in dates are the system's own."""

    fieldsets = (
        (None, {"fields": ("username", "password")}),
        ("个人信息", {"fields": ("name", "phone", "email")}),
        AREA_FIELDSET,
        (
            "权限",
            {
                "fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions"),
                "classes": ["collapse"],
            },
        ),
        ("重要日期", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        *DjangoUserAdmin.add_fieldsets,
        ("个人信息", {"classes": ("wide",), "fields": ("name", "phone")}),
        AREA_FIELDSET,
    )
    form = UserChangeForm
    add_form = UserCreationForm
    list_display = ("username", "name", "role", "area_display", "phone", "is_staff", "is_active")
    list_filter = ("role", "is_staff", "is_superuser", "is_active", "township", "department")
    list_select_related = ("district", "township", "village__township", "department")
    search_fields = ("username", "name", "phone", "email")
    autocomplete_fields = ("village",)
    filter_horizontal = ("charge_townships", "charge_villages")
    readonly_fields = ("last_login", "date_joined")
    ordering = ("username",)

    @admin.display(description="所属区域")
    def area_display(self, obj):
        if obj.village_id:
            return f"{obj.village.township.name} {obj.village.name}"
        if obj.department_id:
            return f"{obj.area or ''} {obj.department.name}"
        return str(obj.area or "—")

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == "charge_villages":
            kwargs["queryset"] = db_field.remote_field.model.objects.select_related("township").order_by("code")
        return super().formfield_for_manytomany(db_field, request, **kwargs)


admin.site.unregister(Group)


@admin.register(Group)
class GroupAdmin(ChangeRulesMixin, DjangoGroupAdmin):
    """Permission groups for admin users, under the same rules: a change needs a reason; nothing is deleted."""


@admin.register(ExportLog)
class ExportLogAdmin(SuperuserOnlyMixin, ViewOnlyMixin, admin.ModelAdmin):
    """Who exported what, read by superusers only (it names people and their addresses); never edited."""

    list_display = ("at", "username", "kind", "fmt", "area", "rows", "personal", "unmasked", "via", "remote_addr")
    list_filter = ("kind", "personal", "unmasked", "via", "at")
    search_fields = ("username", "area")
    date_hierarchy = "at"
    list_per_page = 100
    show_full_result_count = False


@admin.register(ApiToken)
class ApiTokenAdmin(SuperuserOnlyMixin, ViewOnlyMixin, admin.ModelAdmin):
    """Every user's API tokens, for superusers: who has one, when it was last used, and revoking it. Keys are never
    shown (only their hash is kept); users make and revoke their own through the API (docs/api.md)."""

    list_display = ("user", "name", "prefix", "created_at", "last_used_at", "revoked_at")
    list_filter = (("revoked_at", admin.EmptyFieldListFilter), "created_at")
    list_select_related = ("user",)
    search_fields = ("user__username", "user__name", "name", "prefix")
    exclude = ("key_hash",)
    actions = ["revoke"]
    list_per_page = 100
    show_full_result_count = False

    @admin.action(description="撤销所选令牌", permissions=["view"])
    def revoke(self, request, queryset):
        n = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        self.message_user(request, f"已撤销 {n} 个令牌。")


@admin.register(ImportBatch)
class ImportBatchAdmin(SuperuserOnlyMixin, ViewOnlyMixin, admin.ModelAdmin):
    """Uploaded workbooks and what became of them, for superusers (the files hold personal data; the uploader
    follows their own batch on the import pages)."""

    list_display = ("created_at", "user", "kind", "year", "file_name", "size", "state")
    list_filter = ("kind", "state", "created_at")
    list_select_related = ("user",)
    search_fields = ("user__username", "file_name")
    exclude = ("content", "preview")
    list_per_page = 100
    show_full_result_count = False


# ---------------------------------------------------------------------------------------------
# Messages and the delivery log (bazhou/core/notify, docs/notifications.md): read only, phone numbers masked
# ---------------------------------------------------------------------------------------------


@admin.register(Notification)
class NotificationAdmin(SuperuserOnlyMixin, ViewOnlyMixin, admin.ModelAdmin):
    """Every notification, for superusers: who was told what, when, and when they read it (the read receipt)."""

    list_display = ("day", "reason", "title", "name", "masked_phone", "email", "user", "created_at", "read_at")
    list_filter = ("reason", "day", ("read_at", admin.EmptyFieldListFilter))
    list_select_related = ("user",)
    search_fields = ("title", "name", "email", "user__username")
    exclude = ("phone", "recipient_key")
    readonly_fields = ("masked_phone", "masked_recipient")
    date_hierarchy = "day"
    list_per_page = 100
    show_full_result_count = False

    @admin.display(description="手机号")
    def masked_phone(self, obj):
        return mask_phone(obj.phone) if obj.phone else "–"

    @admin.display(description="收件人标识")
    def masked_recipient(self, obj):
        return masked_key(obj.recipient_key)


@admin.register(Delivery)
class DeliveryAdmin(SuperuserOnlyMixin, ViewOnlyMixin, admin.ModelAdmin):
    """The delivery log, for superusers: channel, recipient (phone masked), status, attempts, the last error and the
    next try. Nothing is changed here: ``manage.py deliver_notifications`` retries."""

    list_display = (
        "created_at",
        "channel",
        "masked_address",
        "status",
        "attempts",
        "last_error",
        "next_attempt_at",
        "sent_at",
    )
    list_filter = ("channel", "status", "day")
    search_fields = ("subject",)
    exclude = ("address", "recipient_key", "mentions", "notifications")
    readonly_fields = ("masked_address", "masked_recipient", "masked_mentions")
    date_hierarchy = "day"
    list_per_page = 100
    show_full_result_count = False

    @admin.display(description="地址")
    def masked_address(self, obj):
        if obj.channel == Delivery.Channel.SMS:
            return mask_phone(obj.address)
        return obj.address or "（群机器人）"

    @admin.display(description="收件人标识")
    def masked_recipient(self, obj):
        return masked_key(obj.recipient_key)

    @admin.display(description="提醒手机号")
    def masked_mentions(self, obj):
        return "、".join(mask_phone(m) for m in obj.mentions or []) or "–"


def masked_key(key: str) -> str:
    """A recipient key as the admin shows it: "phone:138****1234"."""
    if key.startswith("phone:"):
        return f"phone:{mask_phone(key[6:])}"
    return key


@admin.register(Submission)
class SubmissionAdmin(SuperuserOnlyMixin, ViewOnlyMixin, admin.ModelAdmin):
    """The one-time keys of sent forms (bazhou.core.submissions), for superusers looking into a "sent twice" report;
    never edited, forgotten after two days by the daily run."""

    list_display = ("created_at", "user", "path", "finished", "result_url")
    list_filter = ("finished", "created_at")
    search_fields = ("user__username", "path")
    list_select_related = ("user",)
    list_per_page = 100
    show_full_result_count = False


@admin.register(Job)
class JobAdmin(SuperuserOnlyMixin, ViewOnlyMixin, admin.ModelAdmin):
    """Background jobs (bazhou.core.jobs), for superusers looking into "my export never finished": who asked what,
    how far it got, which worker ran it, why it failed. Never edited here (cancelling is the job page's)."""

    list_display = ("created_at", "user", "title", "state", "phase", "done", "total", "attempts", "worker")
    list_filter = ("state", "kind", "created_at")
    search_fields = ("user__username", "title")
    list_select_related = ("user",)
    list_per_page = 100
    show_full_result_count = False


@admin.register(WorkerBeat)
class WorkerBeatAdmin(SuperuserOnlyMixin, ViewOnlyMixin, admin.ModelAdmin):
    """The background workers seen lately (their heartbeats)."""

    list_display = ("worker_id", "host", "pid", "started_at", "seen_at")
