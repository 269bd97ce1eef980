"""Slack: the Web API client, Block Kit builders, and a deployment thread's story."""

from __future__ import annotations

from bot.adapters.slack_api.client import (
    PostedMessage,
    SlackClient,
    SlackError,
    SlackRefused,
    SlackUnavailable,
)
from bot.settings import Settings


def client_from_settings(settings: Settings) -> SlackClient | None:
    """The client for the configured bot token and API URL; ``None`` without a token."""
    if settings.slack_bot_token is None:
        return None
    return SlackClient(settings.slack_bot_token.get_secret_value(), base_url=settings.slack_api_url)


__all__ = [
    "PostedMessage",
    "SlackClient",
    "SlackError",
    "SlackRefused",
    "SlackUnavailable",
    "client_from_settings",
]
