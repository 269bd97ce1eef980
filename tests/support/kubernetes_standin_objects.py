"""Wire shapes of the Kubernetes stand-in's ``batch/v1`` Jobs, ``v1`` Pods and Secrets.

What the API server of Kubernetes 1.31 sends: the records the stand-in keeps (:class:`Job`,
:class:`Pod`, :class:`Secret`) rendered with server-set metadata, the defaults the API server
fills into a Job's spec and pod template, its validation of a new Job, and the status fields the
job controller and the kubelet report (``omitempty`` counts left out, pointer fields present).
Pure: the controller that changes the records is :mod:`tests.support.kubernetes_standin_jobs`.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tests.support.kubernetes_standin import _SAFE_ALPHABET, _timestamp
from tests.support.kubernetes_standin_kubelet import ContainerLog, ContainerProcess

CONTROLLER_UID_LABEL = "batch.kubernetes.io/controller-uid"
JOB_NAME_LABEL = "batch.kubernetes.io/job-name"
LEGACY_CONTROLLER_UID_LABEL = "controller-uid"
LEGACY_JOB_NAME_LABEL = "job-name"
JOB_TRACKING_FINALIZER = "batch.kubernetes.io/job-tracking"
NODE_NAME = "standin-node"
NODE_IP = "127.0.0.1"  # the containers share the host's network
# Generated names: the prefix is cut so that prefix + 5 random characters fit 63.
_MAX_GENERATE_NAME_PREFIX = 58
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


@dataclass
class Secret:
    namespace: str
    name: str
    uid: str
    resource_version: int
    data: dict[str, bytes]
    type: str = "Opaque"
    labels: dict[str, str] = field(default_factory=dict)
    created: str = field(default_factory=_timestamp)


@dataclass
class Pod:
    namespace: str
    name: str
    uid: str
    resource_version: int
    job: Job | None  # None once orphaned
    labels: dict[str, str]
    annotations: dict[str, str]
    spec: dict[str, Any]
    log: ContainerLog = field(default_factory=ContainerLog)
    created: str = field(default_factory=_timestamp)
    changed: str = field(default_factory=_timestamp)  # the last state change (condition times)
    phase: str = "Pending"
    waiting: tuple[str, str] | None = ("ContainerCreating", "")
    container_id: str = ""
    started_at: str | None = None
    finished_at: str | None = None
    exit_code: int | None = None
    terminated_reason: str = ""
    terminated_message: str = ""
    deletion: str | None = None
    deletion_grace: int | None = None
    kill_at: float | None = None  # monotonic time of the SIGKILL after the grace period
    process: ContainerProcess | None = None
    counted: bool = False  # the job controller has counted it as succeeded or failed

    @property
    def container(self) -> dict[str, Any]:
        return self.spec["containers"][0]  # type: ignore[no-any-return]

    @property
    def terminal(self) -> bool:
        return self.phase in ("Succeeded", "Failed")


@dataclass
class Job:
    namespace: str
    name: str
    uid: str
    resource_version: int
    labels: dict[str, str]
    annotations: dict[str, str]
    spec: dict[str, Any]
    created: str = field(default_factory=_timestamp)
    start_time: str | None = None
    started: float | None = None  # monotonic, for activeDeadlineSeconds
    completion_time: str | None = None
    conditions: list[dict[str, Any]] = field(default_factory=list)
    succeeded: int = 0
    failed: int = 0
    failure: tuple[str, str] | None = None  # FailureTarget's reason and message, until Failed
    finished: float | None = None  # monotonic, for ttlSecondsAfterFinished
    deletion: str | None = None
    finalizers: list[str] = field(default_factory=list)
    pods: list[Pod] = field(default_factory=list)


# -- names, defaults, validation ---------------------------------------------------------------------


def random_suffix(length: int = 5) -> str:
    return "".join(secrets.choice(_SAFE_ALPHABET) for _ in range(length))


def generated_name(prefix: str) -> str:
    return prefix[:_MAX_GENERATE_NAME_PREFIX] + random_suffix()


def job_spec_with_defaults(spec: Mapping[str, Any], *, name: str, uid: str) -> dict[str, Any]:
    """The Job's spec as the API server stores it (defaults, generated selector and labels)."""
    result = copy.deepcopy(dict(spec))
    if "completions" not in result and "parallelism" not in result:
        result["completions"] = 1
    result.setdefault("parallelism", 1)
    result.setdefault("backoffLimit", 6)
    result.setdefault("completionMode", "NonIndexed")
    result.setdefault("suspend", False)
    if "podFailurePolicy" not in result:
        result.setdefault("podReplacementPolicy", "TerminatingOrFailed")
    result["selector"] = {"matchLabels": {CONTROLLER_UID_LABEL: uid}}
    template = result.setdefault("template", {})
    metadata = template.setdefault("metadata", {})
    metadata.setdefault("creationTimestamp", None)
    metadata["labels"] = {**(metadata.get("labels") or {}), **controller_labels(name, uid)}
    template["spec"] = pod_spec_with_defaults(template.get("spec") or {})
    return result


