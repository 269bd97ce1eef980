"""What the bot would do with one event in one GitOps repository, decided offline (``gitops-bot preview``).

The decisions are the live ones, on data the caller read: which deployments the event concerns
(:mod:`bot.updates.triggers`), what each deployment's update would be (:func:`bot.updates.plan.plan_update`,
whose edits are :mod:`bot.edits`'s), and, when no deployment is concerned, the reason the bot would
store on the event (:mod:`bot.reasons`). The running bot also knows two things a checkout does not:
the quarantined (rolled-back) versions and the open update pull requests. A preview assumes none
of either and says so (:data:`NOT_KNOWN_OFFLINE`).

Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from bot import reasons
from bot.config import Deployment, RepoConfig
from bot.events.model import ImagePushed, ModelVersionAliasSet, ModelVersionCreated
from bot.updates.plan import NoUpdate, UpdatePlan, plan_update
from bot.updates.source import UpdateSource, image_source, model_source
from bot.updates.triggers import Match, image_matches, model_matches

PreviewEvent = ImagePushed | ModelVersionCreated | ModelVersionAliasSet
PreviewStatus = Literal["proposes", "unchanged", "refused"]

NOT_KNOWN_OFFLINE = (
    "quarantined (rolled-back) versions and open update pull requests are known only to the "
    "running bot: none assumed"
)


@dataclass(frozen=True)
class DeploymentPreview:
    """One matching deployment and what its update would be."""

    deployment: Deployment
    version: str
    digest: str | None
    decision: UpdatePlan | NoUpdate

    @property
    def status(self) -> PreviewStatus:
        if isinstance(self.decision, UpdatePlan):
            return "proposes"
        return "refused" if self.decision.refused else "unchanged"

    @property
    def diff(self) -> str:
        """The unified diff of the pull request the bot would open (empty when none)."""
        return self.decision.diff if isinstance(self.decision, UpdatePlan) else ""


@dataclass(frozen=True)
class Preview:
    repo: str
    source: UpdateSource
    deployments: tuple[DeploymentPreview, ...]
    ignored: str | None = None
    """Why the event concerns no deployment (the reason the bot would store on it)."""
    not_known: str = NOT_KNOWN_OFFLINE

    @property
    def proposes(self) -> bool:
        """Whether any pull request would be opened: ``gitops-bot preview`` exits 1 then."""
        return any(item.status == "proposes" for item in self.deployments)

    def count(self, status: PreviewStatus) -> int:
        return sum(1 for item in self.deployments if item.status == status)


def event_matches(config: RepoConfig, event: PreviewEvent) -> list[Match]:
    """The deployments the event concerns, as the live handlers find them."""
    if isinstance(event, ImagePushed):
        return image_matches(config, event)
    return model_matches(config, event)


def target_paths(matches: list[Match]) -> tuple[str, ...]:
    """Every file the matching deployments' updates read: what the caller must load."""
    return tuple(sorted({path for match in matches for path in match.deployment.edited_files}))


def preview_event(
    config: RepoConfig,
    event: PreviewEvent,
    *,
    repo: str,
    files: Mapping[str, str | None],
    unusable: Mapping[str, str] | None = None,
) -> Preview:
    """Each matching deployment's decision for ``event``; ``files`` and ``unusable`` as
    :func:`~bot.updates.plan.plan_update` takes them, for every path of :func:`target_paths`."""
    source = _source(event)
    matches = event_matches(config, event)
    if not matches:
        return Preview(repo, source, (), ignored=_why_no_match(event, repo))
    previews = tuple(
        DeploymentPreview(
            deployment=match.deployment,
            version=match.version,
            digest=match.digest,
            decision=plan_update(
                repo=repo,
                deployment=match.deployment,
                version=match.version,
                digest=match.digest,
                files=files,
                unusable=unusable or {},
                quarantined=(),
                pending=(),
            ),
        )
        for match in matches
    )
    return Preview(repo, source, previews)


def _source(event: PreviewEvent) -> UpdateSource:
    return image_source(event) if isinstance(event, ImagePushed) else model_source(event)


def _why_no_match(event: PreviewEvent, repo: str) -> str:
    if isinstance(event, ImagePushed):
        if not event.tag:
            return reasons.digest_only_push(event.reference).reason
        return reasons.no_image_trigger(event.image, [repo]).reason
    alias = event.alias if isinstance(event, ModelVersionAliasSet) else None
    return reasons.no_model_trigger(event.name, event.version, alias, [repo]).reason
