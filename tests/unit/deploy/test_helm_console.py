"""The chart and the console: who may look (console.*), the credentials, and the Ingress's routes.

Rendered by Helm itself (see ``test_helm_chart``). The pods serve on 0.0.0.0, so the environment
the chart gives them must be one ``gitops-bot serve`` accepts there (``serving_refusal``).
"""

from __future__ import annotations

from typing import Any

import pytest

from bot.console.access import serving_refusal
from bot.settings import Settings
from tests.unit.deploy.test_helm_chart import _helm, _kinds, _render

try:
    from helm_python.errors import HelmError
except ImportError:  # pragma: no cover - the test extra installs it
    HelmError = Exception  # type: ignore[assignment,misc]

INGRESS = {"enabled": True, "className": "nginx", "host": "bot.example.com"}
# What the credentials Secret would hold: the chart only names the keys.
SECRET_VALUES = {
    "GITOPS_BOT_CONSOLE_TOKEN": "a-console-token",
    "GITOPS_BOT_GITHUB_OAUTH_CLIENT_SECRET": "an-oauth-secret",
}


def _server(values: dict[str, Any] | None = None) -> dict[str, Any]:
    deployments = {d["metadata"]["name"]: d for d in _kinds(_render(values))["Deployment"]}
    return deployments["bot-gitops-bot"]["spec"]["template"]["spec"]["containers"][0]


def _plain_env(container: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container["env"] if "value" in e}


def _secret_env(container: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e["valueFrom"]["secretKeyRef"]["key"] for e in container["env"] if "valueFrom" in e}


def _settings(env: dict[str, str], monkeypatch: pytest.MonkeyPatch, secrets: dict[str, str]) -> Settings:
    """The settings the pod's process reads: the plain values, and the Secret's keys it holds."""
    for name in SECRET_VALUES:
        monkeypatch.delenv(name, raising=False)
    for name, value in {**env, **secrets}.items():
        monkeypatch.setenv(name, value)
    return Settings(_env_file=None)


def _routes(values: dict[str, Any]) -> list[tuple[str, str]]:
    (ingress,) = _kinds(_render(values))["Ingress"]
    return [(p["path"], p["pathType"]) for p in ingress["spec"]["rules"][0]["http"]["paths"]]


def test_by_default_the_console_asks_for_the_token_from_the_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    bot = _server()
    env = _plain_env(bot)
    assert env["GITOPS_BOT_CONSOLE_AUTH"] == "token" and env["GITOPS_BOT_CONSOLE_LOGIN"] == "console"
    assert "GITOPS_BOT_PUBLIC_URL" not in env and "GITOPS_BOT_GITHUB_OAUTH_CLIENT_ID" not in env
    secrets = {
        "GITOPS_BOT_CONSOLE_TOKEN": "console-token",
        "GITOPS_BOT_CONSOLE_SESSION_SECRET": "console-session-secret",
        "GITOPS_BOT_GITHUB_OAUTH_CLIENT_SECRET": "github-oauth-client-secret",
    }
    assert _secret_env(bot).items() >= secrets.items()
    assert bot["args"][:2] == ["serve", "--host=0.0.0.0"]
    assert serving_refusal(_settings(env, monkeypatch, SECRET_VALUES), "0.0.0.0") is None
    # A Secret without the token: the pod refuses to start, naming the setting.
    refusal = serving_refusal(_settings(env, monkeypatch, {}), "0.0.0.0")
    assert refusal is not None and "GITOPS_BOT_CONSOLE_TOKEN" in refusal


def test_github_sign_in_passes_the_client_id_and_the_pods_may_start(monkeypatch: pytest.MonkeyPatch) -> None:
    env = _plain_env(_server({"console": {"auth": "github", "githubOAuthClientId": "Iv1.abc"}}))
    assert (
        env["GITOPS_BOT_CONSOLE_AUTH"] == "github" and env["GITOPS_BOT_GITHUB_OAUTH_CLIENT_ID"] == "Iv1.abc"
    )
    settings = _settings(env, monkeypatch, SECRET_VALUES)
    assert settings.console_auth == "github" and serving_refusal(settings, "0.0.0.0") is None


def test_the_ingress_routes_only_the_webhooks_unless_the_console_is_asked_for() -> None:
    assert _routes({"ingress": INGRESS}) == [("/webhooks", "Prefix"), ("/slack", "Prefix")]
    routes = _routes({"ingress": {**INGRESS, "console": True}})
    assert routes[:3] == [("/webhooks", "Prefix"), ("/slack", "Prefix"), ("/", "Exact")]
    prefixes = {path for path, kind in routes if kind == "Prefix"}
    assert {"/login", "/logout", "/console/static", "/api", "/locks", "/runs", "/analyses"} <= prefixes
    # Probes and metrics stay inside the cluster: "/" is Exact, and nothing else covers them.
    for internal in ("/metrics", "/healthz", "/readyz", "/internal/terraform-jobs"):
        assert not any(internal.startswith(path) for path in prefixes), internal
    assert len(routes) == len(set(routes))


def test_a_console_on_the_ingress_links_to_its_host_unless_told_otherwise() -> None:
    env = _plain_env(_server({"ingress": {**INGRESS, "console": True}}))
    assert env["GITOPS_BOT_PUBLIC_URL"] == "https://bot.example.com"
    plain = {**INGRESS, "console": True, "tls": {"enabled": False, "secretName": "x"}}
    assert _plain_env(_server({"ingress": plain}))["GITOPS_BOT_PUBLIC_URL"] == "http://bot.example.com"
    told = _server(
        {"ingress": {**INGRESS, "console": True}, "config": {"PUBLIC_URL": "https://ops.example.com"}}
    )
    assert [e["value"] for e in told["env"] if e["name"] == "GITOPS_BOT_PUBLIC_URL"] == [
        "https://ops.example.com"
    ]


def test_the_notes_say_how_to_sign_in() -> None:
    def notes(values: dict[str, Any]) -> str:
        return str(
            _helm().render(values, name="bot", namespace="ops", is_install=True)[
                "gitops-bot/templates/NOTES.txt"
            ]
        )

    token = notes({"ingress": {**INGRESS, "console": True}})
    assert "https://bot.example.com/" in token and 'the Secret "gitops-bot", key console-token' in token
    github = notes({"ingress": INGRESS, "console": {"auth": "github", "githubOAuthClientId": "Iv1.abc"}})
    assert "callback https://bot.example.com/login/callback" in github and "not on the Ingress" in github


@pytest.mark.parametrize(
    "values",
    [
        {"console": {"auth": "none"}},
        {"console": {"auth": "github"}},  # without the OAuth app's client id
        {"console": {"login": ""}},
        {"config": {"CONSOLE_AUTH": "none"}},
        {"ingress": {"console": "yes"}},
    ],
)
def test_the_schema_refuses_bad_console_values(values: dict[str, Any]) -> None:
    chart = _helm()
    with pytest.raises(HelmError):
        chart.validate_schema(chart.merge_values(values))
