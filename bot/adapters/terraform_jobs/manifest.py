"""The Kubernetes Job that runs one Terraform plan or apply: names, keys and the manifest (pure).

Everything here is data in, data out, so what the bot asks the cluster for is tested without one.

The pod gets only what the run needs: the one-time callback URL and token of its run, its spec,
and the operator's Secret as environment (cloud credentials). No service account token is
mounted (``automountServiceAccountToken: false``): Terraform from a pull request must not be able
to talk to the cluster as anyone. It runs as a non-root user with a read-only root filesystem and
no privilege escalation; ``/tmp`` (an emptyDir) is where it unpacks the work tree and where
Terraform keeps its providers.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Operation = Literal["plan", "apply"]

MANAGED_BY = "gitops-bot"
RUN_ID_LABEL = "gitops-bot/run-id"
OPERATION_LABEL = "gitops-bot/operation"
CONTAINER = "terraform"
COMMAND = ("gitops-bot", "terraform-job")
# Job names are DNS-1123 labels (at most 63 characters); the run id is appended to the prefix.
_PREFIX_LENGTH = 40
_NOT_DNS = re.compile(r"[^a-z0-9-]+")


@dataclass(frozen=True)
class JobSettings:
    """The operator's choices for every Terraform Job (``GITOPS_BOT_TERRAFORM_JOB_*``)."""

    namespace: str
    image: str
    service_account: str | None = None
    env_secret: str | None = None
    env_secrets: Mapping[str, str] = field(default_factory=dict)
    resources: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    node_selector: Mapping[str, str] = field(default_factory=dict)
    tolerations: Sequence[Mapping[str, str | int]] = ()
    keep_seconds: int = 3600


def run_key(repo: str, number: int, head_sha: str, project: str, workspace: str, operation: Operation) -> str:
    """The identity of one run: a retried job with the same key re-attaches to its Job."""
    material = "\0".join((repo, str(number), head_sha, project, workspace, operation))
    return hashlib.sha256(material.encode()).hexdigest()


def job_name_prefix(repo: str, project: str, operation: Operation) -> str:
    """``tf-plan-<repo>-<project>`` made DNS-safe and short (the run id follows, unique)."""
    readable = _NOT_DNS.sub("-", f"tf-{operation}-{repo.split('/')[-1]}-{project}".lower()).strip("-")
    return re.sub(r"-{2,}", "-", readable)[:_PREFIX_LENGTH].rstrip("-")


def env_secret_for(settings: JobSettings, repo: str, project: str) -> str | None:
    """The Secret for a project: ``repo:project``, then ``repo``, then the default (server-side only)."""
    return (
        settings.env_secrets.get(f"{repo}:{project}") or settings.env_secrets.get(repo) or settings.env_secret
    )


def job_manifest(
    settings: JobSettings,
    *,
    name: str,
    run_id: int,
    operation: Operation,
    spec_json: str,
    callback_url: str,
    token: str,
    env_secret: str | None,
    deadline_seconds: int,
) -> dict[str, Any]:
    """The ``batch/v1`` Job (as the API's JSON) that runs ``spec_json`` once and reports back."""
    labels = {
        "app.kubernetes.io/managed-by": MANAGED_BY,
        "app.kubernetes.io/component": "terraform",
        RUN_ID_LABEL: str(run_id),
        OPERATION_LABEL: operation,
    }
    container = _container(
        settings, spec_json=spec_json, callback_url=callback_url, token=token, env_secret=env_secret
    )
    pod_spec = _pod_spec(settings, container)
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": settings.namespace, "labels": labels},
        "spec": {
            # One attempt: a second run of an apply is not something to retry blindly.
            "backoffLimit": 0,
            "activeDeadlineSeconds": deadline_seconds,
            "ttlSecondsAfterFinished": settings.keep_seconds,
            "template": {"metadata": {"labels": labels}, "spec": pod_spec},
        },
    }


def _container(
    settings: JobSettings, *, spec_json: str, callback_url: str, token: str, env_secret: str | None
) -> dict[str, Any]:
    """The one container: the bot's image running the spec, writing only to its scratch volume."""
    container: dict[str, Any] = {
        "name": CONTAINER,
        "image": settings.image,
        "command": list(COMMAND),
        "env": [
            {"name": "GITOPS_BOT_JOB_URL", "value": callback_url},
            {"name": "GITOPS_BOT_JOB_TOKEN", "value": token},
            {"name": "GITOPS_BOT_JOB_SPEC", "value": spec_json},
            {"name": "TMPDIR", "value": "/tmp"},
            {"name": "HOME", "value": "/tmp"},
            {"name": "TF_IN_AUTOMATION", "value": "1"},
        ],
        "volumeMounts": [{"name": "work", "mountPath": "/tmp"}],
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
    }
    if settings.resources:
        container["resources"] = {kind: dict(values) for kind, values in settings.resources.items()}
    if env_secret:
        container["envFrom"] = [{"secretRef": {"name": env_secret}}]
    return container


def _pod_spec(settings: JobSettings, container: dict[str, Any]) -> dict[str, Any]:
    pod_spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "automountServiceAccountToken": False,
        # What Pod Security's "restricted" level asks of a pod.
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": 10001,
            "fsGroup": 10001,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [container],
        "volumes": [{"name": "work", "emptyDir": {}}],
    }
    if settings.service_account:
        pod_spec["serviceAccountName"] = settings.service_account
    if settings.node_selector:
        pod_spec["nodeSelector"] = dict(settings.node_selector)
    if settings.tolerations:
        pod_spec["tolerations"] = [dict(toleration) for toleration in settings.tolerations]
    return pod_spec
