"""Who may look at the console and act in it (sign-in, sessions, CSRF, permissions).

The interface the pages use:

- ``Depends(require_viewer)`` on every page and JSON twin: the signed-in :class:`Viewer`
  (an HTML request without one is sent to sign in; a JSON request gets 401);
- ``Depends(require_action)`` on every action (``POST``): the viewer, after the CSRF token of
  the form (field ``csrf``) or the ``X-CSRF-Token`` header was checked;
- :func:`permission_refusal` before an action: the same ``permissions:`` as PR comments;
- :func:`csrf_token` and :func:`current_viewer` for the page frame.

How a viewer is known depends on ``GITOPS_BOT_CONSOLE_AUTH`` (:class:`ConsoleAccess`): ``github``
reads the login a GitHub sign-in left in the signed session cookie (``bot.console.signin``);
``token`` accepts ``Authorization: Bearer <token>``, or a session begun by one visit with
``?token=`` (or the sign-in form); ``none`` (served on loopback only) lets every local request in.
``token`` and ``none`` act as ``GITOPS_BOT_CONSOLE_LOGIN``.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import structlog
from fastapi import Request

from bot.adapters.forge.port import ForgeError
from bot.commands.authorization import authorize
from bot.console.access import (
    Mode,
    effective_mode,
    is_local_peer,
    safe_next,
    same_secret,
    token_mark,
    without_query_parameter,
)

if TYPE_CHECKING:
    from bot.services import Services
    from bot.settings import Settings

ViaMode = Literal["github", "token", "none"]

log = structlog.get_logger("gitops_bot.console")


@dataclass(frozen=True)
class Viewer:
    login: str
    via: ViaMode


@dataclass(frozen=True)
class ConsoleAccess:
    """What the console's sign-in needs from the settings, read once per app."""

    mode: Mode
    login: str  # who ``token`` and ``none`` act as
    token: str | None
    client_id: str | None
    client_secret: str | None
    github_web_url: str
    github_api_url: str
    timeout_seconds: float
    public_url: str | None

    @classmethod
    def from_settings(cls, settings: Settings) -> ConsoleAccess:
        token = settings.console_token.get_secret_value() if settings.console_token else None
        secret = settings.github_oauth_client_secret
        return cls(
            mode=effective_mode(settings.console_auth),
            login=settings.console_login,
            token=token or None,
            client_id=settings.github_oauth_client_id or None,
            client_secret=(secret.get_secret_value() or None) if secret is not None else None,
            github_web_url=settings.github_web_url,
            github_api_url=settings.github_api_url.rstrip("/"),
            timeout_seconds=settings.github_timeout_seconds,
            public_url=settings.public_url,
        )


