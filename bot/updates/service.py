"""What the updates concern does for an event: registry pushes and MLflow versions become update
pull requests (:mod:`bot.updates.propose`), a passed canary becomes a promotion."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import structlog

from bot import reasons
from bot.config import RepoConfig
from bot.events.model import ImagePushed, ModelVersionAliasSet, ModelVersionCreated
from bot.notify import PromotionOpened
from bot.reasons import Ignored
from bot.updates.outcome import UpdateAsk, UpdateOutcome
from bot.updates.propose import find_deployment, propose, propose_update, record_no_update
from bot.updates.source import image_source, manual_source, model_source
from bot.updates.triggers import Match, allowed_repos, image_matches, model_matches

if TYPE_CHECKING:
    from bot.services import Services

log = structlog.get_logger("gitops_bot.updates")

__all__ = ["UpdateOutcome", "find_deployment", "promote", "propose_for_image", "propose_for_model"]


def propose_for_image(
    services: Services, image: ImagePushed, *, event_id: int | None, logger: structlog.stdlib.BoundLogger
) -> Ignored | None:
    """A registry push: one update per deployment, in every GitOps repository, whose trigger names
    it. Returns why nothing was proposed, when nothing was."""
    repos = _gitops_repos(services)
    if isinstance(repos, Ignored):
        logger.info("updates.no_gitops_repos", image=image.reference, reason=repos.reason)
        return repos
    if not image.tag:
        return reasons.digest_only_push(image.reference)
    found = _matches(services, repos, lambda config: image_matches(config, image), event_id)
    if isinstance(found, Ignored):
        return found
    if not found:
        return reasons.no_image_trigger(image.repository, repos)
    outcomes = []
    for repo, match in found:
        outcome = propose_update(
            services,
            repo=repo,
            deployment=match.deployment.name,
            version=match.version,
            digest=match.digest,
            source=image_source(image),
            requested_by=image.actor,
            event_id=event_id,
        )
        logger.info(
            "updates.image_outcome", repo=repo, deployment=match.deployment.name, status=outcome.status
        )
        outcomes.append(outcome)
    return _nothing_proposed(outcomes)


def propose_for_model(
    services: Services,
    event: ModelVersionCreated | ModelVersionAliasSet,
    *,
    event_id: int | None,
    logger: structlog.stdlib.BoundLogger,
) -> Ignored | None:
    """An MLflow model version or alias: one update per deployment whose trigger names the model.
    Returns why nothing was proposed, when nothing was."""
    repos = _gitops_repos(services)
    if isinstance(repos, Ignored):
        logger.info("updates.no_gitops_repos", model=event.name, reason=repos.reason)
        return repos
    found = _matches(services, repos, lambda config: model_matches(config, event), event_id)
    if isinstance(found, Ignored):
        return found
    if not found:
        alias = event.alias if isinstance(event, ModelVersionAliasSet) else None
        return reasons.no_model_trigger(event.name, event.version, alias, repos)
    outcomes = []
    for repo, match in found:
        outcome = propose_update(
            services,
            repo=repo,
            deployment=match.deployment.name,
            version=match.version,
            source=model_source(event, tracking_url=services.settings.mlflow_tracking_url),
            requested_by="mlflow",
            event_id=event_id,
        )
        logger.info(
            "updates.model_outcome", repo=repo, deployment=match.deployment.name, status=outcome.status
        )
        outcomes.append(outcome)
    return _nothing_proposed(outcomes)


def _gitops_repos(services: Services) -> list[str] | Ignored:
    """The GitOps repositories to consult, or why there are none."""
    configured = services.settings.gitops_repos
    if not configured:
        return reasons.no_gitops_repos()
    repos = allowed_repos(configured, services.settings.repo_allowed)
    return repos if repos else reasons.no_allowed_gitops_repos(configured)


def _matches(
    services: Services, repos: list[str], matches: Callable[[RepoConfig], list[Match]], event_id: int | None
) -> list[tuple[str, Match]] | Ignored:
    """Every (repository, match) of the event; why there can be none when no config is usable."""
    found: list[tuple[str, Match]] = []
    problems: list[str] = []
    for repo in repos:
        loaded = services.repo_config(repo)
        if loaded.config is None:
            problem = loaded.problem() or f"{repo} has no usable .gitops-bot.yaml"
            report_unusable_config(services, repo, problem, event_id=event_id)
            problems.append(problem)
            continue
        found.extend((repo, match) for match in matches(loaded.config))
    if not found and len(problems) == len(repos):
        return reasons.unusable_configs(problems)
    return found


def _nothing_proposed(outcomes: list[UpdateOutcome]) -> Ignored | None:
    """None when any update was proposed (or recorded in dry run); else every outcome's reason."""
    if any(outcome.status not in ("unchanged", "superseded", "refused") for outcome in outcomes):
        return None
    return reasons.nothing_proposed([outcome.message for outcome in outcomes])


