"""Programs sign in with a token: ``Authorization: Token <key>`` (or ``Bearer <key>``).

The key is looked up by its SHA-256 (only the digest is stored, bazhou/api/tokens.py). A revoked token, or
one whose user is inactive, signs nobody in: 401. The browser uses its session instead (DRF's
SessionAuthentication, which keeps the CSRF check on writes).
"""

from __future__ import annotations

import datetime
import hashlib

from django.utils import timezone
from rest_framework import authentication, exceptions

from bazhou.core.models import ApiToken

KEYWORDS = (b"token", b"bearer")
# "Last used" is written at most once a minute per token, not on every request.
TOUCH_EVERY = datetime.timedelta(minutes=1)
BAD_HEADER = "请求头 Authorization 格式应为：Token <令牌>。"
BAD_TOKEN = "令牌无效或已撤销。"


def digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


class TokenAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        parts = authentication.get_authorization_header(request).split()
        if not parts or parts[0].lower() not in KEYWORDS:
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(BAD_HEADER)
        try:
            key = parts[1].decode("ascii")
        except UnicodeError:
            raise exceptions.AuthenticationFailed(BAD_TOKEN) from None
        token = (
            ApiToken.objects.select_related("user")
            .filter(key_hash=digest(key), revoked_at__isnull=True, user__is_active=True)
            .first()
        )
        if token is None:
            raise exceptions.AuthenticationFailed(BAD_TOKEN)
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at > TOUCH_EVERY:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
            token.last_used_at = now
        return token.user, token

    def authenticate_header(self, request):
        return 'Token realm="api"'
