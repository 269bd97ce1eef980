"""Default deny: no path outside ``bot.console.access.OPEN_PATHS`` is served without a viewer.

The pages ask for their viewer with ``Depends(require_viewer)``; this gate asks the same question
(:func:`bot.console.security.identify`) before any route runs, so a route that forgets to, the
older JSON routes, and paths that do not exist are refused to an unknown visitor all the same.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Request
from fastapi.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from bot.console.access import is_open_path
from bot.console.security import ConsoleRefusal, identify

Refuse = Callable[[Request, ConsoleRefusal], Awaitable[Response]]


class ConsoleGate:
    """ASGI middleware inside the session middleware (it reads the session)."""

    def __init__(self, app: ASGIApp, *, refuse: Refuse) -> None:
        self.app = app
        self.refuse = refuse

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or is_open_path(scope.get("path", "")):
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            identify(request)
        except ConsoleRefusal as refusal:
            response = await self.refuse(request, refusal)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
