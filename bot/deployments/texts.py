"""Where the deployment workflows' texts go: the repository's Slack channel, and the pull request
comments and bodies rendered from ``templates/deployments/``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot.config import RepoConfig

if TYPE_CHECKING:
    from bot.services import Services


def slack_channel(config: RepoConfig | None) -> str | None:
    return config.notify.slack.channel if config is not None and config.notify.slack else None


def render(services: Services, name: str, **context: Any) -> str:
    return services.templates.get_template(f"deployments/{name}").render(**context)
