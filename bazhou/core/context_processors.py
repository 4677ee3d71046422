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
            "may_read_supervision": access.may_read_supervision(user),
            "may_read_leads": access.may_read_leads(user),
            "may_approve_plans": access.may_approve_plans(user),
            "may_decide_change_requests": access.may_decide_change_requests(user),
            "may_request_changes": access.may_request_changes(user),
            "may_report_progress": access.may_report_progress(user),  # 我的任务 (the cards of tasks:mine)
            # 我的待办 and the pages of the supervision chain (issue 14).
            "may_view_dashboard": access.may_view_dashboard(user),
            "department_rows": access.department_of(user) is not None,
            "may_file_leads": access.may_file_leads(user),
            "may_handle_leads": access.may_handle_leads(user),
            "may_respond_to_escalations": access.may_respond_to_escalations(user),
            "may_decide_cases": access.may_decide_cases(user),
            "may_give_opinions": access.may_give_opinions(user),
            "may_read_cases": access.may_read_cases(user),
            "sees_ages": access.sees_ages(user),  # members' ages (they narrow a masked ID number down)
        }
    }
