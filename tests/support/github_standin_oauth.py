"""GitHub's OAuth web flow for the GitHub stand-in (`github_standin`), in GitHub's documented shapes.

- ``GET /login/oauth/authorize?client_id&redirect_uri&state[&scope&allow_signup]``: GitHub's
  consent page, approved at once for the login set by ``approve_oauth_as`` (a person clicking
  "Authorize"): a ``302`` to the callback with ``code`` and ``state``. Denied (``approve_oauth_as
  (None)``): to the callback with ``error=access_denied``. A ``redirect_uri`` whose host or port
  differ from the registered callback URL, or whose path is not under it, goes to the registered
  callback with ``error=redirect_uri_mismatch``; an unknown client id is GitHub's 404 page.
- ``POST /login/oauth/access_token`` (parameters as a form, JSON or the query): exchanges a
  code (single use, ten minutes) for a ``gho_`` token; answers form-encoded
  (``access_token=…&scope=…&token_type=bearer``) unless ``Accept: application/json``. Errors are
  ``200`` answers with ``error``, ``error_description`` and ``error_uri``
  (``incorrect_client_credentials``, ``redirect_uri_mismatch``, ``bad_verification_code``).
- ``GET /user`` (an API route): the authenticated user, for that token (or any other).

On github.com these paths live on the web host and the API on ``api.github.com``; the stand-in
serves both on one address, like GitHub Enterprise Server without ``/api/v3``.
"""

from __future__ import annotations

import json
import secrets
import time
import urllib.parse
from dataclasses import dataclass
from typing import Any

CODE_LIFETIME_SECONDS = 600
TROUBLESHOOTING = (
    "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors/"
)
AUTHORIZATION_ERRORS = (
    "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-authorization-request-errors/"
)
NOT_FOUND_PAGE = (
    b"<!DOCTYPE html><html><head><title>Page not found \xc2\xb7 GitHub</title></head>"
    b"<body>Not Found</body></html>"
)
MISMATCH = "The redirect_uri MUST match the registered callback URL for this application."


@dataclass(frozen=True)
class OAuthApp:
    client_id: str
    client_secret: str
    callback_url: str


@dataclass(frozen=True)
class Grant:
    client_id: str
    login: str
    redirect_uri: str | None
    scope: str
    expires: float


Answer = tuple[int, dict[str, str], bytes]


