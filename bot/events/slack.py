"""Slack slash commands and Block Kit interactions → ``ParsedEvent``.

Both arrive as ``application/x-www-form-urlencoded`` bodies; the intake route decodes
the form (after checking the v0 signature) and passes the fields here. Interactions
carry their content as JSON in the ``payload`` field.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.events.fields import (
    kind_of,
    load_json_object,
    optional_object,
    optional_str,
    require_list,
    require_object,
    require_str,
    stable_digest,
)
from bot.events.model import MalformedEvent, ParsedEvent, SlackAction, SlackCommand, SlackInteraction

SOURCE = "slack"
# Slack's deprecated verification token is a shared secret; it is not stored with the event.
_SECRET_FIELDS = ("token",)


def _without_secrets(fields: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in fields.items() if key not in _SECRET_FIELDS}


def _form_dict(form: Mapping[str, Any], what: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for key, value in form.items():
        if not isinstance(value, str):
            raise MalformedEvent(f"{what} field '{key}' must be text, got {kind_of(value)}")
        fields[key] = value
    return fields


def parse_slack_command(form: Mapping[str, str]) -> list[ParsedEvent]:
    fields = _form_dict(form, "Slack command")
    where = "Slack command"
    if fields.get("ssl_check") == "1":
        # Slack probes the command URL's certificate with a bare ``ssl_check=1`` post.
        check_id = f"ssl-check-{stable_digest(sorted(fields.items()))[:32]}"
        return [
            ParsedEvent(
                source=SOURCE,
                event="ssl_check",
                action=None,
                delivery_id=check_id,
                dedupe_key=check_id,
                payload=_without_secrets(fields),
                domain=None,
                ignored_reason="Slack SSL certificate check",
            )
        ]
    command = require_str(fields, "command", where)
    if not command.startswith("/"):
        raise MalformedEvent(f"{where}: 'command' must start with '/', got {command!r}")
    trigger_id = require_str(fields, "trigger_id", where)
    domain = SlackCommand(
        command=command,
        text=fields.get("text", "").strip(),
        user_id=require_str(fields, "user_id", where),
        user_name=optional_str(fields, "user_name", where),
        team_id=require_str(fields, "team_id", where),
        team_domain=optional_str(fields, "team_domain", where),
        channel_id=require_str(fields, "channel_id", where),
        channel_name=optional_str(fields, "channel_name", where),
        response_url=require_str(fields, "response_url", where),
        trigger_id=trigger_id,
        api_app_id=optional_str(fields, "api_app_id", where),
    )
    return [
        ParsedEvent(
            source=SOURCE,
            event="command",
            action=command.lstrip("/"),
            delivery_id=trigger_id,
            dedupe_key=trigger_id,
            payload=_without_secrets(fields),
            domain=domain,
        )
    ]


def parse_slack_interaction(form: Mapping[str, str]) -> list[ParsedEvent]:
    fields = _form_dict(form, "Slack interaction")
    raw = fields.get("payload")
    if not raw:
        raise MalformedEvent("Slack interaction has no 'payload' form field")
    payload = _without_secrets(load_json_object(raw.encode("utf-8"), "Slack interaction 'payload' field"))
    where = "Slack interaction"
    interaction_type = require_str(payload, "type", where)
    user = require_object(payload, "user", where)
    user_id = require_str(user, "id", f"{where}: user")
    trigger_id = optional_str(payload, "trigger_id", where)

    if interaction_type != "block_actions":
        delivery_id = trigger_id or f"slack-{stable_digest(payload)[:32]}"
        return [
            ParsedEvent(
                source=SOURCE,
                event="interaction",
                action=interaction_type,
                delivery_id=delivery_id,
                dedupe_key=delivery_id,
                payload=payload,
                domain=None,
                ignored_reason=f"Slack interaction type '{interaction_type}' is not acted on",
            )
        ]

    domain = _block_actions(
        payload, user, where, interaction_type=interaction_type, user_id=user_id, trigger_id=trigger_id
    )
    dedupe_key = _interaction_dedupe_key(domain, payload)
    return [
        ParsedEvent(
            source=SOURCE,
            event="interaction",
            action=interaction_type,
            delivery_id=trigger_id or dedupe_key,
            dedupe_key=dedupe_key,
            payload=payload,
            domain=domain,
        )
    ]


def _block_actions(
    payload: Mapping[str, Any],
    user: Mapping[str, Any],
    where: str,
    *,
    interaction_type: str,
    user_id: str,
    trigger_id: str | None,
) -> SlackInteraction:
    """A ``block_actions`` payload as a domain event: the clicked actions and where they were clicked."""
    actions = tuple(
        _action(raw_action, f"{where}: actions[{index}]")
        for index, raw_action in enumerate(require_list(payload, "actions", where))
    )
    if not actions:
        raise MalformedEvent(f"{where} (block_actions) has an empty 'actions' list")
    team = optional_object(payload, "team", where) or {}
    channel = optional_object(payload, "channel", where) or {}
    container = optional_object(payload, "container", where) or {}
    message = optional_object(payload, "message", where) or {}
    return SlackInteraction(
        type=interaction_type,
        user_id=user_id,
        user_name=optional_str(user, "username", f"{where}: user")
        or optional_str(user, "name", f"{where}: user"),
        team_id=optional_str(team, "id", f"{where}: team") or optional_str(user, "team_id", f"{where}: user"),
        channel_id=optional_str(channel, "id", f"{where}: channel")
        or optional_str(container, "channel_id", f"{where}: container"),
        message_ts=optional_str(container, "message_ts", f"{where}: container")
        or optional_str(message, "ts", f"{where}: message"),
        response_url=optional_str(payload, "response_url", where),
        trigger_id=trigger_id,
        actions=actions,
    )


def _interaction_dedupe_key(interaction: SlackInteraction, payload: Mapping[str, Any]) -> str:
    # A click has a trigger id; without one the click's own timestamp and user identify it.
    if interaction.trigger_id:
        return interaction.trigger_id
    first_ts = next((action.action_ts for action in interaction.actions if action.action_ts), None)
    if first_ts:
        return f"action_ts:{first_ts}:{interaction.user_id}"
    return f"slack-{stable_digest(payload)[:32]}"


def _action(raw: object, where: str) -> SlackAction:
    if not isinstance(raw, dict):
        raise MalformedEvent(f"{where} must be an object, got {kind_of(raw)}")
    value = optional_str(raw, "value", where)
    if value is None:
        # Menus put the choice in ``selected_option`` instead of ``value``.
        selected = optional_object(raw, "selected_option", where)
        if selected is not None:
            value = optional_str(selected, "value", f"{where}.selected_option")
    return SlackAction(
        action_id=require_str(raw, "action_id", where),
        block_id=optional_str(raw, "block_id", where),
        value=value,
        type=optional_str(raw, "type", where),
        action_ts=optional_str(raw, "action_ts", where),
    )
