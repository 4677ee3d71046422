"""The one place that says what day it is.

Overdue, due-soon and stale are questions about dates, so every such question takes ``today``
as an argument; callers that have no better answer ask :func:`today`. A deployment may pin the
date with ``BAZHOU_TODAY`` (the demo runs on 2017-09-15); tests pass their own date instead.
"""

import datetime

from django.conf import settings
from django.utils import timezone


def today() -> datetime.date:
    pinned = getattr(settings, "BAZHOU_TODAY", "")
    if pinned:
        return datetime.date.fromisoformat(pinned)
    return timezone.localdate()
