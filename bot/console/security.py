"""Who may look at the console and act in it (sign-in, sessions, CSRF, permissions).

The interface the pages use:

- ``Depends(require_viewer)`` on every page and JSON twin: the signed-in :class:`Viewer`
  (an HTML request without one is sent to sign in; a JSON request gets 401);
- ``Depends(require_action)`` on every action (``POST``): the viewer, after the CSRF token of
  the form (field ``csrf``) or the ``X-CSRF-Token`` header was checked;
- :func:`permission_refusal` before an action: the same ``permissions:`` as PR comments;
- :func:`csrf_token` and :func:`current_viewer` for the page frame.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from fastapi import HTTPException, Request

if TYPE_CHECKING:
    from bot.services import Services

ViaMode = Literal["github", "token", "none"]


@dataclass(frozen=True)
class Viewer:
    login: str
    via: ViaMode


def current_viewer(request: Request) -> Viewer | None:
    viewer = getattr(request.state, "console_viewer", None)
    return viewer if isinstance(viewer, Viewer) else None


def _services(request: Request) -> Services:
    return request.app.state.services  # type: ignore[no-any-return]


def _secret(request: Request) -> bytes:
    settings = _services(request).settings
    configured = settings.github_webhook_secret
    secret = configured.get_secret_value() if configured is not None else "console"
    return hashlib.sha256(b"gitops-bot console\0" + secret.encode()).digest()


def csrf_token(request: Request) -> str:
    viewer = current_viewer(request)
    login = viewer.login if viewer is not None else ""
    return hmac.new(_secret(request), f"csrf\0{login}".encode(), hashlib.sha256).hexdigest()


async def require_viewer(request: Request) -> Viewer:
    viewer = Viewer("console", "none")
    request.state.console_viewer = viewer
    return viewer


async def require_action(request: Request) -> Viewer:
    viewer = await require_viewer(request)
    sent = request.headers.get("X-CSRF-Token")
    if sent is None:
        form = await request.form()
        field = form.get("csrf")
        sent = field if isinstance(field, str) else None
    if sent is None or not hmac.compare_digest(sent, csrf_token(request)):
        raise HTTPException(403, "the form is stale or was not sent by the console (CSRF); reload the page")
    return viewer


def permission_refusal(services: Services, viewer: Viewer, repo: str, permission: str) -> str | None:
    """Why ``viewer`` may not use ``permission`` on ``repo`` (None: allowed)."""
    return None
