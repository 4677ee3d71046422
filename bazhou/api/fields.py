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


NOT_WRITABLE = "该字段不能修改。"
NO_SUCH = "{what}不存在。"


def user_of(serializer):
    """The signed-in user the serializer's choices are scoped to (None while the schema is generated: no choices)."""
    return getattr(serializer.context.get("request"), "user", None)


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
