"""``Cache-Control: private, no-store`` on every answer of the application: nothing it sends is kept by a browser
or a proxy.

Pages show names, ID numbers and phone numbers to a signed-in user; downloads (exports, registers, evidence files,
job results) and the API carry the same; township offices share computers, where a cached page would outlive the
sign-out. The login page and the failure pages gain nothing from a cache either. Static files (CSS, JavaScript,
fonts) are not touched: WhiteNoise answers them before this middleware (it stands after WhiteNoise in
``MIDDLEWARE``), with their long cache. A response that already says ``no-store`` keeps its own header.
"""

from __future__ import annotations

NO_STORE = "private, no-store"


class NoStoreMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if "no-store" not in response.get("Cache-Control", ""):
            response["Cache-Control"] = NO_STORE
        return response
