"""The Job runner as ``GITOPS_BOT_TERRAFORM_*`` settings describe it, and what is missing from them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.adapters.terraform_cli.results import StepTimeouts
from bot.adapters.terraform_jobs.kubernetes import JobsApi
from bot.adapters.terraform_jobs.manifest import JobSettings
from bot.adapters.terraform_jobs.runner import KubernetesJobRunner
from bot.adapters.terraform_jobs.store import TerraformJobRuns

if TYPE_CHECKING:
    from bot.settings import Settings
    from bot.storage.db import Database


def configuration_problem(settings: Settings) -> str | None:
    """Why the Job runner cannot run with these settings (each missing setting named), or None."""
    missing = [
        name
        for name, value in (
            ("GITOPS_BOT_TERRAFORM_JOB_NAMESPACE", settings.terraform_job_namespace),
            (
                "GITOPS_BOT_TERRAFORM_JOB_IMAGE (the chart sets it to the bot's image)",
                settings.terraform_job_image,
            ),
            (
                "GITOPS_BOT_TERRAFORM_JOB_CALLBACK_URL or GITOPS_BOT_PUBLIC_URL (the way back to the bot)",
                settings.terraform_job_callback_url or settings.public_url,
            ),
        )
        if not value
    ]
    if not settings.kubernetes_configured:
        missing.append("a way to reach the Kubernetes API (GITOPS_BOT_KUBERNETES_IN_CLUSTER=true in a pod)")
    if not missing:
        return None
    return "GITOPS_BOT_TERRAFORM_EXECUTOR=kubernetes needs " + "; ".join(missing)


def job_runner(settings: Settings, database: Database, timeouts: StepTimeouts) -> KubernetesJobRunner:
    problem = configuration_problem(settings)
    job_settings = None
    if problem is None:
        assert settings.terraform_job_namespace is not None and settings.terraform_job_image is not None
        job_settings = JobSettings(
            namespace=settings.terraform_job_namespace,
            image=settings.terraform_job_image,
            service_account=settings.terraform_job_service_account,
            env_secret=settings.terraform_job_env_secret,
            env_secrets=dict(settings.terraform_job_env_secrets),
            resources=settings.terraform_job_resources,
            node_selector=settings.terraform_job_node_selector,
            tolerations=settings.terraform_job_tolerations,
            keep_seconds=settings.terraform_job_keep_seconds,
        )

    def jobs_api() -> JobsApi:
        from kubernetes import client as k8s_client

        from bot.adapters.kubernetes.configuration import build_configuration

        token = settings.kubernetes_token
        configuration = build_configuration(
            in_cluster=settings.kubernetes_in_cluster,
            kubeconfig=settings.kubeconfig,
            context=settings.kubernetes_context,
            host=settings.kubernetes_api_url,
            token=token.get_secret_value() if token is not None else None,
            ca_cert=settings.kubernetes_ca_cert,
            verify_ssl=settings.kubernetes_verify_ssl,
        )
        api_client = k8s_client.ApiClient(configuration)
        return JobsApi(api_client, request_timeout_seconds=settings.kubernetes_request_timeout_seconds)

    return KubernetesJobRunner(
        settings.terraform_bin,
        jobs=jobs_api,
        runs=TerraformJobRuns(database),
        settings=job_settings,
        callback_url=settings.terraform_job_callback_url or settings.public_url,
        timeouts=timeouts,
        problem=problem,
        poll_seconds=settings.terraform_job_poll_seconds,
    )
