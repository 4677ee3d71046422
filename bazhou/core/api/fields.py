"""Serializer fields, the strict serializer and the messages the API's serializers share."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers


@extend_schema_field(OpenApiTypes.STR)
class Label(serializers.Field):
    """The label of a choice (``"status": "done"`` → ``"status_display": "已完成"``), read-only.

    Django's ``get_status_display()`` hashes the whole list of choices on every call (each label a lazy
    translation); at 100 rows a page with several such fields that was a third of a list's time. Here the
    labels are looked up in a dict made once per field.
    """

    def __init__(self, choices, **kwargs):
        kwargs["read_only"] = True
        super().__init__(**kwargs)
        self.labels = dict(choices)

    def to_representation(self, value):
        label = self.labels.get(value)
        return str(label) if label is not None else value


@extend_schema_field(OpenApiTypes.BOOL)
class Overdue(serializers.Field):
    """Whether the row is 逾期 on the system's today (``row.is_overdue(today)``, today from the context), read-only."""

    def __init__(self, **kwargs):
        super().__init__(read_only=True, source="*", **kwargs)

    def to_representation(self, row):
        return row.is_overdue(self.context["today"])


NOT_WRITABLE = "该字段不能修改。"
NO_SUCH = "{what}不存在。"


def user_of(serializer):
    """The signed-in user the serializer's choices are scoped to (None while the schema is generated: no choices)."""
    return getattr(serializer.context.get("request"), "user", None)


class VisibleRow(serializers.PrimaryKeyRelatedField):
    """A row by its id among those the signed-in user may see (``rows(user)``, by default ``visible_to``): one
    outside the area is refused as if it did not exist, "{what}不存在。"."""

    def __init__(self, model, what: str, *, rows=None, **kwargs):
        self.rows = rows or model.objects.visible_to
        kwargs["error_messages"] = {"does_not_exist": NO_SUCH.format(what=what), **kwargs.get("error_messages", {})}
        super().__init__(queryset=model.objects.none(), **kwargs)

    def get_queryset(self):
        return self.rows(user_of(self))


def reason_field(help_text: str) -> serializers.CharField:
    """The optional reason of a change, kept in the row's history."""
    return serializers.CharField(max_length=500, allow_blank=True, required=False, write_only=True, help_text=help_text)


class StrictSerializer(serializers.Serializer):
    """Refuses fields it does not take (version, created_by, is_removed …) with a 400 naming them."""

    fixed_fields: dict[str, str] = {}

    def to_internal_value(self, data):
        if hasattr(data, "keys"):
            unknown = sorted(set(data.keys()) - set(self.fields) - {"csrfmiddlewaretoken"})
            if unknown:
                raise serializers.ValidationError(
                    {name: [self.fixed_fields.get(name, NOT_WRITABLE)] for name in unknown}
                )
        return super().to_internal_value(data)
