"""GitHub's OAuth web flow, as far as the console needs it: who is signing in.

1. the browser is sent to ``{web}/login/oauth/authorize`` with the app's client id, the callback
   and a random ``state`` kept in the session;
2. GitHub sends it back to the callback with ``code`` and that ``state``;
3. the bot exchanges the code at ``{web}/login/oauth/access_token`` (with the client secret)
   and reads ``GET {api}/user`` with the token it got: the login is all it keeps.

No scope is asked for: a token without scopes reads the user's public profile, which names the
login. Permissions are then GitHub's answer to the bot's own credentials (``permissions:``).
The user's token is used for that one request and never stored.
"""

from __future__ import annotations

import urllib.parse
from typing import Any

import httpx

USER_AGENT = "gitops-bot-console"


class OAuthFailed(Exception):
    """The sign-in could not be completed; the message says why, for the viewer."""


def authorize_url(web_url: str, client_id: str, redirect_uri: str, state: str) -> str:
    query = {"client_id": client_id, "redirect_uri": redirect_uri, "state": state, "allow_signup": "false"}
    return f"{web_url.rstrip('/')}/login/oauth/authorize?{urllib.parse.urlencode(query)}"


async def signed_in_login(
    *,
    web_url: str,
    api_url: str,
    client_id: str,
    client_secret: str,
    code: str,
    redirect_uri: str,
    timeout: float,
) -> str:
    """The GitHub login that approved the sign-in whose callback carried ``code``."""
    async with httpx.AsyncClient(timeout=timeout, headers={"User-Agent": USER_AGENT}) as client:
        token = await _exchange(client, web_url, client_id, client_secret, code, redirect_uri)
        try:
            answer = await client.get(
                f"{api_url.rstrip('/')}/user",
                headers={
                    "Authorization": f"Bearer {token}",
                    "Accept": "application/vnd.github+json",
                    "X-GitHub-Api-Version": "2022-11-28",
                },
            )
        except httpx.HTTPError as error:
            raise OAuthFailed(f"GitHub could not be reached to read who signed in ({error})") from None
    if answer.status_code != 200:
        raise OAuthFailed(f"GitHub did not say who signed in (GET /user answered {answer.status_code})")
    login = _json(answer).get("login")
    if not isinstance(login, str) or not login:
        raise OAuthFailed("GitHub's answer to GET /user named no login")
    return login


async def _exchange(
    client: httpx.AsyncClient, web_url: str, client_id: str, client_secret: str, code: str, redirect_uri: str
) -> str:
    try:
        answer = await client.post(
            f"{web_url.rstrip('/')}/login/oauth/access_token",
            data={
                "client_id": client_id,
                "client_secret": client_secret,
                "code": code,
                "redirect_uri": redirect_uri,
            },
            headers={"Accept": "application/json"},
        )
    except httpx.HTTPError as error:
        raise OAuthFailed(f"GitHub could not be reached to finish the sign-in ({error})") from None
    body = _json(answer)
    # GitHub answers 200 with an "error" field for a bad code, client or callback.
    if answer.status_code != 200 or "error" in body:
        why = body.get("error_description") or body.get("error") or f"HTTP {answer.status_code}"
        raise OAuthFailed(f"GitHub refused to finish the sign-in: {why}")
    token = body.get("access_token")
    if not isinstance(token, str) or not token:
        raise OAuthFailed("GitHub's answer held no access token")
    return token


def _json(answer: httpx.Response) -> dict[str, Any]:
    try:
        body = answer.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
