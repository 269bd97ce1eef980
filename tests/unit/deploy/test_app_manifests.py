"""The GitHub App and Slack app manifests under deploy/ ask for what the bot uses, no more, and
point at the routes the bot serves."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import get_args
from urllib.parse import urlsplit

from ruamel.yaml import YAML

from bot.commands.slack import SlackCommandName
from handlers import default_router

ROOT = Path(__file__).resolve().parents[3]
DEPLOY = ROOT / "deploy"
# The scope each Slack Web API method the client calls needs (Slack's method pages); None: no scope.
SLACK_METHOD_SCOPES = {
    "auth.test": None,
    "chat.postMessage": "chat:write",
    "chat.update": "chat:write",
    "chat.postEphemeral": "chat:write",
}
# GitHub's package events arrive as registry pushes (ghcr.io): parsed, not routed by their own name.
PACKAGE_EVENTS = {"package", "registry_package"}


def test_the_github_app_subscribes_to_exactly_what_the_handlers_consume() -> None:
    manifest = json.loads((DEPLOY / "github-app.json").read_text())
    handled = {h.event for h in default_router()._by_name.values() if h.source == "github"}
    assert set(manifest["default_events"]) == handled | PACKAGE_EVENTS
    assert urlsplit(manifest["hook_attributes"]["url"]).path == "/webhooks/github"
    assert {urlsplit(url).path for url in manifest["callback_urls"]} == {"/login/callback"}
    assert manifest["default_permissions"] == {
        "contents": "write",  # update branches, reverts
        "pull_requests": "write",  # open, update, merge
        "issues": "write",  # comments, drift issues
        "statuses": "write",  # gitops-bot/plan, gitops-bot/apply
        "members": "read",  # team:<slug> in permissions
        "metadata": "read",
        "packages": "read",  # ghcr.io package events
    }


def test_the_slack_app_has_the_command_its_routes_and_only_the_scopes_used() -> None:
    manifest = YAML(typ="safe").load((DEPLOY / "slack-app.yaml").read_text())
    (command,) = manifest["features"]["slash_commands"]
    assert command["command"] == "/gitops" and urlsplit(command["url"]).path == "/slack/commands"
    hinted = {part.split()[0] for part in command["usage_hint"].split(" | ")}
    assert hinted == set(get_args(SlackCommandName))
    assert urlsplit(manifest["settings"]["interactivity"]["request_url"]).path == "/slack/interactions"
    assert manifest["oauth_config"]["scopes"]["bot"] == ["commands", "chat:write", "chat:write.public"]


def test_the_slack_scopes_are_those_of_the_web_api_methods_the_client_calls() -> None:
    client = (ROOT / "bot" / "adapters" / "slack_api" / "client.py").read_text()
    called = set(re.findall(r'self\._call\("([a-z]+\.[A-Za-z]+)"', client))
    assert called <= set(SLACK_METHOD_SCOPES), f"a Web API method without a known scope: {called}"
    needed = {SLACK_METHOD_SCOPES[method] for method in called} - {None}
    manifest = YAML(typ="safe").load((DEPLOY / "slack-app.yaml").read_text())
    # commands: the slash command; chat:write.public: notes go to the configured channel without
    # inviting the bot first.
    assert set(manifest["oauth_config"]["scopes"]["bot"]) == needed | {"commands", "chat:write.public"}
