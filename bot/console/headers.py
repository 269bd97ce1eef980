"""Security headers on every answer of the HTTP service (console, API, webhooks alike).

The console's pages load only the bot's own stylesheet and script, so the Content-Security-Policy
forbids everything else: inline scripts and styles, other origins, framing, ``<base>``, forms
posting elsewhere. The one exception is the API's Swagger UI (``/api/docs``, FastAPI's page):
its script and stylesheet come from a CDN and it starts with an inline script, so that page gets
a policy that allows exactly those (it shows no data of the bot's, only the OpenAPI schema).
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONSOLE_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
SWAGGER_CDN = "https://cdn.jsdelivr.net"
DOCS_POLICY = (
    f"default-src 'self'; img-src 'self' data: https://fastapi.tiangolo.com; "
    f"style-src 'self' 'unsafe-inline' {SWAGGER_CDN}; script-src 'self' 'unsafe-inline' {SWAGGER_CDN}; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
DOCS_PATHS = frozenset({"/api/docs", "/api/docs/oauth2-redirect"})
COMMON: Mapping[str, str] = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def security_headers(path: str) -> dict[str, str]:
    """The headers an answer for ``path`` carries."""
    policy = DOCS_POLICY if path in DOCS_PATHS else CONSOLE_POLICY
    return {"Content-Security-Policy": policy, **COMMON}


class SecurityHeaders:
    """ASGI middleware (not BaseHTTPMiddleware: server-sent event streams pass through untouched)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        added = security_headers(scope.get("path", ""))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in added.items():
                    if name not in headers:
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)
