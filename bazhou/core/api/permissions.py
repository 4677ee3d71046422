"""Who may call the API at all, and the role checks of the writes (each asks ``bazhou.core.access``).

Reading: anyone signed in and active; *what* they read is decided by ``bazhou.core.access`` through each model's
``visible_to`` (a row outside their area is a 404). Writing: the role must allow it (403 with the reason
otherwise, which says nothing about any row), then the service fetches the row through ``editable_by`` or its
own scope (a row outside the area is a 404, as on the pages).
"""

from __future__ import annotations

from rest_framework import permissions
from rest_framework.exceptions import PermissionDenied

from bazhou.core import access

READ_ONLY_ROLE = "您的角色只能查看，不能修改施工图。"
SUPERVISORS_ONLY = "只有督查人员和区级管理员可以录入督查记录。"
AREA_STAFF_ONLY = "只有问题所在区域的区级管理员、乡镇工作人员或村干部可以填报整改。"
DISTRICT_ADMINS_ONLY = "只有区级管理员可以批准施工图。"


class SignedIn(permissions.BasePermission):
    """Signed in (session or token) and active. Anonymous: 401 with a Chinese message."""

    def has_permission(self, request, view):
        return access.signed_in(request.user)


def require(allowed: bool, message: str) -> None:
    """403 with ``message`` unless ``allowed``."""
    if not allowed:
        raise PermissionDenied(message)
