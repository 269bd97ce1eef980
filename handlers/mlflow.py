"""MLflow model registry: a new model version, or an alias set on one → update pull requests."""

from __future__ import annotations

from bot.events.model import ModelVersionAliasSet, ModelVersionCreated
from bot.jobs import HandlerContext
from bot.routing import Router
from bot.updates import model_source, propose_update
from bot.updates.service import report_unusable_config
from bot.updates.triggers import allowed_repos, model_matches

router = Router()


def _model_event(ctx: HandlerContext) -> None:
    event = ctx.domain
    if not isinstance(event, ModelVersionCreated | ModelVersionAliasSet):
        ctx.log.warning("updates.not_a_model_event", kind=getattr(event, "kind", None))
        return
    services = ctx.services
    for repo in allowed_repos(services.settings.gitops_repos, services.settings.repo_allowed):
        loaded = services.repo_config(repo)
        if loaded.config is None:
            report_unusable_config(ctx, repo, loaded.problem())
            continue
        for match in model_matches(loaded.config, event):
            outcome = propose_update(
                services,
                repo=repo,
                deployment=match.deployment.name,
                version=match.version,
                source=model_source(event, tracking_url=services.settings.mlflow_tracking_url),
                requested_by="mlflow",
                event_id=ctx.event.id if ctx.event else None,
            )
            ctx.log.info(
                "updates.model_outcome", repo=repo, deployment=match.deployment.name, status=outcome.status
            )


router.register("mlflow", "model_version", "created", name="updates.model_version_created")(_model_event)
router.register("mlflow", "model_version_alias", "created", name="updates.model_alias_set")(_model_event)
