"""The OpenAPI 3 schema (drf-spectacular) and the documentation page (Swagger UI, served from static files).

The page works without the internet: Swagger UI comes from drf-spectacular-sidecar's static files, and the
page's own script is static/js/api-docs.js (no inline script, so it runs under a strict Content-Security-Policy);
the schema's address and the CSRF cookie's name reach it through ``json_script``.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET
from drf_spectacular.extensions import OpenApiAuthenticationExtension

SWAGGER = "drf_spectacular_sidecar/swagger-ui-dist"


class TokenScheme(OpenApiAuthenticationExtension):
    """How the schema describes bazhou.core.api.authentication.TokenAuthentication."""

    target_class = "bazhou.core.api.authentication.TokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": (
                "令牌：请求头 Authorization: Token <令牌>（也可写 Bearer <令牌>）。令牌在 /api/v1/tokens/ 新建。"
            ),
        }


@login_required
@require_GET
def docs(request):
    config = {"schemaUrl": reverse("api:schema"), "csrfCookieName": settings.CSRF_COOKIE_NAME}
    return render(request, "api/docs.html", {"config": config, "swagger": SWAGGER})
