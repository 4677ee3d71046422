"""API for the alerts on evidence that flipped an exit decision (近期变动的脱贫判定): ``/api/v1/decision-alerts/``.

Read-only (alerts are written by the edits themselves, ``households.decisions``), scoped like the household and
village pages that show them (``DecisionAlert.objects.visible_to``), filtered like the supervisors' list. One query
a page, whatever the number of alerts.
"""

from __future__ import annotations

from django_filters import rest_framework as filters
from rest_framework import serializers

from bazhou.core import clock
from bazhou.core.api.base import ApiViewSet
from bazhou.core.api.fields import Label
from bazhou.core.api.filters import FilterSet, IntegerFilter
from bazhou.core.api.schema import documented
from households.models import DecisionAlert


class DecisionAlertSerializer(serializers.ModelSerializer):
    scope_display = Label(DecisionAlert.Scope.choices, source="scope")
    source_display = Label(DecisionAlert.Source.choices, source="source")
    township = serializers.CharField(source="village.township_id", read_only=True)
    township_name = serializers.CharField(source="village.township.name", read_only=True)
    village_name = serializers.CharField(source="village.name", read_only=True)
    household_number = serializers.CharField(source="household.number", read_only=True, default=None)
    changed_by_name = serializers.SerializerMethodField()

    class Meta:
        model = DecisionAlert
        fields = [
            "id",
            "scope",
            "scope_display",
            "township",
            "township_name",
            "village",
            "village_name",
            "household",
            "household_number",
            "year",
            "criterion",
            "criterion_name",
            "met_before",
            "met_after",
            "before",
            "after",
            "source",
            "source_display",
            "source_detail",
            "reason",
            "changed_by",
            "changed_by_name",
            "changed_at",
            "changed_on",
        ]
        read_only_fields = fields

    def get_changed_by_name(self, obj) -> str | None:
        user = obj.changed_by
        return None if user is None else (user.name or user.username)


class DecisionAlertFilter(FilterSet):
    township = filters.CharFilter(field_name="village__township", label="乡镇代码")
    days = IntegerFilter(method="within_days", label="最近天数（含今天）", min_value=1, max_value=3650)

    class Meta:
        model = DecisionAlert
        fields = ["scope", "village", "household", "criterion", "year", "source"]

    def within_days(self, queryset, name, value):
        return queryset.changed_within(int(value), clock.today())


@documented("建档立卡", list="近期变动的脱贫判定（一超六有、一低七有）", retrieve="一项判定变动")
class DecisionAlertViewSet(ApiViewSet):
    serializer_class = DecisionAlertSerializer
    filterset_class = DecisionAlertFilter
    ordering_fields = ("id", "changed_at")
    ordering = ("-changed_at", "-id")

    def visible(self):
        return DecisionAlert.objects.visible_to(self.request.user).select_related(
            "village__township", "household", "changed_by"
        )