def promote(
    services: Services,
    *,
    repo: str,
    from_deployment: str,
    version: str,
    digest: str | None = None,
    requested_by: str,
    installation_id: int | None = None,
) -> UpdateOutcome:
    """Open the same update for the deployment named in ``from_deployment``'s ``promote.to``.

    Called when a canary passes, and by ``/gitops promote``. A promotion is explicit about its
    version (the canary proved it): the target's tag policy does not apply, so a production
    deployment can be set to move only by promotion. A quarantined version is still refused."""
    source = manual_source(
        f"promotion of {version} from {from_deployment} after its canary passed",
        requested_by,
        kind="promotion",
    )
    ask = UpdateAsk(
        repo=repo,
        deployment=from_deployment,
        version=version,
        source=source,
        requested_by=requested_by,
        digest=digest,
        explicit=True,
        installation_id=installation_id,
    )
    loaded = services.repo_config(repo, installation_id)
    if loaded.config is None:
        return record_no_update(services, ask, "refused", loaded.problem() or "no config")
    to = promotion_target(loaded.config, repo, from_deployment)
    if not isinstance(to, Promotion):
        return record_no_update(services, ask, "refused", to)
    outcome = propose(services, replace(ask, deployment=to.deployment))
    if outcome.status in ("opened", "dry_run"):
        _announce_promotion(services, loaded.config, ask, to.deployment, outcome)
    return outcome


@dataclass(frozen=True)
class Promotion:
    deployment: str


def promotion_target(config: RepoConfig, repo: str, from_deployment: str) -> Promotion | str:
    """The deployment ``from_deployment`` promotes to, or why there is none."""
    origin = find_deployment(config, from_deployment)
    if origin is None:
        return f"{repo}'s .gitops-bot.yaml has no deployment named {from_deployment!r}"
    if origin.promote is None:
        return f"{from_deployment} has no promote.to in {repo}'s .gitops-bot.yaml"
    return Promotion(origin.promote.to)


def _announce_promotion(
    services: Services, config: RepoConfig, ask: UpdateAsk, to: str, outcome: UpdateOutcome
) -> None:
    slack = config.notify.slack
    services.notifier.notify(
        PromotionOpened(
            repo=ask.repo,
            channel=slack.channel if slack else None,
            dry_run=services.dry_run,
            deployment=ask.deployment,
            version=ask.version,
            to_deployment=to,
            pr_url=outcome.pr_url,
        )
    )


def report_unusable_config(
    services: Services, repo: str, problem: str | None, *, event_id: int | None
) -> None:
    """A GitOps repository whose config is missing or invalid: said once per event, in the audit
    log with every error's file, line and key, so the person who pushed sees why nothing moved."""
    services.audit(
        kind="config.unusable",
        actor="gitops-bot",
        summary=problem or f"{repo} has no usable .gitops-bot.yaml",
        repo=repo,
        outcome="refused",
        details={"reason": problem or f"{repo} has no usable .gitops-bot.yaml"},
        event_id=event_id,
    )
    log.warning("updates.config_unusable", repo=repo, problem=problem)
