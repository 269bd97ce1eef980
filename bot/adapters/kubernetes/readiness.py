"""The Kubernetes readiness gate: wait until a Deployment runs a version, through the official client.

:class:`KubernetesReadiness` reads ``apps/v1`` Deployments with
``AppsV1Api.read_namespaced_deployment`` and classifies them with the pure
:func:`bot.adapters.kubernetes.rollout.rollout_status` (``kubectl rollout status`` semantics
plus the "does it run the new version yet" check).

Every instance owns its own ``kubernetes.client.Configuration``
(:func:`bot.adapters.kubernetes.configuration.build_configuration`) and ``ApiClient``, so nothing
touches the client library's process-wide default and one process can watch several clusters.
The urllib3 pool behind an ``ApiClient`` is thread-safe, so
one instance may serve several worker threads.

**Everything here blocks** (HTTP calls and the wait loop); async callers run it in a thread
(``asyncio.to_thread``). :meth:`KubernetesReadiness.wait_for_rollout` sleeps between polls on a
``threading.Event``, so a caller can stop it early by setting the ``stop`` event it passes.

What each API answer means for the wait:

* 200 → classified; ``done`` or ``failed`` (``ProgressDeadlineExceeded``) ends the wait.
* 404 → a ``not_found`` status, and the wait goes on: right after a merge, Argo CD or Flux may not
  have created a new Deployment yet. If it is still missing at the deadline the final status says
  "Deployment ns/name not found".
* 401/403 → :class:`KubernetesAccessDenied` at once, naming the RBAC the bot needs (``get`` on
  ``deployments`` in API group ``apps``): waiting cannot fix credentials.
* connection errors, TLS errors, timeouts, 429 and 5xx → an ``unreachable`` status; retried until
  the deadline (API servers restart and load balancers flap).
* any other answer → :class:`KubernetesError` with the server's message.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import structlog
import urllib3
from kubernetes import client as k8s_client
from kubernetes.client.exceptions import ApiException

from bot.adapters.kubernetes.configuration import build_configuration
from bot.adapters.kubernetes.errors import (
    KubernetesAccessDenied,
    KubernetesConfigError,
    KubernetesError,
    KubernetesUnavailable,
)
from bot.adapters.kubernetes.rollout import (
    InvalidDeploymentObject,
    RolloutPhase,
    RolloutStatus,
    rollout_status,
)

log = structlog.get_logger("gitops_bot.kubernetes")

ProgressCallback = Callable[[RolloutStatus], None]

_RBAC_HINT = (
    "the bot's identity needs `get` on `deployments` in API group `apps` in namespace {namespace} "
    "(a Role with apiGroups: [apps], resources: [deployments], verbs: [get], bound by a RoleBinding)"
)


class KubernetesReadiness:
    """Reads Deployments from one cluster and waits for rollouts; see the module docs.

    Give exactly one of ``in_cluster=True``, ``kubeconfig`` (+ ``context``), or ``host`` (+ ``token``,
    ``ca_cert``, ``verify_ssl``). ``request_timeout_seconds`` bounds each HTTP request.
    ``version_label``/``version_annotation`` name a pod-template label/annotation that also counts
    as carrying the version (besides container images). ``clock`` is injectable for tests.
    """

    def __init__(
        self,
        *,
        in_cluster: bool = False,
        kubeconfig: str | os.PathLike[str] | None = None,
        context: str | None = None,
        host: str | None = None,
        token: str | None = None,
        ca_cert: str | os.PathLike[str] | None = None,
        verify_ssl: bool = True,
        request_timeout_seconds: float = 10.0,
        version_label: str | None = None,
        version_annotation: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if request_timeout_seconds <= 0:
            raise ValueError(f"request_timeout_seconds must be positive, got {request_timeout_seconds}")
        self._configuration = build_configuration(
            in_cluster=in_cluster,
            kubeconfig=kubeconfig,
            context=context,
            host=host,
            token=token,
            ca_cert=ca_cert,
            verify_ssl=verify_ssl,
        )
        self._api_client = k8s_client.ApiClient(configuration=self._configuration)
        self._apps = k8s_client.AppsV1Api(api_client=self._api_client)
        self._request_timeout = request_timeout_seconds
        self._version_label = version_label
        self._version_annotation = version_annotation
        self._clock = clock

    @property
    def host(self) -> str:
        """The API server URL in use (from the host, the kubeconfig or the in-cluster environment)."""
        return str(self._configuration.host)

    def close(self) -> None:
        self._api_client.close()

    def __enter__(self) -> KubernetesReadiness:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- one read -------------------------------------------------------------------------------

    def read_deployment(
        self, namespace: str, name: str, *, request_timeout_seconds: float | None = None
    ) -> dict[str, Any] | None:
        """The Deployment as the API serves it (JSON, camelCase), or None when it does not exist.

        Raises :class:`KubernetesAccessDenied` (401/403), :class:`KubernetesUnavailable`
        (unreachable, timeout, 429/5xx) or :class:`KubernetesError` (anything else unexpected).
        """
        _check_name(namespace, "namespace")
        _check_name(name, "Deployment name")
        timeout = request_timeout_seconds or self._request_timeout
        try:
            # Raw JSON rather than the generated model: the pure check works on the wire format.
            response = self._apps.read_namespaced_deployment(
                name, namespace, _request_timeout=timeout, _preload_content=False
            )
        except ApiException as error:
            self._raise_api_error(error, namespace, name)  # returns only for 404
            return None
        except (urllib3.exceptions.HTTPError, OSError) as error:
            raise KubernetesUnavailable(
                f"the Kubernetes API at {self.host} is unreachable: {_describe_network_error(error)}"
            ) from error
        try:
            body = response.data
        except (urllib3.exceptions.HTTPError, OSError) as error:
            raise KubernetesUnavailable(
                f"the Kubernetes API at {self.host} broke off its answer: {_describe_network_error(error)}"
            ) from error
        finally:
            response.release_conn()
        try:
            document = json.loads(body)
        except ValueError as error:
            raise KubernetesError(
                f"the Kubernetes API at {self.host} answered Deployment {namespace}/{name} with "
                f"something that is not JSON: {body[:200]!r}"
            ) from error
        if not isinstance(document, dict) or document.get("kind") != "Deployment":
            raise KubernetesError(
                f"the Kubernetes API at {self.host} answered Deployment {namespace}/{name} with a "
                f"{document.get('kind') if isinstance(document, dict) else type(document).__name__} "
                "instead of a Deployment; is the host a Kubernetes API server?"
            )
        return document

    def get_status(
        self,
        namespace: str,
        name: str,
        version: str | None,
        *,
        container: str | None = None,
        request_timeout_seconds: float | None = None,
    ) -> RolloutStatus:
        """One look at the rollout. Never raises for "not found" or "unreachable" — those are
        statuses (``not_found``, ``unreachable``); raises :class:`KubernetesAccessDenied` and
        :class:`KubernetesError` like :meth:`read_deployment`."""
        try:
            document = self.read_deployment(namespace, name, request_timeout_seconds=request_timeout_seconds)
        except KubernetesUnavailable as error:
            return RolloutStatus(
                phase=RolloutPhase.UNREACHABLE,
                reason=str(error),
                namespace=namespace,
                name=name,
                expected_version=version,
            )
        if document is None:
            return RolloutStatus(
                phase=RolloutPhase.NOT_FOUND,
                reason=f"Deployment {namespace}/{name} not found",
                namespace=namespace,
                name=name,
                expected_version=version,
            )
        try:
            return rollout_status(
                document,
                version,
                container,
                version_label=self._version_label,
                version_annotation=self._version_annotation,
            )
        except InvalidDeploymentObject as error:
            raise KubernetesError(f"Deployment {namespace}/{name} from {self.host}: {error}") from error

    # -- the wait -------------------------------------------------------------------------------

    def wait_for_rollout(
        self,
        namespace: str,
        name: str,
        version: str | None,
        timeout_seconds: float,
        poll_seconds: float = 2.0,
        on_progress: ProgressCallback | None = None,
        *,
        container: str | None = None,
        stop: threading.Event | None = None,
    ) -> RolloutStatus:
        """Poll until the Deployment runs ``version`` and its rollout is done, the rollout fails, or
        ``timeout_seconds`` pass. Blocks the calling thread.

        Returns the final status: ``done``; ``failed`` (``ProgressDeadlineExceeded``); or, when the
        deadline came first, the last status seen with ``timed_out=True`` and a reason that starts
        "timed out after …" and ends with the last reason (e.g. "the Deployment does not run 1.2.3
        yet"). Setting ``stop`` ends the wait early the same way, with "stopped waiting" instead.
        ``on_progress`` is called in this thread with the first status and each one whose phase or
        reason differs from the previous call's; exceptions it raises propagate.
        Raises :class:`KubernetesAccessDenied` (401/403) and :class:`KubernetesError` (other
        unexpected answers) at once.
        """
        if timeout_seconds <= 0:
            raise ValueError(f"timeout_seconds must be positive, got {timeout_seconds}")
        if poll_seconds <= 0:
            raise ValueError(f"poll_seconds must be positive, got {poll_seconds}")
        stop = stop if stop is not None else threading.Event()
        deadline = self._clock() + timeout_seconds
        reported: tuple[RolloutPhase, str] | None = None
        while True:
            remaining = deadline - self._clock()
            # Keep each request inside the deadline, but give the last one a fair chance.
            request_timeout = min(self._request_timeout, max(remaining, 0.5))
            status = self.get_status(
                namespace, name, version, container=container, request_timeout_seconds=request_timeout
            )
            if on_progress is not None and (status.phase, status.reason) != reported:
                reported = (status.phase, status.reason)
                on_progress(status)
            if status.phase in (RolloutPhase.DONE, RolloutPhase.FAILED):
                log.info(
                    "rollout finished",
                    deployment=status.display_name,
                    phase=str(status.phase),
                    reason=status.reason,
                )
                return status
            remaining = deadline - self._clock()
            if remaining <= 0:
                log.info("rollout wait timed out", deployment=f"{namespace}/{name}", reason=status.reason)
                return replace(
                    status,
                    timed_out=True,
                    reason=f"timed out after {_seconds(timeout_seconds)} waiting for the rollout of "
                    f"Deployment {namespace}/{name}; last seen: {status.reason}",
                )
            if stop.wait(min(poll_seconds, remaining)):
                return replace(status, reason=f"stopped waiting for the rollout; last seen: {status.reason}")

    # -- errors ---------------------------------------------------------------------------------

    def _raise_api_error(self, error: ApiException, namespace: str, name: str) -> None:
        """Raise the error an API answer means; return quietly for 404 (the Deployment is absent)."""
        status = int(error.status or 0)
        message = _status_message(error)
        if status == 404:
            return
        if status == 401:
            raise KubernetesAccessDenied(
                f"the Kubernetes API at {self.host} rejected the bot's credentials (401 Unauthorized: "
                f"{message}) reading Deployment {namespace}/{name}; check the token or kubeconfig — "
                + _RBAC_HINT.format(namespace=namespace),
                status=401,
                namespace=namespace,
                name=name,
            ) from error
        if status == 403:
            raise KubernetesAccessDenied(
                f"RBAC forbids reading Deployment {namespace}/{name} at {self.host} (403 Forbidden: "
                f"{message}); " + _RBAC_HINT.format(namespace=namespace),
                status=403,
                namespace=namespace,
                name=name,
            ) from error
        if status == 0 or status == 429 or status >= 500:
            raise KubernetesUnavailable(
                f"the Kubernetes API at {self.host} is unavailable"
                + (f" ({status} {message})" if status else f": {message}")
            ) from error
        raise KubernetesError(
            f"the Kubernetes API at {self.host} answered {status} reading Deployment {namespace}/{name}: "
            f"{message}"
        ) from error


def _check_name(value: str, what: str) -> None:
    if not isinstance(value, str) or not value.strip() or "/" in value:
        raise ValueError(f"{what} must be a non-empty name without '/', got {value!r}")


def _status_message(error: ApiException) -> str:
    """The ``message`` of the ``Status`` object the API server sends with errors, else the reason."""
    body = error.body
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if isinstance(body, str) and body:
        try:
            document = json.loads(body)
        except ValueError:
            return body[:300]
        if isinstance(document, dict) and isinstance(document.get("message"), str):
            return document["message"]
    return str(error.reason or "no message")


def _describe_network_error(error: BaseException) -> str:
    """urllib3 wraps the cause (MaxRetryError → NewConnectionError → OSError); name the cause."""
    cause: BaseException = error
    while isinstance(cause, urllib3.exceptions.MaxRetryError) and cause.reason is not None:
        cause = cause.reason
    if isinstance(cause, urllib3.exceptions.NewConnectionError):
        # Its text starts with the connection object's repr; the part after it is the useful one.
        text = str(cause)
        return text.split(": ", 1)[1] if ": " in text else text
    return f"{type(cause).__name__}: {cause}" if str(cause) else type(cause).__name__


def _seconds(value: float) -> str:
    return f"{value:g}s"


__all__ = [
    "KubernetesAccessDenied",
    "KubernetesConfigError",
    "KubernetesError",
    "KubernetesReadiness",
    "KubernetesUnavailable",
    "ProgressCallback",
    "build_configuration",
]