class ConsoleRefusal(Exception):
    """A request the console does not serve: answered as a page or JSON by ``bot.console.signin``.

    ``sign_in``: the viewer is unknown (a page: go and sign in; JSON: 401). ``location``: a
    redirect (after ``?token=`` signed the visit in)."""

    def __init__(
        self, status: int, message: str, *, sign_in: bool = False, location: str | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.sign_in = sign_in
        self.location = location


def console_access(request: Request) -> ConsoleAccess:
    found = getattr(request.app.state, "console_access", None)
    if isinstance(found, ConsoleAccess):
        return found
    access = ConsoleAccess.from_settings(request.app.state.services.settings)
    request.app.state.console_access = access
    return access


def current_viewer(request: Request) -> Viewer | None:
    viewer = getattr(request.state, "console_viewer", None)
    return viewer if isinstance(viewer, Viewer) else None


def csrf_token(request: Request) -> str:
    """The session's CSRF token (made on first use): forms carry it back as ``csrf``."""
    session = request.session
    token = session.get("csrf")
    if not isinstance(token, str) or not token:
        token = secrets.token_hex(32)
        session["csrf"] = token
    return token


def begin_session(request: Request, login: str, via: ViaMode, *, mark: str | None = None) -> None:
    """A new session for ``login`` (a fresh CSRF token: nothing of the session before survives)."""
    session = request.session
    session.clear()
    session.update({"login": login, "via": via, "csrf": secrets.token_hex(32)})
    if mark is not None:
        session["mark"] = mark


def _bearer(request: Request) -> str | None:
    scheme, _, credential = request.headers.get("Authorization", "").partition(" ")
    return credential.strip() if scheme.lower() == "bearer" and credential.strip() else None


def _from_session(request: Request, access: ConsoleAccess) -> Viewer | None:
    session = request.session
    login, via = session.get("login"), session.get("via")
    if not isinstance(login, str) or not login or via != access.mode:
        return None
    if access.mode == "token" and not (access.token and session.get("mark") == token_mark(access.token)):
        return None  # the token changed since this session began
    return Viewer(login, via)


def _token_viewer(request: Request, access: ConsoleAccess) -> Viewer | None:
    sent = _bearer(request)
    if sent is not None:
        if not same_secret(sent, access.token):
            raise ConsoleRefusal(401, "the bearer token is not the console's token", sign_in=True)
        request.state.console_bearer = True
        return Viewer(access.login, "token")
    visited = request.query_params.get("token")
    if visited is not None and request.method in ("GET", "HEAD"):
        if not same_secret(visited, access.token):
            raise ConsoleRefusal(401, "that token is not the console's token", sign_in=True)
        begin_session(request, access.login, "token", mark=token_mark(visited))
        back = safe_next(without_query_parameter(request.url.path, request.url.query, "token"))
        raise ConsoleRefusal(303, "signed in", location=back)
    return _from_session(request, access)


async def require_viewer(request: Request) -> Viewer:
    """The signed-in viewer, or a refusal (sign in; 401 for JSON)."""
    return identify(request)


def identify(request: Request) -> Viewer:
    """Who sent ``request`` (kept in ``request.state``), or a :class:`ConsoleRefusal`."""
    access = console_access(request)
    viewer: Viewer | None
    if access.mode == "none":
        peer = request.client.host if request.client is not None else None
        if not is_local_peer(peer):
            raise ConsoleRefusal(
                403, "this console has no sign-in (GITOPS_BOT_CONSOLE_AUTH=none) and serves this machine only"
            )
        viewer = Viewer(access.login, "none")
    elif access.mode == "token":
        viewer = _token_viewer(request, access)
    else:
        viewer = _from_session(request, access)
    if viewer is None:
        raise ConsoleRefusal(401, "sign in to the console first", sign_in=True)
    request.state.console_viewer = viewer
    return viewer


CLIENT_HEADER = "X-GitOps-Bot-Client"


async def require_action(request: Request) -> Viewer:
    """The viewer of an action, after its CSRF token was checked (not for bearer requests:
    a browser never adds an Authorization header by itself, so they cannot be forged)."""
    viewer = await require_viewer(request)
    if getattr(request.state, "console_bearer", False):
        return viewer
    # A request naming its client in this header comes from a program (`gitops-bot pr`), not from
    # a form: a page of another site can only send it after a CORS preflight, which is never allowed.
    if request.headers.get(CLIENT_HEADER):
        return viewer
    sent = request.headers.get("X-CSRF-Token")
    if sent is None:
        form = await request.form()
        field = form.get("csrf")
        sent = field if isinstance(field, str) else None
    expected = request.session.get("csrf")
    if not same_secret(sent, expected if isinstance(expected, str) else None):
        raise ConsoleRefusal(
            403, "the form is stale or was not sent by the console (CSRF); reload the page and try again"
        )
    return viewer


def permission_refusal(services: Services, viewer: Viewer, repo: str, permission: str) -> str | None:
    """Why ``viewer`` may not use ``permission`` on ``repo`` (None: allowed).

    The decision PR comments and Slack get (``bot.commands.authorization.authorize`` over the
    repository's ``permissions:``), for the viewer's GitHub login. Blocking I/O: call it from a
    thread. Without forge credentials (dry run) nobody can be asked, and nothing is performed."""
    if not services.settings.has_forge_credentials and services.dry_run:
        return None
    try:
        forge = services.forge_for_repo(repo)
        config = services.repo_config(repo).config
        allowed, why = authorize(forge, repo, config, permission, viewer.login)
    except ForgeError as error:
        log.warning("console.permission_lookup_failed", repo=repo, login=viewer.login, error=str(error))
        return f"GitHub could not tell whether {viewer.login} may {permission} on {repo}: {error}"
    return None if allowed else why
