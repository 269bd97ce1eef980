"""Why an event led to nothing: every reason the bot stores on an ignored event, in one place.

A handler that finds nothing to do returns :class:`Ignored` (one of the reasons below) instead
of ``None``; the worker keeps it on the job, and an event whose every job found nothing to do is
stored as ``ignored`` with those reasons (``/api/events``, the console), so whoever sent it sees
why nothing happened without reading the logs. Each reason is a sentence a person understands:
what was missing, and, where one setting would change it, which one. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bot.adapters.forge.names import pull_reference

# Between the reasons of one event (its jobs', its deployments'): a reason may hold a "; " itself.
SEPARATOR = " | "


@dataclass(frozen=True)
class Ignored:
    """A handler's outcome when it did nothing, and why."""

    reason: str


def joined(reasons: Iterable[str]) -> str:
    """Several reasons as one, each once, in order."""
    return SEPARATOR.join(dict.fromkeys(reason for reason in reasons if reason))


def _names(items: Iterable[str]) -> str:
    return ", ".join(items)


# -- version updates (registry pushes, MLflow) ---------------------------------------------------


def no_gitops_repos() -> Ignored:
    return Ignored("no GitOps repository is configured: set GITOPS_BOT_GITOPS_REPOS")


def no_allowed_gitops_repos(configured: Sequence[str]) -> Ignored:
    return Ignored(f"no GitOps repository is allowed: {_names(configured)} not in GITOPS_BOT_REPO_ALLOWLIST")


def digest_only_push(reference: str) -> Ignored:
    return Ignored(f"a push by digest names no version ({reference})")


def no_image_trigger(repository: str, repos: Sequence[str]) -> Ignored:
    return Ignored(f"no deployment's trigger matches {repository} (in {_names(repos)})")


def no_model_trigger(model: str, version: str, alias: str | None, repos: Sequence[str]) -> Ignored:
    what = f"model {model} alias {alias}" if alias else f"model {model} version {version}"
    return Ignored(f"no deployment's trigger matches {what} (in {_names(repos)})")


def unusable_configs(problems: Sequence[str]) -> Ignored:
    """No repository's config could be read: what is wrong with each (``LoadedConfig.problem``)."""
    return Ignored(joined(problems))


def nothing_proposed(messages: Sequence[str]) -> Ignored:
    """Every matching deployment's update was a no-op or refused: their own words (the audit
    log holds each one too)."""
    return Ignored(joined(messages))


# -- pull requests, comments, alerts ------------------------------------------------------------


def not_this_kind(expected: str, got: str | None) -> Ignored:
    return Ignored(f"not {expected} (got {got or 'nothing'})")


def repo_not_allowed(repo: str) -> Ignored:
    return Ignored(f"{repo} is not in GITOPS_BOT_REPO_ALLOWLIST")


def closed_without_merge(repo: str, number: int) -> Ignored:
    pull = pull_reference(repo, number)
    return Ignored(f"{pull} was closed without being merged")


def merge_changed_no_deployment(repo: str, number: int) -> Ignored:
    pull = pull_reference(repo, number)
    return Ignored(f"merging {pull} changed no deployment's version in {repo}'s .gitops-bot.yaml")


def not_a_bot_pull_request(repo: str, number: int) -> Ignored:
    pull = pull_reference(repo, number)
    return Ignored(f"{pull} is not one of the bot's update pull requests")


def pull_request_action_not_acted_on(repo: str, number: int, action: str) -> Ignored:
    pull = pull_reference(repo, number)
    return Ignored(f"nothing follows a pull request being {action.replace('_', ' ')} ({pull})")


def draft_pull_request(repo: str, number: int) -> Ignored:
    pull = pull_reference(repo, number)
    return Ignored(f"{pull} is a draft: it is planned once it is ready for review")


def fork_pull_request(repo: str, number: int) -> Ignored:
    pull = pull_reference(repo, number)
    return Ignored(f"{pull} comes from a fork: set GITOPS_BOT_ALLOW_FORK_PRS=true to plan it")


def bot_branch(repo: str, number: int) -> Ignored:
    pull = pull_reference(repo, number)
    return Ignored(f"{pull} is the bot's own branch: it changes versions, not infrastructure")


def autoplan_disabled(repo: str) -> Ignored:
    return Ignored(f"autoplan is disabled for every project of {repo}")


def no_terraform_change(repo: str, number: int) -> Ignored:
    pull = pull_reference(repo, number)
    return Ignored(f"{pull} changes no Terraform project's files")


def no_locks_held(repo: str, number: int) -> Ignored:
    pull = pull_reference(repo, number)
    return Ignored(f"{pull} was closed holding no Terraform locks")


def comment_by_a_bot(author: str) -> Ignored:
    return Ignored(f"the comment is by a bot ({author})")


def not_a_command(why: str) -> Ignored:
    """``why``: the grammar's own words (``not addressed to the bot``, ``empty comment``)."""
    return Ignored(f"the comment is not a /gitops or atlantis command ({why})")


def command_for_another_job(kind: str) -> Ignored:
    """Two jobs read every comment; the one whose kind of command it is not says so (the other acts,
    so the event is not ignored for this)."""
    return Ignored(f"not a {kind} command")


def no_firing_alert() -> Ignored:
    return Ignored("the notification holds no firing alert")


def no_analysis_for_alerts(names: Sequence[str]) -> Ignored:
    listed = _names(names) if names else "no deployment label"
    return Ignored(f"no canary analysis is running for the alert's deployment ({listed})")


def no_slack_delivery(channel: str | None) -> Ignored:
    if channel is None:
        return Ignored("the repository's .gitops-bot.yaml names no notify.slack.channel")
    return Ignored("Slack is not configured: set GITOPS_BOT_SLACK_BOT_TOKEN")
