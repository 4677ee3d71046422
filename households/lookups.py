"""The rate limit of the lookups by full ID number (the list page's search and ``POST /api/v1/households/lookup/``).

Who may look up at all is ``access.may_look_up_id_numbers``; how often, :data:`access.ID_LOOKUP_LIMIT` lookups per
user in :data:`access.ID_LOOKUP_WINDOW` seconds, the page's and the API's together. The count is kept in the
database (``IdNumberLookup``), not in Django's cache: the cache is per process (no ``CACHES`` is configured, so each
gunicorn worker would count on its own), while the database is shared by every worker and every app server
(docs/deploy.md: the application keeps no local state).
"""

from __future__ import annotations

import datetime

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from bazhou.core import access
from households.models import IdNumberLookup

KEEP = datetime.timedelta(days=1)


def take(user, *, via: str) -> bool:
    """Count one lookup by ``user``; False (and nothing counted) when they have used up the window."""
    now = timezone.now()
    with transaction.atomic():
        # One user's lookups are counted one at a time (two tabs, two workers): their own row is the lock.
        get_user_model().objects.select_for_update().filter(pk=user.pk).values_list("pk", flat=True).first()
        since = now - datetime.timedelta(seconds=access.ID_LOOKUP_WINDOW)
        if IdNumberLookup.objects.recent(user, since).count() >= access.ID_LOOKUP_LIMIT:
            return False
        IdNumberLookup.objects.filter(user=user, at__lt=now - KEEP).delete()
        IdNumberLookup.objects.create(user=user, at=now, via=via)
    return True
