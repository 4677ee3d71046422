from bazhou.core import access


def navigation(request):
    """What the base layout needs: the user's role, area and which menus and buttons to show (asked of
    ``bazhou.core.access``, so a template never tests a role itself)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "nav": {
            "role": user.get_role_display() if user.role else "系统管理员",
            "area": str(user.area) if user.area else "全部区域",
            "may_edit_plans": access.may_edit_plans(user),
            "may_edit_registry": access.may_edit_registry(user),
            "may_supervise": access.may_supervise(user),
            "may_approve_plans": access.may_approve_plans(user),
            "may_decide_change_requests": access.may_decide_change_requests(user),
            "may_request_changes": access.may_request_changes(user),
        }
    }
