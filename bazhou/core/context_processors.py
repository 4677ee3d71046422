from bazhou.core.models import Role


def navigation(request):
    """What the base layout needs: the user's role, area and which menus to show."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "nav": {
            "role": user.get_role_display() if user.role else "系统管理员",
            "area": str(user.area) if user.area else "全部区域",
            "can_edit_plans": user.can_edit_plans,
            "can_supervise": user.can_supervise,
            "is_district_admin": user.is_superuser or user.role == Role.DISTRICT_ADMIN,
        }
    }
