"""Admin for users, export logs and API tokens, and the pieces every app's admin shares.

The admin is the data-maintenance back office (superusers and district staff). It still respects
the area rules: a staff user who is not a superuser sees only the rows ``visible_to`` them.
"""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import Count, IntegerField, OuterRef, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone
from simple_history.admin import SimpleHistoryAdmin

from bazhou.core.access import AreaPaths, area_q
from bazhou.core.models import ApiToken, ExportLog, ImportBatch, User

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


class ProjectAdminMixin:
    """Area scoping, version bumping and user stamping, for model admins of this project.

    - A non-superuser sees only the rows their model's ``visible_to(user)`` (or ``area_paths``) allows,
      and so do the autocomplete lookups that go through this admin; where the model has
      ``editable_by(user)``, they may change or delete only those rows (on top of Django permissions).
    - Saving a changed row with a ``version`` field increments it, so optimistic-locking checks
      elsewhere notice edits made here.
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
        """Whether a non-superuser may change or delete ``obj``, by their model's ``editable_by(user)``."""
        if obj is None or request.user.is_superuser:
            return True
        rows = self.model._default_manager.all()
        if hasattr(rows, "editable_by"):
            return rows.editable_by(request.user).filter(pk=obj.pk).exists()
        return True

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and self.may_write(request, obj)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and self.may_write(request, obj)

    def save_model(self, request, obj, form, change):
        if change and hasattr(obj, "version") and form.has_changed():
            obj.version += 1
        if not change:
            stamp_user(obj, request.user)
        super().save_model(request, obj, form, change)

    def save_formset(self, request, form, formset, change):
        for inline_form in formset.forms:
            obj = inline_form.instance
            if obj.pk is None:
                stamp_user(obj, request.user)
            elif hasattr(obj, "version") and inline_form.has_changed():
                obj.version += 1
        super().save_formset(request, form, formset, change)


class ViewOnlyMixin:
    """Rows read here, not written: the plan table (edits go through the plan pages and their services, which
    check versions, ask a reason for changes to an approved plan and never hard-delete rows), and logs."""

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
    """For models with ``history = HistoricalRecords()``: the 历史 page lists every change and who made it."""

    list_per_page = 50
    show_full_result_count = False


# ---------------------------------------------------------------------------------------------
# Users
# ---------------------------------------------------------------------------------------------

AREA_FIELDSET = (
    "角色与所属区域",
    {
        "fields": ("role", "district", "township", "village"),
        "description": "区级管理员和督查人员选所属区县；乡镇工作人员选所属乡镇；村干部选所属村；"
        "区级领导选其中一级。超级用户可不选角色。",
    },
)


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
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
    list_display = ("username", "name", "role", "area_display", "phone", "is_staff", "is_active")
    list_filter = ("role", "is_staff", "is_superuser", "is_active", "township")
    list_select_related = ("district", "township", "village__township")
    search_fields = ("username", "name", "phone", "email")
    autocomplete_fields = ("village",)
    ordering = ("username",)

    @admin.display(description="所属区域")
    def area_display(self, obj):
        if obj.village_id:
            return f"{obj.village.township.name} {obj.village.name}"
        return str(obj.area or "—")


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
