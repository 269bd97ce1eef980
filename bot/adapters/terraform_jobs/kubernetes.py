"""The few Kubernetes calls the Job runner makes, blocking, over the official client.

Create a Job, read how it is doing (its own status and its pod's), follow its pod's log, delete
it. Every call has a timeout; API errors become :class:`JobsApiError` with a message that says
what to do (a 403 names the RBAC rule the chart grants).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from kubernetes import client as k8s_client
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from bot.adapters.terraform_jobs.manifest import CONTAINER

JobPhase = Literal["running", "succeeded", "failed", "missing"]
PodPhase = Literal["none", "waiting", "running", "terminated"]

# Reasons a container never starts; waiting longer changes nothing.
HOPELESS_WAITING_REASONS = frozenset(
    {"CreateContainerConfigError", "InvalidImageName", "ErrImageNeverPull", "CreateContainerError"}
)


class JobsApiError(Exception):
    """The API refused or could not be reached; the message says why."""


@dataclass(frozen=True)
class JobState:
    phase: JobPhase
    reason: str = ""  # the Failed condition's reason and message


@dataclass(frozen=True)
class PodState:
    phase: PodPhase
    name: str | None = None
    reason: str = ""  # waiting reason and message, or the terminated container's reason
    exit_code: int | None = None

    @property
    def hopeless(self) -> bool:
        return self.phase == "waiting" and self.reason.split(":")[0] in HOPELESS_WAITING_REASONS


class JobsApi:
    def __init__(self, api_client: k8s_client.ApiClient, *, request_timeout_seconds: float = 10.0) -> None:
        self.batch = k8s_client.BatchV1Api(api_client)
        self.core = k8s_client.CoreV1Api(api_client)
        self.timeout = request_timeout_seconds

    def probe(self, namespace: str) -> None:
        """Can the bot list Jobs in ``namespace``? Raises :class:`JobsApiError` when not."""
        self._call("list jobs", namespace, self.batch.list_namespaced_job, namespace, limit=1)

    def create_job(self, namespace: str, manifest: dict[str, Any]) -> None:
        self._call("create jobs", namespace, self.batch.create_namespaced_job, namespace, manifest)

    def job_state(self, namespace: str, name: str) -> JobState:
        try:
            job = self.batch.read_namespaced_job(name, namespace, _request_timeout=self.timeout)
        except ApiException as error:
            if error.status == 404:
                return JobState("missing")
            raise _api_error("get jobs", namespace, error) from error
        except HTTPError as error:
            raise JobsApiError(f"the Kubernetes API could not be reached: {error}") from error
        for condition in (job.status.conditions if job.status is not None else None) or ():
            if condition.status != "True":
                continue
            if condition.type == "Complete":
                return JobState("succeeded")
            if condition.type == "Failed":
                return JobState("failed", f"{condition.reason}: {condition.message or ''}".rstrip(": "))
        return JobState("running")

    def pod_state(self, namespace: str, job_name: str) -> PodState:
        pods = self._call(
            "list pods",
            namespace,
            self.core.list_namespaced_pod,
            namespace,
            label_selector=f"job-name={job_name}",
        )
        if not pods.items:
            return PodState("none")
        pod = pods.items[-1]
        name = pod.metadata.name
        for status in pod.status.container_statuses or ():
            if status.name != CONTAINER or status.state is None:
                continue
            if status.state.terminated is not None:
                ended = status.state.terminated
                return PodState("terminated", name, ended.reason or "", ended.exit_code)
            if status.state.running is not None:
                return PodState("running", name)
            if status.state.waiting is not None:
                waiting = status.state.waiting
                return PodState("waiting", name, f"{waiting.reason}: {waiting.message or ''}".rstrip(": "))
        return PodState("waiting", name, pod.status.phase or "Pending")

    def follow_log(self, namespace: str, pod: str) -> Iterator[str]:
        """The container's log line by line, from its start, until the container exits.

        Blocking; run it in a thread. Lines are decoded as UTF-8 (invalid bytes replaced).
        """
        try:
            response: Any = self.core.read_namespaced_pod_log(
                pod, namespace, container=CONTAINER, follow=True, _preload_content=False
            )
        except ApiException as error:
            raise _api_error("get pods/log", namespace, error) from error
        except HTTPError as error:
            raise JobsApiError(f"the Kubernetes API could not be reached: {error}") from error
        pending = b""
        try:
            for chunk in response.stream(amt=64 * 1024, decode_content=True):
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    yield line.decode("utf-8", errors="replace").rstrip("\r")
            if pending:
                yield pending.decode("utf-8", errors="replace").rstrip("\r")
        except HTTPError as error:
            raise JobsApiError(f"the log stream of pod {pod} broke off: {error}") from error
        finally:
            with contextlib.suppress(Exception):
                response.release_conn()

    def delete_job(self, namespace: str, name: str) -> None:
        """Delete the Job and its pod (the container gets its graceful stop); gone already is fine."""
        body = k8s_client.V1DeleteOptions(propagation_policy="Background")
        try:
            self.batch.delete_namespaced_job(name, namespace, body=body, _request_timeout=self.timeout)
        except ApiException as error:
            if error.status != 404:
                raise _api_error("delete jobs", namespace, error) from error
        except HTTPError as error:
            raise JobsApiError(f"the Kubernetes API could not be reached: {error}") from error

    def _call(self, verb: str, namespace: str, method: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, _request_timeout=self.timeout, **kwargs)
        except ApiException as error:
            raise _api_error(verb, namespace, error) from error
        except HTTPError as error:
            raise JobsApiError(f"the Kubernetes API could not be reached: {error}") from error


def _api_error(verb: str, namespace: str, error: ApiException) -> JobsApiError:
    if error.status in (401, 403):
        return JobsApiError(
            f"the Kubernetes API refused to {verb} in namespace {namespace!r} "
            f"({error.status} {error.reason}); the bot's service account needs the Role the chart "
            "grants (jobs, pods, pods/log there)"
        )
    return JobsApiError(
        f"the Kubernetes API answered {error.status} {error.reason} to {verb} in {namespace!r}"
    )
