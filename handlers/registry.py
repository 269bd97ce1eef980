"""Container image pushes (CNCF distribution, Harbor, Docker Hub, GHCR) → update pull requests."""

from __future__ import annotations

from bot.events.model import ImagePushed
from bot.jobs import HandlerContext
from bot.routing import Router
from bot.updates import image_source, propose_update
from bot.updates.service import report_unusable_config
from bot.updates.triggers import allowed_repos, image_matches

router = Router()


@router.register("registry", "image", "pushed", name="updates.image_pushed")
def image_pushed(ctx: HandlerContext) -> None:
    image = ctx.domain
    if not isinstance(image, ImagePushed):
        ctx.log.warning("updates.not_an_image_push", kind=getattr(image, "kind", None))
        return
    services = ctx.services
    repos = allowed_repos(services.settings.gitops_repos, services.settings.repo_allowed)
    if not repos:
        ctx.log.info("updates.no_gitops_repos", image=image.reference)
        return
    for repo in repos:
        loaded = services.repo_config(repo)
        if loaded.config is None:
            report_unusable_config(ctx, repo, loaded.problem())
            continue
        for match in image_matches(loaded.config, image):
            outcome = propose_update(
                services,
                repo=repo,
                deployment=match.deployment.name,
                version=match.version,
                digest=match.digest,
                source=image_source(image),
                requested_by=image.actor,
                event_id=ctx.event.id if ctx.event else None,
            )
            ctx.log.info(
                "updates.image_outcome", repo=repo, deployment=match.deployment.name, status=outcome.status
            )
