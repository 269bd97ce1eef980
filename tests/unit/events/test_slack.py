from __future__ import annotations

import json
from typing import Any

import pytest

from bot.events import (
    MalformedEvent,
    SlackAction,
    SlackCommand,
    SlackInteraction,
    parse_slack_command,
    parse_slack_interaction,
)
from tests.unit.events.samples import form


def test_slash_command() -> None:
    fields = form("slack/command.txt")

    (event,) = parse_slack_command(fields)

    assert event.routing_key == ("slack", "command", "gitops")
    assert event.delivery_id == event.dedupe_key == "13345224609.738474920.8088930838d88f008e0"
    assert event.payload == {key: value for key, value in fields.items() if key != "token"}
    assert "token" not in event.payload  # Slack's verification token is a secret: not stored
    assert event.domain == SlackCommand(
        command="/gitops",
        text="deploy chat-llm-staging 1.2.3",
        user_id="U2CERLKJA",
        user_name="alice",
        team_id="T0001",
        team_domain="acme",
        channel_id="C2147483705",
        channel_name="ml-deploys",
        response_url="https://hooks.slack.com/commands/T0001/1234567890/abcdefghijklmnop",
        trigger_id="13345224609.738474920.8088930838d88f008e0",
        api_app_id="A123456",
    )


def test_command_with_empty_text() -> None:
    fields = {**form("slack/command.txt"), "text": ""}

    (event,) = parse_slack_command(fields)

    assert isinstance(event.domain, SlackCommand)
    assert event.domain.text == ""


def test_ssl_check_is_ignored() -> None:
    (event,) = parse_slack_command({"ssl_check": "1", "token": "x"})

    assert event.routing_key == ("slack", "ssl_check", None)
    assert event.ignored_reason == "Slack SSL certificate check"


@pytest.mark.parametrize(
    ("missing", "message"),
    [
        ("command", "Slack command has no 'command' string"),
        ("trigger_id", "Slack command has no 'trigger_id' string"),
        ("user_id", "Slack command has no 'user_id' string"),
        ("team_id", "Slack command has no 'team_id' string"),
        ("channel_id", "Slack command has no 'channel_id' string"),
        ("response_url", "Slack command has no 'response_url' string"),
    ],
)
def test_command_missing_fields(missing: str, message: str) -> None:
    fields = form("slack/command.txt")
    del fields[missing]

    with pytest.raises(MalformedEvent) as caught:
        parse_slack_command(fields)

    assert str(caught.value) == message


def test_command_must_start_with_a_slash() -> None:
    with pytest.raises(MalformedEvent, match="'command' must start with '/'"):
        parse_slack_command({**form("slack/command.txt"), "command": "gitops"})


def test_block_action() -> None:
    fields = form("slack/interaction.txt")

    (event,) = parse_slack_interaction(fields)

    assert event.routing_key == ("slack", "interaction", "block_actions")
    assert event.delivery_id == event.dedupe_key == "13345224609.738474920.8088930838d88f008e1"
    assert event.payload == {
        key: value for key, value in json.loads(fields["payload"]).items() if key != "token"
    }
    assert event.domain == SlackInteraction(
        type="block_actions",
        user_id="U2CERLKJA",
        user_name="alice",
        team_id="T0001",
        channel_id="C2147483705",
        message_ts="1714648800.000200",
        response_url="https://hooks.slack.com/actions/T0001/1234567890/qrstuvwxyz",
        trigger_id="13345224609.738474920.8088930838d88f008e1",
        actions=(
            SlackAction(
                action_id="gitops_rollback",
                block_id="canary_verdict",
                value="chat-llm-staging",
                type="button",
                action_ts="1714648861.123456",
            ),
        ),
    )


def _interaction(change: Any) -> dict[str, str]:
    payload = json.loads(form("slack/interaction.txt")["payload"])
    change(payload)
    return {"payload": json.dumps(payload)}


def test_menu_selection_value_and_fallbacks() -> None:
    def change(payload: dict[str, Any]) -> None:
        payload["actions"] = [
            {
                "action_id": "pick_version",
                "block_id": "b",
                "type": "static_select",
                "selected_option": {"text": {"type": "plain_text", "text": "1.2.3"}, "value": "1.2.3"},
                "action_ts": "1714648900.1",
            }
        ]
        del payload["channel"], payload["team"], payload["trigger_id"]
        payload["user"].pop("username")

    (event,) = parse_slack_interaction(_interaction(change))

    domain = event.domain
    assert isinstance(domain, SlackInteraction)
    assert domain.actions[0].value == "1.2.3"
    assert (domain.channel_id, domain.team_id, domain.user_name) == ("C2147483705", "T0001", "alice")
    assert event.dedupe_key == "action_ts:1714648900.1:U2CERLKJA"


@pytest.mark.parametrize("interaction_type", ["view_submission", "shortcut", "message_action"])
def test_other_interaction_types_are_ignored(interaction_type: str) -> None:
    (event,) = parse_slack_interaction(_interaction(lambda p: p.update(type=interaction_type)))

    assert event.routing_key == ("slack", "interaction", interaction_type)
    assert event.ignored_reason == f"Slack interaction type '{interaction_type}' is not acted on"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({}, "Slack interaction has no 'payload' form field"),
        ({"payload": "{oops"}, "Slack interaction 'payload' field is not valid JSON"),
        ({"payload": "[]"}, "Slack interaction 'payload' field must be a JSON object, got a list"),
        (_interaction(lambda p: p.pop("type")), "Slack interaction has no 'type' string"),
        (_interaction(lambda p: p.pop("user")), "Slack interaction has no 'user' object"),
        (_interaction(lambda p: p["user"].pop("id")), "Slack interaction: user has no 'id' string"),
        (_interaction(lambda p: p.pop("actions")), "Slack interaction has no 'actions' list"),
        (
            _interaction(lambda p: p.update(actions=[])),
            "Slack interaction (block_actions) has an empty 'actions' list",
        ),
        (
            _interaction(lambda p: p["actions"][0].pop("action_id")),
            "Slack interaction: actions[0] has no 'action_id' string",
        ),
        (_interaction(lambda p: p.update(actions=["x"])), "Slack interaction: actions[0] must be an object"),
    ],
)
def test_malformed_interactions(fields: dict[str, str], message: str) -> None:
    with pytest.raises(MalformedEvent) as caught:
        parse_slack_interaction(fields)

    assert str(caught.value).startswith(message)
