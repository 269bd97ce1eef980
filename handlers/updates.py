"""Version updates: registry pushes and MLflow versions open pull requests; bot pull requests are
automerged and settled. The work is in :mod:`bot.updates`; these only route events to it."""

from __future__ import annotations

import time

from bot import reasons
from bot.events.model import (
    ImagePushed,
    ModelVersionAliasSet,
    ModelVersionCreated,
    PipelineFinished,
    PullRequestChanged,
)
from bot.jobs import HandlerContext
from bot.reasons import Ignored
from bot.routing import Router
from bot.services import Services
from bot.updates import automerge as updates_automerge
from bot.updates import coalesce
from bot.updates.service import propose_for_image, propose_for_model

router = Router()


@router.register("registry", "image", "pushed", name=coalesce.IMAGE_PUSHED_HANDLER)
def image_pushed(ctx: HandlerContext) -> Ignored | None:
    """Container image pushes (CNCF distribution, Harbor, Docker Hub, GHCR)."""
    image = ctx.domain
    if not isinstance(image, ImagePushed):
        ctx.log.warning("updates.not_an_image_push", kind=getattr(image, "kind", None))
        return reasons.not_this_kind("an image push", getattr(image, "kind", None))
    event_id = ctx.event.id if ctx.event else None
    return propose_for_image(ctx.services, image, event_id=event_id, logger=ctx.log)


def model_event(ctx: HandlerContext) -> Ignored | None:
    """MLflow model registry: a new model version, or an alias set on one."""
    event = ctx.domain
    if not isinstance(event, ModelVersionCreated | ModelVersionAliasSet):
        ctx.log.warning("updates.not_a_model_event", kind=getattr(event, "kind", None))
        return reasons.not_this_kind("a model version or alias", getattr(event, "kind", None))
    event_id = ctx.event.id if ctx.event else None
    return propose_for_model(ctx.services, event, event_id=event_id, logger=ctx.log)


router.register("mlflow", "model_version", "created", name=coalesce.MODEL_VERSION_HANDLER)(model_event)
router.register("mlflow", "model_version_alias", "created", name=coalesce.MODEL_ALIAS_HANDLER)(model_event)


@router.register("github", "pull_request", None, name="updates.pull_request")
def pull_request_changed(ctx: HandlerContext) -> Ignored | None:
    if not isinstance(ctx.domain, PullRequestChanged):
        return reasons.not_this_kind("a pull request change", getattr(ctx.domain, "kind", None))
    return updates_automerge.pull_request_changed(ctx.services, ctx.domain)


@router.register("gitlab", "pipeline", None, name="updates.pipeline_finished")
def pipeline_finished(ctx: HandlerContext) -> Ignored | None:
    """GitLab: a merge request's pipeline finished, the moment its automerge check may pass."""
    if not isinstance(ctx.domain, PipelineFinished):
        return reasons.not_this_kind("a finished pipeline", getattr(ctx.domain, "kind", None))
    return updates_automerge.pipeline_finished(ctx.services, ctx.domain)


@router.register("internal", "updates", "automerge", name=updates_automerge.AUTOMERGE_HANDLER)
def automerge(ctx: HandlerContext) -> None:
    installation_id = ctx.payload.get("installation_id")
    updates_automerge.automerge(
        ctx.services,
        repo=str(ctx.payload["repo"]),
        number=int(ctx.payload["number"]),
        installation_id=installation_id,
        logger=ctx.log,
    )


@router.periodic("updates.automerge_sweep", every_seconds=updates_automerge.SWEEP_SECONDS)
def automerge_sweep(services: Services) -> int:
    return updates_automerge.sweep(services, now=time.time())
