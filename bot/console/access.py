"""Who may reach the console: the decisions, without I/O (table-tested).

- :func:`serving_refusal`: why ``gitops-bot serve`` must not start with these settings on this
  host (a console without sign-in beyond loopback, a mode without its credentials);
- :func:`serving_settings`: the settings ``serve`` runs with, the defaults that depend on where
  it serves filled in (the mode, the cookie's Secure flag);
- the small rules the sign-in flow follows: which answer a refused request gets (a page or
  JSON), where a sign-in may return to, how the session cookie's key is made.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import urllib.parse
from typing import Literal

from bot.settings import Settings

Mode = Literal["github", "token", "none"]

SESSION_COOKIE = "gitops_bot_console"
SESSION_MAX_AGE_SECONDS = 12 * 3600
# A bot that serves on loopback is reached from this machine only; these are its addresses.
LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


def is_loopback(host: str | None) -> bool:
    """Whether ``host`` (a bind address or a peer) is this machine only: 127.0.0.0/8, ::1, localhost."""
    if not host:
        return False
    name = host.strip().strip("[]").lower()
    if name in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


# What is served to anyone who reaches the port: probes, metrics, the senders' webhooks (each
# verifies its own signature), the Terraform pods' callbacks (a per-run token), sign-in, static
# files and the API's description. Every other path needs a viewer (see ``bot.console.gate``).
OPEN_PATHS = frozenset(
    {"/healthz", "/readyz", "/metrics", "/login", "/logout", "/openapi.json", "/api/docs", "/favicon.ico"}
)
OPEN_PREFIXES = ("/webhooks/", "/slack/", "/internal/", "/login/", "/console/static/", "/api/docs/")


def is_open_path(path: str) -> bool:
    """Whether ``path`` is served without a viewer."""
    return path in OPEN_PATHS or path.startswith(OPEN_PREFIXES)


def is_local_peer(host: str | None) -> bool:
    """Whether a request's peer is this machine. No peer address (a Unix socket) or a name that
    is no address (an in-process client such as Starlette's TestClient) is local too."""
    if host is None:
        return True
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return bool(host)  # servers give socket peers as addresses; a name is an in-process client
    return address.is_loopback


def effective_mode(configured: Mode | None) -> Mode:
    """The mode the app runs in: unset means ``none`` (``serve`` refuses it beyond loopback)."""
    return configured or "none"


def serving_refusal(settings: Settings, host: str) -> str | None:
    """Why ``serve --host host`` must not start with ``settings`` (None: it may)."""
    mode = settings.console_auth
    if mode in (None, "none") and not is_loopback(host):
        said = "GITOPS_BOT_CONSOLE_AUTH=none" if mode == "none" else "GITOPS_BOT_CONSOLE_AUTH is not set"
        return (
            f"refusing to serve on {host}: {said}, so anyone who reaches the port could read the "
            "console and act in it. A console without sign-in is only served on loopback "
            "(--host 127.0.0.1). Set GITOPS_BOT_CONSOLE_AUTH=github (with "
            "GITOPS_BOT_GITHUB_OAUTH_CLIENT_ID and GITOPS_BOT_GITHUB_OAUTH_CLIENT_SECRET) or "
            "GITOPS_BOT_CONSOLE_AUTH=token (with GITOPS_BOT_CONSOLE_TOKEN)."
        )
    if mode == "token" and not _secret(settings.console_token):
        return (
            "GITOPS_BOT_CONSOLE_AUTH=token needs GITOPS_BOT_CONSOLE_TOKEN "
            "(`gitops-bot init-env` writes a random one into .env)."
        )
    if mode == "github" and not (
        settings.github_oauth_client_id and _secret(settings.github_oauth_client_secret)
    ):
        return (
            "GITOPS_BOT_CONSOLE_AUTH=github needs GITOPS_BOT_GITHUB_OAUTH_CLIENT_ID and "
            "GITOPS_BOT_GITHUB_OAUTH_CLIENT_SECRET (a GitHub OAuth app whose callback URL is "
            "<the console's address>/login/callback)."
        )
    return None


def cookie_secure(setting: bool | None, public_url: str | None, host: str | None) -> bool:
    """The session cookie's Secure flag. Unset: ``https://`` public URLs get it; without a public
    URL, serving beyond loopback does; an app built without a known host (tests) does not."""
    if setting is not None:
        return setting
    if public_url:
        return public_url.strip().lower().startswith("https://")
    return host is not None and not is_loopback(host)


def serving_settings(settings: Settings, host: str) -> Settings:
    """``settings`` as ``serve --host host`` runs them: the mode and the Secure flag decided."""
    return settings.model_copy(
        update={
            "console_auth": effective_mode(settings.console_auth),
            "console_cookie_secure": cookie_secure(settings.console_cookie_secure, settings.public_url, host),
        }
    )


def start_address(settings: Settings, host: str, port: int) -> str:
    """The console's address as ``serve`` announces it. With ``token`` on loopback, the sign-in
    link carries the token (like a notebook server's); beyond loopback the token stays out of
    the log, which others may read."""
    if settings.public_url:
        base = settings.public_url.rstrip("/")
    else:
        shown = f"[{host}]" if ":" in host else host
        base = f"http://{shown}:{port}"
    token = _secret(settings.console_token)
    if effective_mode(settings.console_auth) == "token" and token and is_loopback(host):
        return f"{base}/login?{urllib.parse.urlencode({'token': token})}"
    return f"{base}/"


def session_key(settings: Settings, mode: Mode) -> str | None:
    """The key the session cookie is signed with: the configured one, else one derived from the
    mode's own secret (so every replica agrees, and a new token ends every session), else None
    (the caller picks a random key: sessions then end with the process)."""
    configured = _secret(settings.console_session_secret)
    source = configured
    if source is None and mode == "token":
        source = _secret(settings.console_token)
    if source is None and mode == "github":
        source = _secret(settings.github_oauth_client_secret)
    if source is None:
        return None
    if configured is not None:
        return configured
    return hashlib.sha256(b"gitops-bot console session\0" + source.encode()).hexdigest()


def token_mark(token: str) -> str:
    """What a token session keeps of the token: a digest, so changing the token ends the session."""
    return hashlib.sha256(b"gitops-bot console token\0" + token.encode()).hexdigest()[:32]


def same_secret(sent: str | None, expected: str | None) -> bool:
    """Constant-time comparison of two texts; False when either is missing or empty."""
    if not sent or not expected:
        return False
    return hmac.compare_digest(sent.encode(), expected.encode())


def wants_page(path: str, accept: str | None) -> bool:
    """Whether a refused request is answered with a page (a browser navigating) or JSON."""
    if path == "/api" or path.startswith("/api/"):
        return False
    return "text/html" in (accept or "").lower()


def safe_next(value: str | None) -> str:
    """Where a sign-in may return to: a path on this console, never another site."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return "/"
    if any(ord(character) < 32 for character in value):
        return "/"
    return value


def sign_in_repos(gitops_repos: list[str], repo_allowlist: list[str]) -> list[str]:
    """The repositories where a GitHub login's ``status`` permission lets it look at the console:
    the GitOps repositories and the allowlist's exact names (a pattern names no repository)."""
    named = [*gitops_repos, *(name for name in repo_allowlist if not any(c in name for c in "*?["))]
    seen: dict[str, str] = {}
    for name in named:
        seen.setdefault(name.lower(), name)
    return list(seen.values())


def without_query_parameter(path: str, query: str, name: str) -> str:
    """``path?query`` without ``name`` (the ``?token=`` a visit signed in with)."""
    kept = [
        (key, value) for key, value in urllib.parse.parse_qsl(query, keep_blank_values=True) if key != name
    ]
    return f"{path}?{urllib.parse.urlencode(kept)}" if kept else path


def _secret(value: object) -> str | None:
    secret = getattr(value, "get_secret_value", lambda: None)()
    return str(secret) if secret else None
