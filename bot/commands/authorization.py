"""The facts a permission decision needs, asked of the forge (I/O; the decision is pure).

``bot.config.permissions.authorize`` decides; this module only looks up what it decides over:
the login's permission level on the repository and, for the teams the rule names, whether the
login is a member (asked one team at a time, so a rule without teams costs no team lookups).
"""

from __future__ import annotations

from bot.adapters.forge.names import namespace_of
from bot.adapters.forge.port import Forge
from bot.config import RepoConfig, permissions


def authorize(
    forge: Forge, repo: str, config: RepoConfig | None, command: str, login: str
) -> tuple[bool, str]:
    """(allowed, why): ``permissions.<command>`` of the repository's config, for PR comments and Slack."""
    configured = config.permissions if config is not None else None
    rule = permissions.rule_for(command, configured)
    level = forge.permission_level(repo, login)
    owner = namespace_of(repo)  # the GitHub organisation, or the GitLab top-level group
    teams = [team for team in sorted(rule.teams) if forge.is_team_member(owner, team, login)]
    decision = permissions.authorize(command, configured, login=login, level=level, member_of=teams)
    return decision.allowed, decision.reason


__all__ = ["authorize"]
