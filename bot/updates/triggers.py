"""Which deployments an event concerns, and whether an open update may be merged: pure functions."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from bot.adapters.forge.port import PullRequest
from bot.config import Deployment, RepoConfig
from bot.events.model import ImagePushed, ModelVersionAliasSet, ModelVersionCreated


@dataclass(frozen=True)
class Match:
    deployment: Deployment
    version: str
    digest: str | None


def image_matches(config: RepoConfig, image: ImagePushed) -> list[Match]:
    """Deployments whose image trigger names the pushed repository (host optional, Docker Hub
    ``library/`` normalised). A push by digest alone names no version and moves nothing."""
    if not image.tag:
        return []
    return [
        Match(deployment, image.tag, image.digest)
        for deployment in config.deployments
        if deployment.trigger.image is not None
        and deployment.trigger.image.matches(image.repository, image.registry)
    ]


def model_matches(config: RepoConfig, event: ModelVersionCreated | ModelVersionAliasSet) -> list[Match]:
    """Deployments following the MLflow model: on each new version, or, with ``alias``, when that
    alias is set (a deployment that follows an alias ignores new versions without it)."""
    found = []
    for deployment in config.deployments:
        model = deployment.trigger.model
        if model is None or model.name != event.name:
            continue
        if isinstance(event, ModelVersionAliasSet):
            if model.alias is None or model.alias != event.alias:
                continue
        elif model.alias is not None:
            continue
        found.append(Match(deployment, event.version, None))
    return found


AutomergeDecision = Literal["merge", "wait", "give_up"]

# GitHub's mergeable_state: "clean" (every required check passed), "unstable" (only optional
# checks failing), "has_hooks" (passing, with pre-receive hooks). "blocked" (required checks or
# reviews missing), "behind", "unknown" and "draft" may still change; "dirty" is a conflict.
_MERGE_STATES = frozenset({"clean", "unstable", "has_hooks"})
_WAIT_STATES = frozenset({"blocked", "behind", "unknown", "draft", ""})


def automerge_decision(pr: PullRequest) -> tuple[AutomergeDecision, str]:
    if not pr.is_open:
        return "give_up", "the pull request is closed"
    if pr.draft:
        return "wait", "the pull request is a draft"
    if pr.mergeable is False or pr.mergeable_state == "dirty":
        return "give_up", "the pull request has conflicts with its base branch"
    if pr.mergeable is None:
        return "wait", "GitHub is still computing mergeability"
    if pr.mergeable_state in _MERGE_STATES:
        return "merge", f"required checks passed ({pr.mergeable_state})"
    if pr.mergeable_state in _WAIT_STATES:
        return "wait", f"waiting for required checks or reviews ({pr.mergeable_state or 'unknown'})"
    return "wait", f"mergeable state {pr.mergeable_state!r}"


def automerge_enabled(config: RepoConfig | None, deployment: str) -> bool:
    if config is None:
        return False
    return any(d.name == deployment and d.pull_request.automerge for d in config.deployments)


def allowed_repos(configured: Iterable[str], allowed: object) -> list[str]:
    """The GitOps repositories to consult, in order, without duplicates, within the allowlist."""
    seen: list[str] = []
    for repo in configured:
        if repo not in seen and (not callable(allowed) or allowed(repo)):
            seen.append(repo)
    return seen