class OAuthMixin:
    """The OAuth routes of ``GitHubStandIn`` (which provides ``_lock``, ``add_token``, ``_user_json``)."""

    def _init_oauth(self) -> None:
        self._oauth_apps: dict[str, OAuthApp] = {}
        self._oauth_grants: dict[str, Grant] = {}
        self._oauth_approver: str | None = None
        self.oauth_tokens: list[str] = []  # read-back: every token the exchange issued
        self.oauth_requests: list[tuple[str, str, dict[str, str]]] = []  # (method, path, parameters)

    # -- set-up hooks ------------------------------------------------------------------------------

    def configure_oauth_app(self, client_id: str, client_secret: str, *, callback_url: str) -> None:
        """Register an OAuth app, as in GitHub's settings (its "Authorization callback URL")."""
        with self._lock:  # type: ignore[attr-defined]
            self._oauth_apps[client_id] = OAuthApp(client_id, client_secret, callback_url)

    def approve_oauth_as(self, login: str | None) -> None:
        """Who is signed in to GitHub and clicks "Authorize" (None: they click "Cancel")."""
        with self._lock:  # type: ignore[attr-defined]
            self._oauth_approver = login

    # -- routing -----------------------------------------------------------------------------------

    def _oauth_dispatch(
        self, method: str, path: str, query: str, headers: dict[str, str], raw: bytes
    ) -> Answer | None:
        """The answer for an OAuth web path; None for every other path (the API's)."""
        if path not in ("/login/oauth/authorize", "/login/oauth/access_token"):
            return None
        parameters = {key: values[0] for key, values in urllib.parse.parse_qs(query).items()}
        lowered = {key.lower(): value for key, value in headers.items()}
        if method == "POST":
            parameters.update(_body_parameters(lowered.get("content-type", ""), raw))
        with self._lock:  # type: ignore[attr-defined]
            self.oauth_requests.append((method, path, dict(parameters)))
            if path == "/login/oauth/authorize" and method == "GET":
                return self._authorize(parameters)
            if path == "/login/oauth/access_token" and method == "POST":
                return self._access_token(parameters, lowered.get("accept", ""))
        return 404, {"Content-Type": "text/html; charset=utf-8"}, NOT_FOUND_PAGE

    def _authorize(self, parameters: dict[str, str]) -> Answer:
        app = self._oauth_apps.get(parameters.get("client_id", ""))
        if app is None:
            return 404, {"Content-Type": "text/html; charset=utf-8"}, NOT_FOUND_PAGE
        state = parameters.get("state")
        redirect_uri = parameters.get("redirect_uri")
        if redirect_uri is not None and not _under(redirect_uri, app.callback_url):
            return _redirect(
                app.callback_url,
                error="redirect_uri_mismatch",
                error_description=MISMATCH,
                error_uri=AUTHORIZATION_ERRORS + "#redirect-uri-mismatch",
                state=state,
            )
        target = redirect_uri or app.callback_url
        if self._oauth_approver is None:
            return _redirect(
                target,
                error="access_denied",
                error_description="The user has denied your application access.",
                error_uri=AUTHORIZATION_ERRORS + "#access-denied",
                state=state,
            )
        code = secrets.token_hex(10)
        self._oauth_grants[code] = Grant(
            app.client_id, self._oauth_approver, redirect_uri, parameters.get("scope", ""),
            time.time() + CODE_LIFETIME_SECONDS,
        )  # fmt: skip
        return _redirect(target, code=code, state=state)

    def _access_token(self, parameters: dict[str, str], accept: str) -> Answer:
        app = self._oauth_apps.get(parameters.get("client_id", ""))
        if app is None or not secrets.compare_digest(parameters.get("client_secret", ""), app.client_secret):
            return _token_answer(accept, _error("incorrect_client_credentials",
                "The client_id and/or client_secret passed are incorrect."))  # fmt: skip
        grant = self._oauth_grants.pop(parameters.get("code", ""), None)
        if grant is None or grant.client_id != app.client_id or grant.expires < time.time():
            return _token_answer(accept, _error("bad_verification_code",
                "The code passed is incorrect or expired."))  # fmt: skip
        sent = parameters.get("redirect_uri")
        if sent is not None and sent != (grant.redirect_uri or app.callback_url):
            return _token_answer(accept, _error("redirect_uri_mismatch", MISMATCH))
        token = f"gho_{secrets.token_hex(18)}"
        self.add_token(token, login=grant.login)  # type: ignore[attr-defined]
        self.oauth_tokens.append(token)
        return _token_answer(accept, {"access_token": token, "token_type": "bearer", "scope": grant.scope})

    # -- the API side ------------------------------------------------------------------------------

    def _oauth_api_routes(self) -> list[tuple[str, str, Any]]:
        return [("GET", r"/user", self._h_authenticated_user)]

    def _h_authenticated_user(self, *, identity: Any, **_: Any) -> tuple[int, Any, dict[str, str]]:
        standin: Any = self
        user = standin._user_json(identity.login)
        user.update({
            "avatar_url": f"{standin.base_url}/avatars/{identity.login}",
            "gravatar_id": "",
            "name": None, "company": None, "blog": "", "location": None, "email": None,
            "hireable": None, "bio": None, "twitter_username": None,
            "public_repos": 0, "public_gists": 0, "followers": 0, "following": 0,
            "created_at": "2020-01-01T00:00:00Z", "updated_at": "2020-01-01T00:00:00Z",
        })  # fmt: skip
        return 200, user, {"X-OAuth-Scopes": "", "X-Accepted-OAuth-Scopes": ""}


def _body_parameters(content_type: str, raw: bytes) -> dict[str, str]:
    if not raw:
        return {}
    if "json" in content_type:
        try:
            loaded = json.loads(raw)
        except ValueError:
            return {}
        return {str(k): str(v) for k, v in loaded.items()} if isinstance(loaded, dict) else {}
    return {key: values[0] for key, values in urllib.parse.parse_qs(raw.decode("utf-8", "replace")).items()}


def _under(redirect_uri: str, callback_url: str) -> bool:
    """GitHub's rule: same scheme, host and port as the callback URL, and a path under its path."""
    sent, registered = urllib.parse.urlsplit(redirect_uri), urllib.parse.urlsplit(callback_url)
    if (sent.scheme, sent.hostname, sent.port) != (registered.scheme, registered.hostname, registered.port):
        return False
    base = registered.path.rstrip("/")
    return sent.path == base or sent.path.startswith(base + "/") or not base


def _redirect(target: str, **parameters: str | None) -> Answer:
    kept = {key: value for key, value in parameters.items() if value is not None}
    separator = "&" if urllib.parse.urlsplit(target).query else "?"
    location = f"{target}{separator}{urllib.parse.urlencode(kept)}"
    body = f'<html><body>You are being <a href="{location}">redirected</a>.</body></html>'.encode()
    return 302, {"Location": location, "Content-Type": "text/html; charset=utf-8"}, body


def _error(code: str, description: str) -> dict[str, str]:
    anchor = code.replace("_", "-")
    return {"error": code, "error_description": description, "error_uri": f"{TROUBLESHOOTING}#{anchor}"}


def _token_answer(accept: str, fields: dict[str, str]) -> Answer:
    if "application/json" in accept:
        return 200, {"Content-Type": "application/json; charset=utf-8"}, json.dumps(fields).encode()
    body = urllib.parse.urlencode(fields).encode()
    return 200, {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}, body
