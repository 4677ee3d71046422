"""What the base layout shows beside 我的待办 and 消息: the number of things waiting for the user and of their unread
messages (``bazhou.surfaces.todo.nav_counts``: one query for both).

A callable the template calls only where it shows the navigation, once (``functools.cache``), as
``tasks.context_processors`` does for the change requests: a page that does not render the navigation (an export,
the API) asks nothing. The to-do page passes its own ``nav_counts`` (from the totals it has just counted), which
takes precedence over this one.
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
