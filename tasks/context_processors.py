"""What the base layout shows of the plan table: the number of change requests (变更申请) waiting for the user's
decision, beside 变更审批 in the navigation.

It lives here, not in ``bazhou.core.context_processors`` (which holds the rest of ``nav``), because the shared ground
does not know the plan table (docs/architecture.md, layers). One ``COUNT`` on the partial index of pending requests,
asked only of people who may decide (``access.may_decide_change_requests``) and only when the template shows it.
"""

from functools import cache

from bazhou.core import access
from tasks.models import ChangeRequest


def change_requests(request):
    user = getattr(request, "user", None)
    if user is None or not access.may_decide_change_requests(user):
        return {}

    @cache
    def pending_changes() -> int:
        return ChangeRequest.objects.decidable_by(user).pending().count()

    return {"pending_changes": pending_changes}
