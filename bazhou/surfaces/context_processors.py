"""What the base layout shows beside 我的待办, 消息 and 变更审批: the number of things waiting for the user, of their
unread messages and of the change requests waiting for their decision (``bazhou.surfaces.todo.nav_counts``: stored
per person, one query while nothing they depend on changed).

A callable the template calls only where it shows the navigation, once (``functools.cache``): a page that does not
render the navigation (an export, the API) asks nothing. The to-do page passes its own ``nav_counts`` (from the
totals it has just counted), which takes precedence over this one.
"""

from functools import cache

from bazhou.core import access, clock
from bazhou.surfaces import todo


def todo_counts(request):
    user = getattr(request, "user", None)
    if user is None or not access.signed_in(user):
        return {}

    @cache
    def nav_counts() -> dict[str, int]:
        return todo.nav_counts(user, clock.today())

    return {"nav_counts": nav_counts}
