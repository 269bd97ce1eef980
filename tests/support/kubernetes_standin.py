"""A local stand-in for the Kubernetes API server: enough of ``apps/v1`` Deployments, on the real wire
format, for the official ``kubernetes`` Python client to talk to it unchanged
(``Configuration(host=standin.url)``).

Served (JSON, HTTP/1.1 with keep-alive, on 127.0.0.1 and a free port):

* ``GET /version`` — a ``version.Info`` (unauthenticated, as ``system:public-info-viewer`` allows);
* ``GET /apis/apps/v1`` — the ``APIResourceList`` discovery document;
* ``GET /apis/apps/v1/namespaces/{ns}/deployments`` — a ``DeploymentList``;
* ``GET /apis/apps/v1/namespaces/{ns}/deployments/{name}`` — the ``Deployment``;
* errors as ``v1`` ``Status`` objects: 404 ``NotFound`` (``deployments.apps "x" not found``, with
  ``details``), 401 ``Unauthorized``, 403 ``Forbidden`` (RBAC's wording), 405 for other methods.

Objects follow the API's conventions: server-set metadata (``uid``, ``resourceVersion``,
``generation``, ``creationTimestamp``, the ``deployment.kubernetes.io/revision`` annotation),
defaulted spec fields, and ``omitempty`` status counts (a zero count is absent, as the API
server sends it).

Behind it is real state and a small **deployment controller** with a RollingUpdate strategy of
``maxSurge: 1, maxUnavailable: 0``. :meth:`KubernetesStandIn.apply_deployment` is ``kubectl apply``:
creating, or changing the spec bumps ``metadata.generation``. Each controller step does one thing,
in the real controller's order: observe the new generation (creating the new ReplicaSet and
bumping the revision when the pod template changed), surge one new pod, make one new pod
available, terminate one old pod, report ``NewReplicaSetAvailable``. Steps run on
:meth:`KubernetesStandIn.step`, on every read of the Deployment (``step_on_read=True``), or every
``auto_step_seconds`` in a background thread. :meth:`KubernetesStandIn.stall` keeps new pods from
ever becoming available: once ``spec.progressDeadlineSeconds`` pass without progress, the
``Progressing`` condition turns ``False`` with reason ``ProgressDeadlineExceeded``, as the real
controller does.

:meth:`KubernetesStandIn.take_down` closes the listening socket and every open connection (the API
is unreachable); :meth:`KubernetesStandIn.bring_up` listens again on the same port.

``batch/v1`` Jobs that really run (as sandboxed local processes), their pods and logs, and
Secrets are served by :attr:`KubernetesStandIn.jobs` (:mod:`tests.support.kubernetes_standin_jobs`);
:meth:`~KubernetesStandIn.inject_errors`, :meth:`~KubernetesStandIn.take_down`, tokens and the
request record apply to those routes too.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from os import PathLike
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from tests.support.kubernetes_standin_jobs import JobsCluster

PROGRESS_DEADLINE_EXCEEDED = "ProgressDeadlineExceeded"
REVISION_ANNOTATION = "deployment.kubernetes.io/revision"
_MAX_SURGE = 1
_MAX_UNAVAILABLE = 0
# The alphabet Kubernetes uses for generated name suffixes (k8s.io/apimachinery/pkg/util/rand).
_SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"

_DEPLOYMENT_PATH = re.compile(r"^/apis/apps/v1/namespaces/(?P<ns>[^/]+)/deployments/(?P<name>[^/]+)$")
_DEPLOYMENT_LIST_PATH = re.compile(r"^/apis/apps/v1/namespaces/(?P<ns>[^/]+)/deployments$")

VERSION_INFO = {
    "major": "1",
    "minor": "31",
    "gitVersion": "v1.31.0",
    "gitCommit": "9edcffcde5595e8a5b1a35f88c421764e575afce",
    "gitTreeState": "clean",
    "buildDate": "2024-08-13T07:28:49Z",
    "goVersion": "go1.22.5",
    "compiler": "gc",
    "platform": "linux/amd64",
}

APPS_V1_RESOURCES = {
    "kind": "APIResourceList",
    "apiVersion": "v1",
    "groupVersion": "apps/v1",
    "resources": [
        {
            "name": "deployments",
            "singularName": "deployment",
            "namespaced": True,
            "kind": "Deployment",
            "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"],
            "shortNames": ["deploy"],
            "categories": ["all"],
            "storageVersionHash": "8aSe+NMegvE=",
        },
        {
            "name": "deployments/status",
            "singularName": "",
            "namespaced": True,
            "kind": "Deployment",
            "verbs": ["get", "patch", "update"],
        },
    ],
}


def _timestamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _template_hash(template: Mapping[str, Any]) -> str:
    digest = hashlib.sha256(json.dumps(template, sort_keys=True).encode()).digest()
    return "".join(_SAFE_ALPHABET[byte % len(_SAFE_ALPHABET)] for byte in digest[:10])


@dataclass
class _ReplicaSet:
    name: str
    template_hash: str
    revision: int
    pods: int = 0
    available: int = 0


@dataclass
class _Deployment:
    namespace: str
    name: str
    spec: dict[str, Any]
    uid: str = field(default_factory=lambda: str(uuid.uuid4()))
    created: str = field(default_factory=_timestamp)
    generation: int = 1
    observed_generation: int = 0
    resource_version: int = 0
    replica_sets: list[_ReplicaSet] = field(default_factory=list)
    conditions: dict[str, dict[str, str]] = field(default_factory=dict)
    stalled: bool = False
    last_progress: float = 0.0

    @property
    def desired(self) -> int:
        return int(self.spec["replicas"])

    @property
    def template_hash(self) -> str:
        return _template_hash(self.spec["template"])

    def current_replica_set(self) -> _ReplicaSet | None:
        for replica_set in self.replica_sets:
            if replica_set.template_hash == self.template_hash:
                return replica_set
        return None

    @property
    def revision(self) -> int:
        return max((replica_set.revision for replica_set in self.replica_sets), default=0)


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    authorization: str | None
    query: str = ""
    body: bytes = b""


class _SelfSending(Protocol):
    """An answer that writes itself (a log stream, JSON with headers of its own)."""

    def send(self, handler: BaseHTTPRequestHandler) -> None: ...


class KubernetesStandIn:
    """A Kubernetes API stand-in; use as a context manager (``with KubernetesStandIn() as api:``).

    ``tokens`` maps bearer tokens to user names; when given, every request but ``/version`` must
    carry one of them (401 otherwise). Without tokens every request is allowed, as on a cluster
    with anonymous access. ``clock`` (monotonic seconds) decides progress deadlines.

    Jobs (:attr:`jobs`): containers run in a bubblewrap sandbox; without one they are refused
    unless ``allow_unsandboxed``. ``max_grace_seconds`` caps a pod's termination grace period;
    ``hide_paths`` are hidden from containers besides ``/tmp``, ``expose_paths`` shown read-only.
    """

    def __init__(
        self,
        *,
        tokens: Mapping[str, str] | None = None,
        step_on_read: bool = False,
        auto_step_seconds: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        allow_unsandboxed: bool = False,
        max_grace_seconds: float = 5.0,
        hide_paths: Sequence[str | PathLike[str]] = (),
        expose_paths: Sequence[str | PathLike[str]] = (),
    ) -> None:
        # Imported here: the Jobs modules import this one's functions (a cycle at import time).
        from tests.support.kubernetes_standin_jobs import JobsCluster

        self._tokens = dict(tokens or {})
        self._step_on_read = step_on_read
        self._auto_step_seconds = auto_step_seconds
        self._clock = clock
        self._lock = threading.RLock()
        self._deployments: dict[tuple[str, str], _Deployment] = {}
        self._forbidden: set[tuple[str | None, str]] = set()
        self._injected_errors: list[int] = []
        self._requests: list[RecordedRequest] = []
        self._resource_version = 1000
        self._server: _Server | None = None
        self._serve_thread: threading.Thread | None = None
        self._port = 0
        self._stepper_stop = threading.Event()
        self._stepper: threading.Thread | None = None
        self.jobs: JobsCluster = JobsCluster(
            self._lock,
            allow_unsandboxed=allow_unsandboxed,
            max_grace_seconds=max_grace_seconds,
            hide_paths=hide_paths,
            expose_paths=expose_paths,
        )

    # -- lifecycle ------------------------------------------------------------------------------

    def __enter__(self) -> KubernetesStandIn:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> None:
        self.bring_up()
        if self._auto_step_seconds is not None and self._stepper is None:
            self._stepper = threading.Thread(
                target=self._auto_step, name="k8s-standin-controller", daemon=True
            )
            self._stepper.start()

    def stop(self) -> None:
        self._stepper_stop.set()
        if self._stepper is not None:
            self._stepper.join(timeout=5)
            self._stepper = None
        self.jobs.stop()
        self.take_down()

    @property
    def url(self) -> str:
        if not self._port:
            raise RuntimeError("the stand-in has not been started")
        return f"http://127.0.0.1:{self._port}"

    @property
    def is_up(self) -> bool:
        return self._server is not None

    def bring_up(self) -> None:
        """Listen (again): on a free port the first time, on the same port afterwards."""
        if self._server is not None:
            return
        server = _Server(("127.0.0.1", self._port), _Handler, self)
        self._port = server.server_address[1]
        self._server = server
        self._serve_thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="k8s-standin", daemon=True
        )
        self._serve_thread.start()

    def take_down(self) -> None:
        """Stop listening and cut every open connection: clients see the API as unreachable."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        server.close_connections()
        if self._serve_thread is not None:
            self._serve_thread.join(timeout=5)
            self._serve_thread = None

    # -- what tests do to the cluster -------------------------------------------------------------

    def apply_deployment(
        self,
        namespace: str,
        name: str,
        image: str,
        replicas: int = 1,
        *,
        container: str = "server",
        template_labels: Mapping[str, str] | None = None,
        template_annotations: Mapping[str, str] | None = None,
        progress_deadline_seconds: int = 600,
    ) -> None:
        """Create or update the Deployment (as ``kubectl apply`` would); a spec change bumps
        ``metadata.generation`` and the controller takes it from there."""
        if replicas < 0:
            raise ValueError("replicas must be >= 0")
        spec = _deployment_spec(
            name,
            image,
            replicas,
            container=container,
            template_labels=template_labels or {},
            template_annotations=template_annotations or {},
            progress_deadline_seconds=progress_deadline_seconds,
        )
        with self._lock:
            existing = self._deployments.get((namespace, name))
            if existing is None:
                deployment = _Deployment(
                    namespace=namespace, name=name, spec=spec, last_progress=self._clock()
                )
                self._deployments[(namespace, name)] = deployment
                self._touch(deployment)
            elif existing.spec != spec:
                existing.spec = spec
                existing.generation += 1
                existing.last_progress = self._clock()
                self._touch(existing)

    def delete_deployment(self, namespace: str, name: str) -> None:
        with self._lock:
            self._deployments.pop((namespace, name), None)

    def stall(self, namespace: str, name: str, stalled: bool = True) -> None:
        """While stalled, the Deployment's new pods never become available (a crash-looping image)."""
        with self._lock:
            self._get(namespace, name).stalled = stalled

    def step(self, namespace: str, name: str) -> bool:
        """One controller sync of this Deployment; False when nothing could change."""
        with self._lock:
            return self._sync(self._get(namespace, name))

    def settle(self, namespace: str, name: str, max_steps: int = 1000) -> None:
        """Run the controller until the rollout is complete (set-up for "v1 is already running")."""
        with self._lock:
            deployment = self._get(namespace, name)
            for _ in range(max_steps):
                if self._complete(deployment) and deployment.observed_generation == deployment.generation:
                    self._sync(deployment)  # records NewReplicaSetAvailable
                    return
                if not self._sync(deployment):
                    raise RuntimeError(f"rollout of {namespace}/{name} cannot finish (is it stalled?)")
            raise RuntimeError(f"rollout of {namespace}/{name} did not finish in {max_steps} steps")

    def forbid(self, namespace: str, user: str | None = None) -> None:
        """RBAC: deny ``user`` (every user when None) reading Deployments in ``namespace`` (403)."""
        with self._lock:
            self._forbidden.add((user, namespace))

    def inject_errors(self, *statuses: int) -> None:
        """Answer the next requests with these statuses (e.g. 503), one each, before serving again."""
        with self._lock:
            self._injected_errors.extend(statuses)

    def deployment_object(self, namespace: str, name: str) -> dict[str, Any]:
        """The Deployment exactly as ``GET`` would serve it now."""
        with self._lock:
            return self._render(self._get(namespace, name))

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    # -- the controller ---------------------------------------------------------------------------

    def _get(self, namespace: str, name: str) -> _Deployment:
        try:
            return self._deployments[(namespace, name)]
        except KeyError:
            raise KeyError(f"no Deployment {namespace}/{name} in the stand-in") from None

    def _touch(self, deployment: _Deployment) -> None:
        self._resource_version += 1
        deployment.resource_version = self._resource_version

    def _complete(self, deployment: _Deployment) -> bool:
        current = deployment.current_replica_set()
        if current is None:
            return False
        old_pods = sum(rs.pods for rs in deployment.replica_sets if rs is not current)
        return current.pods == deployment.desired == current.available and old_pods == 0

    def _sync(self, deployment: _Deployment) -> bool:
        changed = self._sync_once(deployment)
        if changed:
            self._touch(deployment)
        return changed

    def _sync_once(self, deployment: _Deployment) -> bool:
        now = self._clock()
        if deployment.observed_generation < deployment.generation:
            deployment.observed_generation = deployment.generation
            current = deployment.current_replica_set()
            if current is None:
                current = _ReplicaSet(
                    name=f"{deployment.name}-{deployment.template_hash}",
                    template_hash=deployment.template_hash,
                    revision=deployment.revision + 1,
                )
                deployment.replica_sets.append(current)
                self._progressing(
                    deployment, "True", "NewReplicaSetCreated", f'Created new replica set "{current.name}"'
                )
                deployment.last_progress = now
            elif current.revision != deployment.revision:
                # A rollback to an earlier template re-uses its ReplicaSet under a new revision.
                current.revision = deployment.revision + 1
                self._progressing(
                    deployment, "True", "FoundNewReplicaSet", f'Found new replica set "{current.name}"'
                )
                deployment.last_progress = now
            self._available(deployment)
            return True

        current = deployment.current_replica_set()
        assert current is not None
        desired = deployment.desired
        old_sets = [rs for rs in deployment.replica_sets if rs is not current and rs.pods > 0]
        old_pods = sum(rs.pods for rs in old_sets)
        progressed = True
        if current.pods > desired:
            current.pods -= 1
            current.available = min(current.available, current.pods)
        elif current.pods < desired and current.pods + old_pods < desired + _MAX_SURGE:
            current.pods += 1
        elif current.available < current.pods and not deployment.stalled:
            current.available += 1
        elif old_sets and current.available + old_pods - 1 >= desired - _MAX_UNAVAILABLE:
            # Old pods go only while enough pods stay available (maxUnavailable: 0).
            oldest = min(old_sets, key=lambda rs: rs.revision)
            oldest.pods -= 1
            oldest.available = min(oldest.available, oldest.pods)
        else:
            progressed = False

        if progressed:
            deployment.last_progress = now
            self._progressing(
                deployment, "True", "ReplicaSetUpdated", f'ReplicaSet "{current.name}" is progressing.'
            )
            self._available(deployment)
            return True
        if self._complete(deployment):
            changed = self._progressing(
                deployment,
                "True",
                "NewReplicaSetAvailable",
                f'ReplicaSet "{current.name}" has successfully progressed.',
            )
            return self._available(deployment) or changed
        deadline = int(deployment.spec["progressDeadlineSeconds"])
        if now - deployment.last_progress >= deadline:
            return self._progressing(
                deployment,
                "False",
                PROGRESS_DEADLINE_EXCEEDED,
                f'ReplicaSet "{current.name}" has timed out progressing.',
            )
        return False

    def _progressing(self, deployment: _Deployment, status: str, reason: str, message: str) -> bool:
        return self._condition(deployment, "Progressing", status, reason, message)

    def _available(self, deployment: _Deployment) -> bool:
        available = self._available_pods(deployment)
        if available >= deployment.desired - _MAX_UNAVAILABLE:
            return self._condition(
                deployment,
                "Available",
                "True",
                "MinimumReplicasAvailable",
                "Deployment has minimum availability.",
            )
        return self._condition(
            deployment,
            "Available",
            "False",
            "MinimumReplicasUnavailable",
            "Deployment does not have minimum availability.",
        )

    def _condition(self, deployment: _Deployment, kind: str, status: str, reason: str, message: str) -> bool:
        now = _timestamp()
        previous = deployment.conditions.get(kind)
        if previous and (previous["status"], previous["reason"], previous["message"]) == (
            status,
            reason,
            message,
        ):
            return False
        transition = previous["lastTransitionTime"] if previous and previous["status"] == status else now
        deployment.conditions[kind] = {
            "type": kind,
            "status": status,
            "lastUpdateTime": now,
            "lastTransitionTime": transition,
            "reason": reason,
            "message": message,
        }
        return True

    @staticmethod
    def _available_pods(deployment: _Deployment) -> int:
        current = deployment.current_replica_set()
        # Old pods were available before the rollout and stay so until terminated.
        return sum(rs.available if rs is current else rs.pods for rs in deployment.replica_sets)

    def _auto_step(self) -> None:
        assert self._auto_step_seconds is not None
        while not self._stepper_stop.wait(self._auto_step_seconds):
            with self._lock:
                for deployment in list(self._deployments.values()):
                    self._sync(deployment)

    # -- rendering --------------------------------------------------------------------------------

    def _render(self, deployment: _Deployment, *, as_list_item: bool = False) -> dict[str, Any]:
        current = deployment.current_replica_set() if deployment.observed_generation else None
        total = sum(rs.pods for rs in deployment.replica_sets)
        available = self._available_pods(deployment)
        counts = {
            "observedGeneration": deployment.observed_generation,
            "replicas": total,
            "updatedReplicas": current.pods if current else 0,
            "readyReplicas": available,
            "availableReplicas": available,
            "unavailableReplicas": max(deployment.desired - available, 0),
        }
        # omitempty: the API server leaves zero counts out.
        status: dict[str, Any] = {key: value for key, value in counts.items() if value}
        if deployment.conditions:
            status["conditions"] = [
                dict(deployment.conditions[kind])
                for kind in ("Available", "Progressing")
                if kind in deployment.conditions
            ]
        metadata: dict[str, Any] = {
            "name": deployment.name,
            "namespace": deployment.namespace,
            "uid": deployment.uid,
            "resourceVersion": str(deployment.resource_version),
            "generation": deployment.generation,
            "creationTimestamp": deployment.created,
            "labels": {"app": deployment.name},
        }
        if deployment.revision:
            metadata["annotations"] = {REVISION_ANNOTATION: str(deployment.revision)}
        document: dict[str, Any] = {
            "metadata": metadata,
            "spec": copy.deepcopy(deployment.spec),
            "status": status,
        }
        if as_list_item:
            return document
        return {"kind": "Deployment", "apiVersion": "apps/v1", **document}

    # -- HTTP -------------------------------------------------------------------------------------

    def _answer(
        self, method: str, target: str, authorization: str | None, body: bytes = b""
    ) -> tuple[int, dict[str, Any]] | _SelfSending:
        parts = urlsplit(target)
        path = parts.path.rstrip("/") or "/"
        with self._lock:
            self._requests.append(RecordedRequest(method, path, authorization, query=parts.query, body=body))
            if self._injected_errors:
                code = self._injected_errors.pop(0)
                return code, _status(
                    code, "InternalError" if code >= 500 else "TooManyRequests", f"injected failure ({code})"
                )
            if method == "GET" and path == "/version":
                return 200, dict(VERSION_INFO)
            user = self._authenticate(authorization)
            if user is None:
                return 401, _status(401, "Unauthorized", "Unauthorized")
            if (served := self.jobs.answer(method, target, body, user)) is not None:
                return served
            if method != "GET":
                return 405, _status(405, "MethodNotAllowed", f"the stand-in only serves GET, not {method}")
            if path == "/apis/apps/v1":
                return 200, copy.deepcopy(APPS_V1_RESOURCES)
            if match := _DEPLOYMENT_PATH.match(path):
                namespace, name = match["ns"], match["name"]
                if self._is_forbidden(user, namespace):
                    return 403, _forbidden(user, "get", namespace, name)
                deployment = self._deployments.get((namespace, name))
                if deployment is None:
                    return 404, _status(
                        404,
                        "NotFound",
                        f'deployments.apps "{name}" not found',
                        details={"name": name, "group": "apps", "kind": "deployments"},
                    )
                if self._step_on_read:
                    self._sync(deployment)
                return 200, self._render(deployment)
            if match := _DEPLOYMENT_LIST_PATH.match(path):
                namespace = match["ns"]
                if self._is_forbidden(user, namespace):
                    return 403, _forbidden(user, "list", namespace, None)
                items = [
                    self._render(deployment, as_list_item=True)
                    for (ns, _), deployment in sorted(self._deployments.items())
                    if ns == namespace
                ]
                return 200, {
                    "kind": "DeploymentList",
                    "apiVersion": "apps/v1",
                    "metadata": {"resourceVersion": str(self._resource_version)},
                    "items": items,
                }
            return 404, _status(
                404, "NotFound", "the server could not find the requested resource", details={}
            )

    def _authenticate(self, authorization: str | None) -> str | None:
        if not self._tokens:
            return "system:anonymous"
        if not authorization:
            return None
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer":
            return None
        return self._tokens.get(token.strip())

    def _is_forbidden(self, user: str, namespace: str) -> bool:
        return (user, namespace) in self._forbidden or (None, namespace) in self._forbidden