def controller_labels(job_name: str, uid: str) -> dict[str, str]:
    return {
        CONTROLLER_UID_LABEL: uid,
        JOB_NAME_LABEL: job_name,
        LEGACY_CONTROLLER_UID_LABEL: uid,
        LEGACY_JOB_NAME_LABEL: job_name,
    }


def pod_spec_with_defaults(spec: Mapping[str, Any]) -> dict[str, Any]:
    result = copy.deepcopy(dict(spec))
    result.setdefault("restartPolicy", "Always")
    result.setdefault("terminationGracePeriodSeconds", 30)
    result.setdefault("dnsPolicy", "ClusterFirst")
    result.setdefault("securityContext", {})
    result.setdefault("schedulerName", "default-scheduler")
    for container in result.get("containers") or ():
        container.setdefault("resources", {})
        container.setdefault("terminationMessagePath", "/dev/termination-log")
        container.setdefault("terminationMessagePolicy", "File")
        image = str(container.get("image", ""))
        untagged = ":" not in image.rsplit("/", 1)[-1] and "@" not in image
        always = untagged or image.endswith(":latest")
        container.setdefault("imagePullPolicy", "Always" if always else "IfNotPresent")
    return result


def job_problems(name: str, spec: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """Validation errors of a new Job as (field, cause reason, message); empty when valid."""
    problems = []
    if not _DNS_SUBDOMAIN.match(name):
        problems.append(
            (
                "metadata.name",
                "FieldValueInvalid",
                f'Invalid value: "{name}": a lowercase RFC 1123 subdomain must consist of lower case '
                "alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character",
            )
        )
    elif len(name) > 63:
        problems.append(
            (
                "metadata.name",
                "FieldValueInvalid",
                f'Invalid value: "{name}": must be no more than 63 characters',
            )
        )
    pod_spec = (spec.get("template") or {}).get("spec") or {}
    containers = pod_spec.get("containers") or []
    if not containers:
        problems.append(("spec.template.spec.containers", "FieldValueRequired", "Required value"))
    for index, container in enumerate(containers):
        for key in ("name", "image"):
            if not container.get(key):
                problems.append(
                    (f"spec.template.spec.containers[{index}].{key}", "FieldValueRequired", "Required value")
                )
    policy = pod_spec.get("restartPolicy", "Always")
    if policy not in ("OnFailure", "Never"):
        problems.append(
            (
                "spec.template.spec.restartPolicy",
                "FieldValueNotSupported",
                f'Unsupported value: "{policy}": supported values: "OnFailure", "Never"',
            )
        )
    return problems


# -- rendering ---------------------------------------------------------------------------------------


def render_job(job: Job, *, as_list_item: bool = False) -> dict[str, Any]:
    metadata: dict[str, Any] = _metadata(job.namespace, job.name, job.uid, job.resource_version, job.created)
    # Defaulting copies the template's labels to a Job created without labels (on every read).
    metadata["labels"] = dict(job.labels or job.spec["template"]["metadata"]["labels"])
    if job.annotations:
        metadata["annotations"] = dict(job.annotations)
    metadata["generation"] = 1
    if job.deletion:
        metadata.update(deletionTimestamp=job.deletion, deletionGracePeriodSeconds=0)
    if job.finalizers:
        metadata["finalizers"] = list(job.finalizers)
    live = [pod for pod in job.pods if not pod.terminal]
    counts = {
        "active": sum(1 for pod in live if pod.deletion is None),
        "succeeded": job.succeeded,
        "failed": job.failed,
    }
    status: dict[str, Any] = {}
    if job.conditions:
        status["conditions"] = copy.deepcopy(job.conditions)
    if job.start_time:
        status["startTime"] = job.start_time
    if job.completion_time:
        status["completionTime"] = job.completion_time
    status.update({key: value for key, value in counts.items() if value})  # omitempty
    if job.start_time:  # pointer fields, set from the controller's first sync on
        status["terminating"] = sum(1 for pod in live if pod.deletion is not None)
        status["uncountedTerminatedPods"] = {}
        status["ready"] = sum(1 for pod in live if pod.phase == "Running" and pod.deletion is None)
    document = {"metadata": metadata, "spec": copy.deepcopy(job.spec), "status": status}
    return document if as_list_item else {"kind": "Job", "apiVersion": "batch/v1", **document}


def render_pod(pod: Pod, *, as_list_item: bool = False) -> dict[str, Any]:
    metadata: dict[str, Any] = _metadata(pod.namespace, pod.name, pod.uid, pod.resource_version, pod.created)
    metadata["labels"] = dict(pod.labels)
    if pod.annotations:
        metadata["annotations"] = dict(pod.annotations)
    if pod.job is not None:
        metadata["generateName"] = f"{pod.job.name}-"[:_MAX_GENERATE_NAME_PREFIX]
        metadata["ownerReferences"] = [
            {
                "apiVersion": "batch/v1",
                "kind": "Job",
                "name": pod.job.name,
                "uid": pod.job.uid,
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]
        if not pod.counted:
            metadata["finalizers"] = [JOB_TRACKING_FINALIZER]
    if pod.deletion:
        metadata.update(deletionTimestamp=pod.deletion, deletionGracePeriodSeconds=pod.deletion_grace)
    document = {"metadata": metadata, "spec": copy.deepcopy(pod.spec), "status": _pod_status(pod)}
    return document if as_list_item else {"kind": "Pod", "apiVersion": "v1", **document}


def render_secret(secret: Secret, *, as_list_item: bool = False) -> dict[str, Any]:
    metadata = _metadata(secret.namespace, secret.name, secret.uid, secret.resource_version, secret.created)
    if secret.labels:
        metadata["labels"] = dict(secret.labels)
    document: dict[str, Any] = {"metadata": metadata, "type": secret.type}
    if secret.data:
        document["data"] = {key: base64.b64encode(value).decode() for key, value in secret.data.items()}
    return document if as_list_item else {"kind": "Secret", "apiVersion": "v1", **document}


def job_condition(kind: str, reason: str = "", message: str = "") -> dict[str, Any]:
    """A Job condition as the controller writes it (1.31: Complete and SuccessCriteriaMet carry no
    reason or message; both are ``omitempty``)."""
    now = _timestamp()
    condition: dict[str, Any] = {
        "type": kind,
        "status": "True",
        "lastProbeTime": now,
        "lastTransitionTime": now,
    }
    if reason:
        condition["reason"] = reason
    if message:
        condition["message"] = message
    return condition


def _metadata(namespace: str, name: str, uid: str, resource_version: int, created: str) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": namespace,
        "uid": uid,
        "resourceVersion": str(resource_version),
        "creationTimestamp": created,
    }


def _pod_status(pod: Pod) -> dict[str, Any]:
    container = pod.container
    sandbox_ready = pod.waiting != ("ContainerCreating", "") and not pod.terminal
    running = pod.phase == "Running"
    status: dict[str, Any] = {
        "phase": pod.phase,
        "conditions": _pod_conditions(pod, sandbox_ready=sandbox_ready, running=running),
        "hostIP": NODE_IP,
        "hostIPs": [{"ip": NODE_IP}],
        "startTime": pod.created,
        "containerStatuses": [_container_status(pod, container)],
        "qosClass": _qos_class(container),
    }
    if pod.waiting != ("ContainerCreating", ""):
        status["podIP"] = NODE_IP
        status["podIPs"] = [{"ip": NODE_IP}]
    return status


def _pod_conditions(pod: Pod, *, sandbox_ready: bool, running: bool) -> list[dict[str, Any]]:
    done_reason = "PodCompleted" if pod.phase == "Succeeded" else "PodFailed"
    if running:
        ready: dict[str, Any] = {"status": "True"}
    elif pod.terminal:
        ready = {"status": "False", "reason": done_reason}
    else:
        ready = {
            "status": "False",
            "reason": "ContainersNotReady",
            "message": f"containers with unready status: [{pod.container['name']}]",
        }

    def condition(kind: str, status: str, when: str, **extra: str) -> dict[str, Any]:
        return {"type": kind, "status": status, "lastProbeTime": None, "lastTransitionTime": when, **extra}

    initialized = {"reason": "PodCompleted"} if pod.terminal else {}
    return [
        condition("PodReadyToStartContainers", "True" if sandbox_ready else "False", pod.changed),
        condition("Initialized", "True", pod.created, **initialized),
        condition("Ready", when=pod.changed, **ready),
        condition("ContainersReady", when=pod.changed, **ready),
        condition("PodScheduled", "True", pod.created),
    ]


def _container_status(pod: Pod, container: Mapping[str, Any]) -> dict[str, Any]:
    image = str(container.get("image", ""))
    status: dict[str, Any] = {
        "name": container["name"],
        "state": {},
        "lastState": {},
        "ready": pod.phase == "Running",
        "restartCount": 0,
        "image": image,
        "imageID": "",
        "started": pod.phase == "Running",
    }
    if pod.container_id:
        digest = hashlib.sha256(image.encode()).hexdigest()
        status["imageID"] = f"{image.split('@')[0].rsplit(':', 1)[0]}@sha256:{digest}"
        status["containerID"] = pod.container_id
    if pod.exit_code is not None:
        terminated: dict[str, Any] = {
            "exitCode": pod.exit_code,
            "reason": pod.terminated_reason,
            "startedAt": pod.started_at or "1970-01-01T00:00:00Z",
            "finishedAt": pod.finished_at,
            "containerID": pod.container_id,
        }
        if pod.terminated_message:
            terminated["message"] = pod.terminated_message
        status["state"] = {"terminated": terminated}
    elif pod.started_at is not None:
        status["state"] = {"running": {"startedAt": pod.started_at}}
    elif pod.waiting is not None:
        reason, message = pod.waiting
        status["state"] = {"waiting": {"reason": reason, **({"message": message} if message else {})}}
    return status


def _qos_class(container: Mapping[str, Any]) -> str:
    resources = container.get("resources") or {}
    requests, limits = resources.get("requests") or {}, resources.get("limits") or {}
    if not requests and not limits:
        return "BestEffort"
    guaranteed = all(
        limits.get(kind) and requests.get(kind, limits[kind]) == limits[kind] for kind in ("cpu", "memory")
    )
    return "Guaranteed" if guaranteed else "Burstable"
