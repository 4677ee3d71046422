"""API tokens: a user makes, lists and revokes their own (``/api/v1/tokens/``).

A token is made with a name saying where it is used; the key (``bz_`` + 40 random characters) is in the answer
to that one request and never again: only its SHA-256 is stored, with its first characters to tell tokens apart.
Revoking keeps the row (who had which token, until when) but the key no longer signs anyone in.
"""

from __future__ import annotations

import secrets

from django.core.exceptions import ValidationError
from django.db import transaction
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.response import Response

from bazhou.core.api.authentication import digest
from bazhou.core.models import ApiToken

KEY_PREFIX = "bz_"
SHOWN_PREFIX = 10
MAX_ACTIVE = 20
NAME_REQUIRED = "请填写令牌名称，说明用在哪里。"
NAME_TAKEN = "您已有同名的有效令牌，请换一个名称。"
TOO_MANY = f"每人最多 {MAX_ACTIVE} 个有效令牌，请先撤销不用的令牌。"


@transaction.atomic
def token_create(*, user, name: str) -> tuple[ApiToken, str]:
    """Make a token for ``user``; returns it with its key, which is shown this once."""
    name = (name or "").strip()
    errors = {}
    active = ApiToken.objects.select_for_update().filter(user=user, revoked_at__isnull=True)
    if not name:
        errors["name"] = [NAME_REQUIRED]
    elif active.filter(name=name).exists():
        errors["name"] = [NAME_TAKEN]
    elif len(active) >= MAX_ACTIVE:
        errors["name"] = [TOO_MANY]
    if errors:
        raise ValidationError(errors)
    key = KEY_PREFIX + secrets.token_urlsafe(30)
    token = ApiToken(user=user, name=name, prefix=key[:SHOWN_PREFIX], key_hash=digest(key))
    token.full_clean()
    token.save()
    return token, key


@transaction.atomic
def token_revoke(*, user, token_id: int) -> ApiToken:
    """Revoke one of ``user``'s own tokens (anyone else's is a 404); revoking twice changes nothing."""
    token = get_object_or_404(ApiToken.objects.select_for_update().filter(user=user), pk=token_id)
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    return token


class TokenSerializer(serializers.ModelSerializer):
    class Meta:
        model = ApiToken
        fields = ["id", "name", "prefix", "created_at", "last_used_at", "revoked_at"]
        read_only_fields = ["id", "prefix", "created_at", "last_used_at", "revoked_at"]
        extra_kwargs = {"name": {"error_messages": {"blank": NAME_REQUIRED, "required": NAME_REQUIRED}}}


class NewTokenSerializer(TokenSerializer):
    key = serializers.SerializerMethodField(help_text="令牌本身：只在这一次响应中出现，请立即妥善保存。")

    class Meta(TokenSerializer.Meta):
        fields = [*TokenSerializer.Meta.fields, "key"]

    def get_key(self, token) -> str:
        return self.context["key"]


@extend_schema_view(
    list=extend_schema(
        summary="我的令牌（不含已撤销的）",
        parameters=[OpenApiParameter("all", OpenApiTypes.INT, enum=[1], description="1：也列出已撤销的令牌")],
        tags=["令牌"],
    ),
    create=extend_schema(
        summary="新建令牌（响应中的 key 只出现这一次）",
        request=TokenSerializer,
        responses={201: NewTokenSerializer},
        tags=["令牌"],
    ),
    destroy=extend_schema(summary="撤销令牌", tags=["令牌"]),
)
class TokenViewSet(mixins.ListModelMixin, mixins.CreateModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet):
    """A user's own tokens; nobody sees or revokes anyone else's."""

    serializer_class = TokenSerializer
    lookup_value_regex = "[0-9]+"
    pagination_class = None
    filter_backends = []

    def get_queryset(self):
        tokens = ApiToken.objects.filter(user=self.request.user)
        if self.request.query_params.get("all") != "1":
            tokens = tokens.filter(revoked_at__isnull=True)
        return tokens

    def create(self, request, *args, **kwargs):
        serializer = TokenSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        token, key = token_create(user=request.user, name=serializer.validated_data["name"])
        return Response(NewTokenSerializer(token, context={"key": key}).data, status=status.HTTP_201_CREATED)

    def destroy(self, request, *args, **kwargs):
        token_revoke(user=request.user, token_id=self.kwargs["pk"])
        return Response(status=status.HTTP_204_NO_CONTENT)
