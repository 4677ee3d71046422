"""The API's URLs, mounted at /api/v1/ by bazhou/urls.py (namespace ``api``).

Every endpoint is registered here, on ``router`` (one line per viewset), before ``urlpatterns`` is built.
"""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView
from rest_framework.routers import DefaultRouter

from bazhou.core.api.tokens import TokenViewSet
from bazhou.surfaces.api import docs
from bazhou.surfaces.api.compare import DashboardCompareView
from bazhou.surfaces.api.dashboard import DashboardView
from bazhou.surfaces.api.villages import (
    AssignmentViewSet,
    ExitIndicatorViewSet,
    TownshipViewSet,
    VillageIndicatorViewSet,
    VillageViewSet,
)
from households.api import HouseholdViewSet, IncomeViewSet, MemberViewSet
from households.decision_api import DecisionAlertViewSet
from supervision.api import (
    BulletinViewSet,
    FindingViewSet,
    InspectionViewSet,
    MonthlySnapshotViewSet,
    RectificationViewSet,
)
from tasks.api import PlanViewSet, ProgressUpdateViewSet, TaskViewSet
from tasks.api_exports import PlanTableView
from tasks.change_api import ChangeRequestViewSet

app_name = "api"

router = DefaultRouter()
router.include_format_suffixes = False
router.register("townships", TownshipViewSet, basename="township")
router.register("villages", VillageViewSet, basename="village")
router.register("exit-indicators", ExitIndicatorViewSet, basename="exit-indicator")
router.register("village-indicators", VillageIndicatorViewSet, basename="village-indicator")
router.register("assignments", AssignmentViewSet, basename="assignment")
router.register("households", HouseholdViewSet, basename="household")
router.register("members", MemberViewSet, basename="member")
router.register("incomes", IncomeViewSet, basename="income")
router.register("decision-alerts", DecisionAlertViewSet, basename="decision-alert")
router.register("plans", PlanViewSet, basename="plan")
router.register("tasks", TaskViewSet, basename="task")
router.register("progress-updates", ProgressUpdateViewSet, basename="progress-update")
router.register("change-requests", ChangeRequestViewSet, basename="change-request")
router.register("inspections", InspectionViewSet, basename="inspection")
router.register("findings", FindingViewSet, basename="finding")
router.register("rectifications", RectificationViewSet, basename="rectification")
router.register("bulletins", BulletinViewSet, basename="bulletin")
router.register("snapshots", MonthlySnapshotViewSet, basename="snapshot")
router.register("tokens", TokenViewSet, basename="token")

urlpatterns = [
    path("dashboard/", DashboardView.as_view(), name="dashboard"),
    path("dashboard/compare/", DashboardCompareView.as_view(), name="dashboard-compare"),
    path("plan-table/", PlanTableView.as_view(), name="plan-table"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", docs.docs, name="docs"),
    *router.urls,
]
