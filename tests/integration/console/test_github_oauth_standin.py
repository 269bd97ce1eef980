"""The GitHub stand-in's OAuth web flow answers in GitHub's documented shapes, and the console's
client (``bot.console.github_oauth``) reads them: the login, or why the sign-in failed."""

from __future__ import annotations

import asyncio
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bot.console.github_oauth import OAuthFailed, authorize_url, signed_in_login
from tests.support.github_standin import GitHubStandIn

CALLBACK = "https://console.example.com/login/callback"


@pytest.fixture
def standin(tmp_path: Path) -> Iterator[GitHubStandIn]:
    with GitHubStandIn(tmp_path / "github") as started:
        started.configure_oauth_app("Iv1.app", "app-secret", callback_url=CALLBACK)
        started.approve_oauth_as("octocat")
        yield started


def authorize(standin: GitHubStandIn, **changes: str) -> dict[str, list[str]]:
    """Open the authorize page; the query of where GitHub sends the browser back."""
    url = authorize_url(standin.base_url, "Iv1.app", CALLBACK, "the-state")
    if changes:
        parts = urllib.parse.urlsplit(url)
        query = dict(urllib.parse.parse_qsl(parts.query)) | changes
        url = parts._replace(query=urllib.parse.urlencode(query)).geturl()
    answer = httpx.get(url, follow_redirects=False)
    assert answer.status_code == 302, answer.text
    location = answer.headers["location"]
    assert location.startswith(CALLBACK + "?")
    return urllib.parse.parse_qs(urllib.parse.urlsplit(location).query)


def exchange(standin: GitHubStandIn, code: str, **extra: str) -> httpx.Response:
    data = {"client_id": "Iv1.app", "client_secret": "app-secret", "code": code, **extra}
    return httpx.post(f"{standin.base_url}/login/oauth/access_token", data=data)


def test_a_code_becomes_a_token_once_and_the_token_reads_the_user(standin: GitHubStandIn) -> None:
    back = authorize(standin)
    assert back["state"] == ["the-state"] and len(back["code"][0]) == 20
    answer = exchange(standin, back["code"][0])
    assert answer.headers["content-type"].startswith("application/x-www-form-urlencoded")
    fields = dict(urllib.parse.parse_qsl(answer.text))
    assert fields["token_type"] == "bearer" and fields["access_token"].startswith("gho_")
    user = httpx.get(
        f"{standin.base_url}/user", headers={"Authorization": f"Bearer {fields['access_token']}"}
    )
    assert user.status_code == 200 and user.json()["login"] == "octocat" and user.json()["type"] == "User"
    again = exchange(standin, back["code"][0]).text
    assert dict(urllib.parse.parse_qsl(again))["error"] == "bad_verification_code"
    assert httpx.get(f"{standin.base_url}/user").status_code == 401


def test_errors_are_githubs(standin: GitHubStandIn) -> None:
    code = authorize(standin)["code"][0]
    wrong_secret = httpx.post(
        f"{standin.base_url}/login/oauth/access_token",
        json={"client_id": "Iv1.app", "client_secret": "nope", "code": code},
        headers={"Accept": "application/json"},
    )
    assert wrong_secret.status_code == 200
    assert wrong_secret.json()["error"] == "incorrect_client_credentials"
    assert wrong_secret.json()["error_uri"].startswith("https://docs.github.com/")
    mismatch = exchange(standin, code, redirect_uri="https://console.example.com/elsewhere")
    assert dict(urllib.parse.parse_qsl(mismatch.text))["error"] == "redirect_uri_mismatch"

    elsewhere = authorize(standin, redirect_uri="https://evil.example/login/callback")
    assert elsewhere["error"] == ["redirect_uri_mismatch"] and elsewhere["state"] == ["the-state"]
    standin.approve_oauth_as(None)
    assert authorize(standin)["error"] == ["access_denied"]
    unknown = httpx.get(f"{standin.base_url}/login/oauth/authorize?client_id=Iv1.unknown")
    assert unknown.status_code == 404 and "text/html" in unknown.headers["content-type"]


def test_the_console_reads_the_login_or_says_why_not(standin: GitHubStandIn) -> None:
    base = standin.base_url

    def sign_in(code: str, secret: str = "app-secret") -> str:
        return asyncio.run(
            signed_in_login(
                web_url=base,
                api_url=base,
                client_id="Iv1.app",
                client_secret=secret,
                code=code,
                redirect_uri=CALLBACK,
                timeout=5,
            )
        )

    assert sign_in(authorize(standin)["code"][0]) == "octocat"
    with pytest.raises(OAuthFailed, match="The code passed is incorrect or expired"):
        sign_in("not-a-code")
    with pytest.raises(OAuthFailed, match="client_id and/or client_secret passed are incorrect"):
        sign_in(authorize(standin)["code"][0], secret="wrong")
    standin.stop()
    with pytest.raises(OAuthFailed, match="could not be reached"):
        sign_in("any")