def _deployment_spec(
    name: str,
    image: str,
    replicas: int,
    *,
    container: str,
    template_labels: Mapping[str, str],
    template_annotations: Mapping[str, str],
    progress_deadline_seconds: int,
) -> dict[str, Any]:
    """A spec as the API server stores it: what ``kubectl apply`` sends plus the server's defaults."""
    template_metadata: dict[str, Any] = {
        "creationTimestamp": None,
        "labels": {"app": name, **template_labels},
    }
    if template_annotations:
        template_metadata["annotations"] = dict(template_annotations)
    return {
        "replicas": replicas,
        "selector": {"matchLabels": {"app": name}},
        "template": {
            "metadata": template_metadata,
            "spec": {
                "containers": [
                    {
                        "name": container,
                        "image": image,
                        "ports": [{"name": "http", "containerPort": 8000, "protocol": "TCP"}],
                        "resources": {},
                        "terminationMessagePath": "/dev/termination-log",
                        "terminationMessagePolicy": "File",
                        "imagePullPolicy": "IfNotPresent",
                    }
                ],
                "restartPolicy": "Always",
                "terminationGracePeriodSeconds": 30,
                "dnsPolicy": "ClusterFirst",
                "securityContext": {},
                "schedulerName": "default-scheduler",
            },
        },
        "strategy": {
            "type": "RollingUpdate",
            "rollingUpdate": {"maxUnavailable": _MAX_UNAVAILABLE, "maxSurge": _MAX_SURGE},
        },
        "revisionHistoryLimit": 10,
        "progressDeadlineSeconds": progress_deadline_seconds,
    }


