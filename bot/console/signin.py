"""Signing in to the console: sessions, the sign-in routes, and how refusals are answered.

:func:`install_console_security` is what the app factory calls: the signed session cookie
(HttpOnly, SameSite=Lax, Secure per ``GITOPS_BOT_CONSOLE_COOKIE_SECURE``, 12 hours), the security
headers on every answer, the handler that turns a :class:`ConsoleRefusal` into a page (sign in,
or why not) or JSON (401/403), and these routes:

- ``GET /login``: ``github``: off to GitHub's authorize page (a random ``state`` in the session);
  ``token``: the form asking for the token (``?token=`` signs in directly); ``none``: back home;
- ``POST /login``: the token form (CSRF-checked: nobody can sign a browser in from elsewhere);
- ``GET /login/callback``: GitHub's way back: ``state`` checked, the code exchanged, the login
  read, and whether it may look (``status`` permission on one of the bot's repositories);
- ``POST /logout``: the session ends.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.middleware.sessions import SessionMiddleware

from bot.console.access import (
    SESSION_COOKIE,
    SESSION_MAX_AGE_SECONDS,
    safe_next,
    same_secret,
    session_key,
    sign_in_repos,
    token_mark,
    wants_page,
    without_query_parameter,
)
from bot.console.gate import ConsoleGate
from bot.console.github_oauth import OAuthFailed, authorize_url, signed_in_login
from bot.console.headers import SecurityHeaders
from bot.console.security import (
    ConsoleAccess,
    ConsoleRefusal,
    Viewer,
    begin_session,
    console_access,
    csrf_token,
    current_viewer,
    permission_refusal,
    require_action,
)

if TYPE_CHECKING:
    from bot.services import Services


def install_console_security(app: FastAPI, services: Services) -> None:
    """Sessions, security headers, refusals as pages or JSON, and the sign-in routes."""
    settings = services.settings
    access = ConsoleAccess.from_settings(settings)
    app.state.console_access = access
    # Outermost first: headers on every answer, then the session, then the gate (default deny).
    app.add_middleware(ConsoleGate, refuse=refusal_response)
    app.add_middleware(
        SessionMiddleware,
        secret_key=session_key(settings, access.mode) or secrets.token_hex(32),
        session_cookie=SESSION_COOKIE,
        max_age=SESSION_MAX_AGE_SECONDS,
        same_site="lax",
        # `serve` decides when unset (serving_settings); an app built elsewhere (tests) sets no flag.
        https_only=bool(settings.console_cookie_secure),
    )
    app.add_middleware(SecurityHeaders)
    app.add_exception_handler(ConsoleRefusal, refusal_response)  # type: ignore[arg-type]
    app.include_router(build_signin_router(services))


def gate_page(request: Request, status: int, **context: Any) -> HTMLResponse:
    """The sign-in page, or a refusal's: no navigation, no banners, nothing of the bot's state."""
    services = request.app.state.services
    context.setdefault("message", None)
    context.setdefault("form", None)
    context.setdefault("next", "/")
    body = services.templates.get_template("console/signin.html.j2").render(
        csrf=csrf_token(request), viewer=current_viewer(request), status=status, **context
    )
    return HTMLResponse(body, status_code=status)


async def refusal_response(request: Request, refusal: ConsoleRefusal) -> Response:
    """A refusal as the asker understands it: a redirect, a page, or JSON."""
    if refusal.location is not None:
        return RedirectResponse(refusal.location, status_code=303)
    access = console_access(request)
    if not wants_page(request.url.path, request.headers.get("Accept")):
        headers = {"WWW-Authenticate": 'Bearer realm="gitops-bot console"'} if refusal.sign_in else None
        return JSONResponse({"detail": refusal.message}, status_code=refusal.status, headers=headers)
    here = safe_next(without_query_parameter(request.url.path, request.url.query, "token"))
    if refusal.sign_in and "token" in request.query_params and access.mode == "token":
        return gate_page(request, 401, title="Sign in", form="token", next=here, message=refusal.message)
    if refusal.sign_in:
        return RedirectResponse(f"/login?{urlencode({'next': here})}", status_code=303)
    return gate_page(request, refusal.status, title="Refused", message=refusal.message, back=here)


def _signed_in(request: Request, access: ConsoleAccess) -> bool:
    session = request.session
    return bool(session.get("login")) and session.get("via") == access.mode


def build_signin_router(services: Services) -> APIRouter:
    router = APIRouter()

    @router.get("/login", response_class=HTMLResponse)
    async def login(request: Request) -> Response:
        access = console_access(request)
        back = safe_next(request.query_params.get("next"))
        if access.mode == "none" or (_signed_in(request, access) and "token" not in request.query_params):
            return RedirectResponse(back, status_code=303)
        if access.mode == "token":
            sent = request.query_params.get("token")
            if sent is None:
                signed_out = "signed_out" in request.query_params
                return gate_page(
                    request, 200, title="Sign in", form="token", next=back, signed_out=signed_out
                )
            return await _token_sign_in(request, services, access, sent, back)
        if "signed_out" in request.query_params:
            return gate_page(request, 200, title="Signed out", form="github", next=back, signed_out=True)
        if not (access.client_id and access.client_secret):
            return gate_page(request, 503, title="Sign in", message="GitHub sign-in is not configured.")
        state = secrets.token_urlsafe(32)
        request.session.update({"oauth_state": state, "oauth_next": back})
        target = authorize_url(access.github_web_url, access.client_id, _callback_url(request, access), state)
        return RedirectResponse(target, status_code=302)

    @router.post("/login", response_class=HTMLResponse)
    async def login_form(
        request: Request, token: str = Form(""), csrf: str = Form(""), next: str = Form("/")
    ) -> Response:
        access = console_access(request)
        back = safe_next(next)
        if access.mode != "token":
            return RedirectResponse("/login", status_code=303)
        expected = request.session.get("csrf")
        if not same_secret(csrf, expected if isinstance(expected, str) else None):
            message = "The sign-in form was stale or not sent by this console; try again."
            return gate_page(request, 403, title="Sign in", form="token", next=back, message=message)
        return await _token_sign_in(request, services, access, token, back)

    @router.get("/login/callback", name="console-login-callback", response_class=HTMLResponse)
    async def login_callback(request: Request) -> Response:
        access = console_access(request)
        if access.mode != "github":
            return RedirectResponse("/login", status_code=303)
        return await _github_callback(request, services, access)

    @router.post("/logout")
    async def logout(request: Request, viewer: Viewer = Depends(require_action)) -> Response:
        request.session.clear()
        return RedirectResponse("/login?signed_out=1", status_code=303)

    return router


async def _token_sign_in(
    request: Request, services: Services, access: ConsoleAccess, sent: str, back: str
) -> Response:
    if not same_secret(sent, access.token):
        message = "That is not the console's token."
        return gate_page(request, 401, title="Sign in", form="token", next=back, message=message)
    begin_session(request, access.login, "token", mark=token_mark(sent))
    await run_in_threadpool(
        services.audit,
        kind="console.sign_in",
        actor=access.login,
        summary=f"{access.login} signed in to the console with its token",
        details={"via": "token"},
        dry_run=False,
    )
    return RedirectResponse(back, status_code=303)


def _callback_url(request: Request, access: ConsoleAccess) -> str:
    if access.public_url:
        return f"{access.public_url.rstrip('/')}/login/callback"
    return str(request.url_for("console-login-callback"))


async def _github_callback(request: Request, services: Services, access: ConsoleAccess) -> Response:
    session = request.session
    expected, back = session.pop("oauth_state", None), safe_next(session.pop("oauth_next", None))
    params = request.query_params
    again: dict[str, Any] = {"title": "Sign in", "form": "github", "next": back}
    if not isinstance(expected, str) or not same_secret(params.get("state"), expected):
        message = "This sign-in was not started here, or it expired. Sign in again."
        return gate_page(request, 400, message=message, **again)
    if "error" in params:
        why = (params.get("error_description") or params["error"]).rstrip(".")
        message = f"GitHub did not sign you in: {why}."
        return gate_page(request, 403, message=message, **again)
    try:
        login = await signed_in_login(
            web_url=access.github_web_url,
            api_url=access.github_api_url,
            client_id=access.client_id or "",
            client_secret=access.client_secret or "",
            code=params.get("code", ""),
            redirect_uri=_callback_url(request, access),
            timeout=access.timeout_seconds,
        )
    except OAuthFailed as failed:
        return gate_page(request, 502, message=f"{failed}.", **again)
    refusal = await run_in_threadpool(look_refusal, services, login)
    outcome = "refused" if refusal else "done"
    summary = f"{login} signed in to the console with GitHub" + (f", refused: {refusal}" if refusal else "")
    await run_in_threadpool(
        services.audit, kind="console.sign_in", actor=login, summary=summary, outcome=outcome,
        details={"via": "github"} | ({"reason": refusal} if refusal else {}), dry_run=False,
    )  # fmt: skip
    if refusal is not None:
        return gate_page(request, 403, message=refusal, **again)
    begin_session(request, login, "github")
    return RedirectResponse(back, status_code=303)


def look_refusal(services: Services, login: str) -> str | None:
    """Why a GitHub ``login`` may not look at the console (None: it may): it needs the ``status``
    permission (``permissions:``, default read) on one of the bot's repositories."""
    settings = services.settings
    if not settings.has_forge_credentials:
        return "the bot has no GitHub credentials to ask who may see its repositories."
    repos = sign_in_repos(settings.gitops_repos, settings.repo_allowlist)
    if not repos:
        return (
            "GitHub sign-in lets in who may see one of the bot's repositories, and none is named: "
            "set GITOPS_BOT_GITOPS_REPOS (or exact names in GITOPS_BOT_REPO_ALLOWLIST)."
        )
    viewer = Viewer(login, "github")
    reasons = []
    for repo in repos:
        refusal = permission_refusal(services, viewer, repo, "status")
        if refusal is None:
            return None
        reasons.append(f"{repo}: {refusal}")
    return f"{login} may not look at this console (" + "; ".join(reasons) + ")."
