"""Bursts coalesce: an update that a newer pending one will replace does nothing.

Ten versions of one deployment pushed within seconds are ten update jobs. Run one after another
(updates of a deployment are serialised), each would open its pull request only for the next to
supersede it: ten branches, ten pull requests, ten comments and Slack notes. Instead, an update
looks at the update jobs still queued or running that came *after* its own event, when it starts
and again just before it writes (the first of a burst often starts before the rest arrive): when
one of them asks the same deployment for a version its tag policy takes over this one, this
update records itself as superseded (audited, nothing written) and that newer job does the work.

Only later events count (a job never skips in favour of an older one, so two jobs cannot each
wait for the other), and only versions the policy would accept and that are newer, or, when the
two cannot be compared (``stable``, commit hashes), simply later: the same rule the planner uses
(:func:`bot.versions.decide_update`, "the newest event wins"). A person's explicit deploy is
never skipped.

:func:`newer_pending_version` is the decision (pure); :func:`find_newer_pending` reads the queue.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import structlog

from bot.config import Deployment, RepoConfig
from bot.events.model import ImagePushed, ModelVersionAliasSet, ModelVersionCreated, domain_event_from_json
from bot.updates.triggers import image_matches, model_matches
from bot.versions import TagPolicy, compare_versions

if TYPE_CHECKING:
    from bot.services import Services

log = structlog.get_logger("gitops_bot.updates")

# The handlers' names (handlers/updates.py registers them under these): the jobs that propose updates.
IMAGE_PUSHED_HANDLER = "updates.image_pushed"
MODEL_VERSION_HANDLER = "updates.model_version_created"
MODEL_ALIAS_HANDLER = "updates.model_alias_set"
UPDATE_HANDLERS = (IMAGE_PUSHED_HANDLER, MODEL_VERSION_HANDLER, MODEL_ALIAS_HANDLER)


@dataclass(frozen=True)
class PendingVersion:
    event_id: int
    version: str


def newer_pending_version(
    deployment: Deployment, version: str, event_id: int, pending: Iterable[PendingVersion]
) -> PendingVersion | None:
    """The newest pending version that replaces ``version`` (asked by event ``event_id``), if any."""
    policy = deployment.trigger.policy
    best: PendingVersion | None = None
    for candidate in pending:
        if candidate.event_id <= event_id or not policy.matches(candidate.version):
            continue
        order = compare_versions(policy, candidate.version, version)
        if order is not None and order <= 0:
            continue  # the same version again, or an older one: this update is still wanted
        if best is None or _replaces(policy, candidate, best):
            best = candidate
    return best


def _replaces(policy: TagPolicy, candidate: PendingVersion, best: PendingVersion) -> bool:
    order = compare_versions(policy, candidate.version, best.version)
    return order > 0 if order is not None else candidate.event_id > best.event_id


def find_newer_pending(
    services: Services, config: RepoConfig, deployment: Deployment, version: str, event_id: int | None
) -> PendingVersion | None:
    """Read the unfinished update jobs and decide; None when nothing pending replaces ``version``."""
    if event_id is None:
        return None
    pending: list[PendingVersion] = []
    for job in services.queue.unfinished(UPDATE_HANDLERS):
        if job.event_id is None or job.event_id <= event_id or job.event_domain is None:
            continue
        try:
            event = domain_event_from_json(job.event_domain)
        except Exception:  # a row this release cannot read: that job will say so itself
            continue
        if isinstance(event, ImagePushed):
            matches = image_matches(config, event)
        elif isinstance(event, ModelVersionCreated | ModelVersionAliasSet):
            matches = model_matches(config, event)
        else:
            continue
        pending += [
            PendingVersion(job.event_id, m.version) for m in matches if m.deployment.name == deployment.name
        ]
    return newer_pending_version(deployment, version, event_id, pending)