def _status(code: int, reason: str, message: str, *, details: dict[str, Any] | None = None) -> dict[str, Any]:
    """A ``v1`` ``Status`` object, as the API server sends with every error."""
    document: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
    }
    if details is not None:
        document["details"] = details
    document["code"] = code
    return document


def _forbidden(user: str, verb: str, namespace: str, name: str | None) -> dict[str, Any]:
    subject = f'deployments.apps "{name}"' if name else "deployments.apps"
    message = (
        f'{subject} is forbidden: User "{user}" cannot {verb} resource "deployments" in API group "apps" '
        f'in the namespace "{namespace}"'
    )
    details: dict[str, Any] = {"group": "apps", "kind": "deployments"}
    if name:
        details = {"name": name, **details}
    return _status(403, "Forbidden", message, details=details)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], standin: KubernetesStandIn
    ):
        self.standin = standin
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections, self._connections = list(self._connections), set()
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
            connection.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Connections cut by take_down() end in errors on purpose; they are not test failures.
        pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle on, the client's delayed ACK adds ~40 ms each.
    disable_nagle_algorithm = True
    server: _Server

    def do_GET(self) -> None:
        self._respond("GET")

    def do_POST(self) -> None:
        self._respond("POST")

    def do_PUT(self) -> None:
        self._respond("PUT")

    def do_PATCH(self) -> None:
        self._respond("PATCH")

    def do_DELETE(self) -> None:
        self._respond("DELETE")

    def _respond(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        request_body = self.rfile.read(length) if length else b""
        answer = self.server.standin._answer(
            method, self.path, self.headers.get("Authorization"), request_body
        )
        if not isinstance(answer, tuple):
            answer.send(self)  # outside the lock: a followed log streams for as long as it runs
            return
        code, document = answer
        body = json.dumps(document, separators=(",", ":")).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Cache-Control", "no-cache, private")
        self.send_header("Audit-Id", str(uuid.uuid4()))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def rollout_steps(standin: KubernetesStandIn, namespace: str, name: str) -> Iterator[dict[str, Any]]:
    """Step the controller until nothing changes, yielding the object after each change."""
    while standin.step(namespace, name):
        yield standin.deployment_object(namespace, name)
