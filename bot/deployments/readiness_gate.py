"""The readiness gate: an analysis waits until Kubernetes runs the version before it measures.

Each poll is one step of the analysis loop (status ``waiting_rollout``); the gate either starts
measuring, ends the analysis early (rollout failed, too slow, or the API unusable), or schedules
the next poll.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.deployments import plan as plans
from bot.deployments.analysis_end import end_analysis, lock_analysis
from bot.deployments.plan import AnalysisPlan
from bot.deployments.stepping import announce_passed, start_rung
from bot.notify import CanaryFinished
from bot.services import Services
from bot.storage.models import Deployment
from bot.storage.types import utcnow


def readiness_step(services: Services, analysis_id: int, plan: AnalysisPlan, started_at: datetime) -> None:
    from bot.adapters.kubernetes import KubernetesError

    readiness = plan.readiness
    now = utcnow()
    kubernetes = services.kubernetes()
    if readiness is None or kubernetes is None:
        note = (
            "readiness gate skipped: no Kubernetes API is configured (set GITOPS_BOT_KUBERNETES_API_URL, "
            "GITOPS_BOT_KUBECONFIG or GITOPS_BOT_KUBERNETES_IN_CLUSTER)"
            if readiness is not None
            else "no readiness gate"
        )
        _start_measuring(services, analysis_id, plan, now, note)
        return
    try:
        status = kubernetes.get_status(readiness.namespace, readiness.deployment, plan.version)
    except KubernetesError as error:
        _end_early(services, analysis_id, "stopped_inconclusive", f"readiness gate: {error}")
        return
    deadline = started_at + timedelta(seconds=readiness.timeout_seconds)
    if status.done:
        _start_measuring(services, analysis_id, plan, now, f"rollout done: {status.reason}")
    elif status.failed:
        _end_early(services, analysis_id, "failed", f"rollout failed: {status.reason}")
    elif now >= deadline:
        _end_early(
            services,
            analysis_id,
            "failed",
            f"rollout of Deployment {readiness.namespace}/{readiness.deployment} did not finish within "
            f"{readiness.timeout_seconds}s; last seen: {status.reason}",
        )
    else:
        poll = max(0.05, services.settings.rollout_poll_seconds)
        with services.database.transaction() as session:
            analysis = lock_analysis(session, services, analysis_id)
            if analysis is not None and analysis.status == "waiting_rollout":
                analysis.next_run_at = min(now + timedelta(seconds=poll), deadline)
                analysis.reason = f"waiting for the rollout: {status.reason}"


def _start_measuring(
    services: Services, analysis_id: int, plan: AnalysisPlan, now: datetime, note: str
) -> None:
    with services.database.transaction() as session:
        analysis = lock_analysis(session, services, analysis_id)
        if analysis is None or analysis.status != "waiting_rollout":
            return
        analysis.reason = note
        passed = start_rung(session, services, analysis, plan, now)
        deployment_id = analysis.deployment_id
    if passed is not None:
        announce_passed(services, plan, deployment_id, passed)


def _end_early(services: Services, analysis_id: int, status: str, reason: str) -> None:
    """End an analysis without a metric verdict (readiness gate failed or unusable)."""
    now = utcnow()
    with services.database.transaction() as session:
        analysis = lock_analysis(session, services, analysis_id)
        if analysis is None or analysis.status not in plans.ACTIVE_ANALYSIS:
            return
        plan = AnalysisPlan.from_json(analysis.config)
        deployment = session.get(Deployment, analysis.deployment_id)
        end_analysis(session, services, analysis, deployment, plan, status, reason, now)
        deployment_id = analysis.deployment_id
    services.notifier.notify(
        CanaryFinished(
            repo=plan.repo,
            channel=plan.channel,
            dry_run=services.dry_run,
            deployment=plan.deployment,
            version=plan.version,
            deployment_id=deployment_id,
            status=status,  # type: ignore[arg-type]
            reason=reason,
            next_step=plans.next_step(plan, status).text,
        )
    )
