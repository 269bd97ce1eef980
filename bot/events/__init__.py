"""Pure normalisation of verified webhook requests into typed domain events.

No HTTP and no database here: intake routes verify signatures, then call one parser per
source and store what it returns. Each parser returns a list of ``ParsedEvent`` (one
request may carry several events) or raises ``MalformedEvent`` with a message fit for
the sender's 400 answer.
"""

from __future__ import annotations

from bot.events.alertmanager import parse_alertmanager
from bot.events.github import parse_github
from bot.events.gitlab import parse_gitlab
from bot.events.images import ImageReference, normalise_registry_host, split_image_reference
from bot.events.mlflow import parse_mlflow
from bot.events.model import (
    Alert,
    AlertNotification,
    DomainEvent,
    ImagePushed,
    MalformedEvent,
    ModelVersionAliasSet,
    ModelVersionCreated,
    ParsedEvent,
    PipelineFinished,
    PullRequestChanged,
    PullRequestComment,
    Push,
    SlackAction,
    SlackCommand,
    SlackInteraction,
    domain_event_from_json,
)
from bot.events.registry import parse_registry
from bot.events.slack import parse_slack_command, parse_slack_interaction

__all__ = [
    "Alert",
    "AlertNotification",
    "DomainEvent",
    "ImagePushed",
    "ImageReference",
    "MalformedEvent",
    "ModelVersionAliasSet",
    "ModelVersionCreated",
    "ParsedEvent",
    "PipelineFinished",
    "PullRequestChanged",
    "PullRequestComment",
    "Push",
    "SlackAction",
    "SlackCommand",
    "SlackInteraction",
    "domain_event_from_json",
    "normalise_registry_host",
    "parse_alertmanager",
    "parse_github",
    "parse_gitlab",
    "parse_mlflow",
    "parse_registry",
    "parse_slack_command",
    "parse_slack_interaction",
    "split_image_reference",
]
