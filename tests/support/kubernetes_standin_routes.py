"""The HTTP routes of the Kubernetes stand-in's Jobs, pods, pod logs and Secrets.

What each route answers is described in :mod:`tests.support.kubernetes_standin_jobs`; this
module parses requests, checks the :meth:`~JobsCluster.forbid` rules and turns the cluster's
state into answers: ``(status, document)`` for plain JSON, or a reply object that writes itself
(a log, a log stream, JSON with extra headers).
"""

from __future__ import annotations

import base64
import copy
import json
import re
import uuid
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from tests.support.kubernetes_standin import _status
from tests.support.kubernetes_standin_api import (
    BATCH_V1_RESOURCES,
    CORE_V1_RESOURCES,
    already_exists,
    bad_request,
    deleted,
    forbidden,
    invalid,
    method_not_allowed,
    not_found,
    parse_selector,
    selected,
)
from tests.support.kubernetes_standin_kubelet import ContainerLog
from tests.support.kubernetes_standin_objects import (
    generated_name,
    job_problems,
    render_job,
    render_pod,
    render_secret,
)

if TYPE_CHECKING:
    from tests.support.kubernetes_standin_jobs import JobsCluster

_PATH = re.compile(
    r"^/(?P<api>apis/batch/v1|api/v1)/namespaces/(?P<ns>[^/]+)/(?P<resource>[a-z]+)"
    r"(?:/(?P<name>[^/]+)(?:/(?P<sub>[a-z]+))?)?$"
)
_SERVED = {
    ("batch", "jobs", None),
    ("batch", "jobs", "status"),
    ("", "pods", None),
    ("", "pods", "status"),
    ("", "pods", "log"),
    ("", "secrets", None),
}
ORPHAN_WARNING = (
    '299 - "child pods are preserved by default when jobs are deleted; set propagationPolicy=Background '
    'to remove them or set propagationPolicy=Orphan to suppress this warning"'
)


class JsonReply:
    """A JSON answer with headers of its own (the API's ``Warning``)."""

    def __init__(self, code: int, document: Mapping[str, Any], headers: Mapping[str, str]) -> None:
        self.code, self.document, self.headers = code, document, headers

    def send(self, handler: BaseHTTPRequestHandler) -> None:
        body = json.dumps(self.document, separators=(",", ":")).encode()
        _start(handler, self.code, "application/json", self.headers)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)


class LogReply:
    """A container's log as ``text/plain``: what is there, or (``follow``) chunks as they are written."""

    def __init__(self, log: ContainerLog, offset: int, *, follow: bool) -> None:
        self.log, self.offset, self.follow = log, offset, follow

    def send(self, handler: BaseHTTPRequestHandler) -> None:
        if not self.follow:
            body = self.log.snapshot()[self.offset :]
            _start(handler, 200, "text/plain", {})
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            handler.wfile.write(body)
            return
        _start(handler, 200, "text/plain", {"Transfer-Encoding": "chunked"})
        handler.end_headers()
        try:
            for chunk in self.log.follow(self.offset):
                handler.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            handler.wfile.write(b"0\r\n\r\n")
        except OSError:  # the client went away (or take_down() cut the connection)
            handler.close_connection = True


Answer = tuple[int, dict[str, Any]] | JsonReply | LogReply
_Route = Callable[["JobsCluster", str, str | None, dict[str, str], bytes], Answer]


def answer_request(cluster: JobsCluster, method: str, target: str, body: bytes, user: str) -> Answer | None:
    """The answer to a request for Jobs, pods or Secrets; None when ``target`` is not one of theirs."""
    parts = urlsplit(target)
    path = parts.path.rstrip("/") or "/"
    if path in ("/apis/batch/v1", "/api/v1"):
        if method != "GET":
            return method_not_allowed()
        return 200, copy.deepcopy(BATCH_V1_RESOURCES if path == "/apis/batch/v1" else CORE_V1_RESOURCES)
    if not path.startswith(("/apis/batch/v1/", "/api/v1/")):
        return None
    match = _PATH.match(path)
    group = "batch" if match and match["api"] == "apis/batch/v1" else ""
    if match is None or (group, match["resource"], match["sub"]) not in _SERVED:
        return 404, _status(404, "NotFound", "the server could not find the requested resource", details={})
    namespace, resource, name, sub = match["ns"], match["resource"], match["name"], match["sub"]
    verb = _verb(method, name, sub)
    route = _ROUTES.get((resource, verb))
    if verb is None or route is None:
        return method_not_allowed()
    rbac_resource = f"{resource}/{sub}" if sub else resource
    if cluster.is_forbidden(user, namespace, rbac_resource, verb):
        return forbidden(user, verb, rbac_resource, group, namespace, name)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    try:
        if sub == "log":
            return _pod_log(cluster, namespace, name, query, body)
        return route(cluster, namespace, name, query, body)
    except ValueError as error:  # a malformed number or continue token in the query
        return bad_request(str(error))


def _verb(method: str, name: str | None, sub: str | None) -> str | None:
    if method == "GET":
        return "get" if name else "list"
    if sub is None and method == "POST" and name is None:
        return "create"
    if sub is None and method == "DELETE" and name is not None:
        return "delete"
    return None


# -- Jobs --------------------------------------------------------------------------------------------


def _list_jobs(
    cluster: JobsCluster, namespace: str, _: str | None, query: dict[str, str], body: bytes
) -> Answer:
    return _list(
        "JobList",
        "batch/v1",
        {
            name: (job, job.labels or job.spec["template"]["metadata"]["labels"])
            for (ns, name), job in cluster.jobs.items()
            if ns == namespace
        },
        lambda job: render_job(job, as_list_item=True),
        query,
        cluster.resource_version,
    )


def _create_job(
    cluster: JobsCluster, namespace: str, _: str | None, query: dict[str, str], body: bytes
) -> Answer:
    document = _document(body)
    if document is None:
        return bad_request("the object provided is unrecognized (must be of type Job)")
    metadata = document.get("metadata") or {}
    if metadata.get("namespace") not in (None, "", namespace):
        return bad_request(
            "the namespace of the provided object does not match the namespace sent on the request"
        )
    name = metadata.get("name") or (
        generated_name(metadata["generateName"]) if metadata.get("generateName") else ""
    )
    if not name:
        return invalid(
            "Job",
            "batch",
            "",
            [("metadata.name", "FieldValueRequired", "Required value: name or generateName is required")],
        )
    spec = document.get("spec") or {}
    if problems := job_problems(name, spec):
        return invalid("Job", "batch", name, problems)
    if (namespace, name) in cluster.jobs:
        return already_exists("jobs", "batch", name)
    job = cluster.create_job(namespace, name, metadata, spec)
    created = render_job(job)  # as stored: the controller has not seen it yet
    cluster.run_job(job)
    return 201, created


def _get_job(
    cluster: JobsCluster, namespace: str, name: str | None, query: dict[str, str], body: bytes
) -> Answer:
    job = cluster.jobs.get((namespace, name or ""))
    return not_found("jobs", "batch", name or "") if job is None else (200, render_job(job))


def _delete_job(
    cluster: JobsCluster, namespace: str, name: str | None, query: dict[str, str], body: bytes
) -> Answer:
    options = _document(body) or {}
    policy = query.get("propagationPolicy") or options.get("propagationPolicy")
    if policy is None and options.get("orphanDependents") is not None:
        policy = "Orphan" if options["orphanDependents"] else "Background"
    headers = {}
    if policy is None:  # batch/v1's default garbage collection policy
        policy, headers = "Orphan", {"Warning": ORPHAN_WARNING}
    if policy not in ("Orphan", "Background", "Foreground"):
        message = f'Unsupported value: "{policy}": supported values: "Foreground", "Background", "Orphan"'
        return invalid(
            "DeleteOptions", "meta.k8s.io", "", [("propagationPolicy", "FieldValueNotSupported", message)]
        )
    job = cluster.jobs.get((namespace, name or ""))
    if job is None:
        return not_found("jobs", "batch", name or "")
    if job.deletion is None:
        if policy == "Orphan":
            job.finalizers = ["orphan"]
        cluster.delete_job(job, policy)
    if policy == "Background":
        return deleted("jobs", "batch", job.name, job.uid)
    # The object is only marked (a finalizer): the store answers with it.
    return JsonReply(200, render_job(job), headers)


# -- pods --------------------------------------------------------------------------------------------


def _list_pods(
    cluster: JobsCluster, namespace: str, _: str | None, query: dict[str, str], body: bytes
) -> Answer:
    return _list(
        "PodList",
        "v1",
        {name: (pod, pod.labels) for (ns, name), pod in cluster.pods.items() if ns == namespace},
        lambda pod: render_pod(pod, as_list_item=True),
        query,
        cluster.resource_version,
    )


def _get_pod(
    cluster: JobsCluster, namespace: str, name: str | None, query: dict[str, str], body: bytes
) -> Answer:
    pod = cluster.pods.get((namespace, name or ""))
    return not_found("pods", "", name or "") if pod is None else (200, render_pod(pod))


def _delete_pod(
    cluster: JobsCluster, namespace: str, name: str | None, query: dict[str, str], body: bytes
) -> Answer:
    pod = cluster.pods.get((namespace, name or ""))
    if pod is None:
        return not_found("pods", "", name or "")
    grace = query.get("gracePeriodSeconds") or (_document(body) or {}).get("gracePeriodSeconds")
    cluster.delete_pod(pod, None if grace is None else int(grace))
    return 200, render_pod(pod)  # pods are returned when deleted


def _pod_log(
    cluster: JobsCluster, namespace: str, name: str | None, query: dict[str, str], body: bytes
) -> Answer:
    pod = cluster.pods.get((namespace, name or ""))
    if pod is None:
        return not_found("pods", "", name or "")
    containers = [str(container["name"]) for container in pod.spec["containers"]]
    container = query.get("container") or (containers[0] if len(containers) == 1 else None)
    if container is None:
        return bad_request(
            f"a container name must be specified for pod {pod.name}, choose one of: [{' '.join(containers)}]"
        )
    if container not in containers:
        return bad_request(f"container {container} is not valid for pod {pod.name}")
    if _true(query.get("previous")):
        return bad_request(f'previous terminated container "{container}" in pod "{pod.name}" not found')
    started = container == containers[0] and (pod.process is not None or pod.exit_code is not None)
    if not started:
        reason = pod.waiting[0] if pod.waiting and container == containers[0] else "ContainerCreating"
        return bad_request(f'container "{container}" in pod "{pod.name}" is waiting to start: {reason}')
    offset = 0
    if "tailLines" in query:
        offset = _tail_offset(pod.log.snapshot(), int(query["tailLines"]))
    return LogReply(pod.log, offset, follow=_true(query.get("follow")))


# -- Secrets -----------------------------------------------------------------------------------------


def _list_secrets(
    cluster: JobsCluster, namespace: str, _: str | None, query: dict[str, str], body: bytes
) -> Answer:
    return _list(
        "SecretList",
        "v1",
        {name: (secret, secret.labels) for (ns, name), secret in cluster.secrets.items() if ns == namespace},
        lambda secret: render_secret(secret, as_list_item=True),
        query,
        cluster.resource_version,
    )


def _create_secret(
    cluster: JobsCluster, namespace: str, _: str | None, query: dict[str, str], body: bytes
) -> Answer:
    document = _document(body)
    if document is None:
        return bad_request("the object provided is unrecognized (must be of type Secret)")
    metadata = document.get("metadata") or {}
    name = metadata.get("name") or (
        generated_name(metadata["generateName"]) if metadata.get("generateName") else ""
    )
    if not name:
        return invalid(
            "Secret",
            "",
            "",
            [("metadata.name", "FieldValueRequired", "Required value: name or generateName is required")],
        )
    if (namespace, name) in cluster.secrets:
        return already_exists("secrets", "", name)
    try:
        data = decode_secret_data(document)
    except ValueError as error:
        return bad_request(str(error))
    secret = cluster.store_secret(
        namespace,
        name,
        data,
        type=document.get("type") or "Opaque",
        labels=dict(metadata.get("labels") or {}),
    )
    return 201, render_secret(secret)


def _get_secret(
    cluster: JobsCluster, namespace: str, name: str | None, query: dict[str, str], body: bytes
) -> Answer:
    secret = cluster.secrets.get((namespace, name or ""))
    return not_found("secrets", "", name or "") if secret is None else (200, render_secret(secret))


def _delete_secret(
    cluster: JobsCluster, namespace: str, name: str | None, query: dict[str, str], body: bytes
) -> Answer:
    secret = cluster.secrets.pop((namespace, name or ""), None)
    return (
        not_found("secrets", "", name or "")
        if secret is None
        else deleted("secrets", "", secret.name, secret.uid)
    )


def decode_secret_data(document: Mapping[str, Any]) -> dict[str, bytes]:
    """A Secret's ``data`` (base64) and ``stringData`` (plain text, wins); ValueError when invalid."""
    values: dict[str, bytes] = {}
    for key, encoded in (document.get("data") or {}).items():
        try:
            values[key] = base64.b64decode(str(encoded), validate=True)
        except ValueError as error:
            raise ValueError(f"illegal base64 data in data[{key!r}]: {error}") from error
    for key, plain in (document.get("stringData") or {}).items():
        values[key] = str(plain).encode()
    return values


_ROUTES: dict[tuple[str, str | None], _Route] = {
    ("jobs", "list"): _list_jobs,
    ("jobs", "create"): _create_job,
    ("jobs", "get"): _get_job,
    ("jobs", "delete"): _delete_job,
    ("pods", "list"): _list_pods,
    ("pods", "get"): _get_pod,
    ("pods", "delete"): _delete_pod,
    ("secrets", "list"): _list_secrets,
    ("secrets", "create"): _create_secret,
    ("secrets", "get"): _get_secret,
    ("secrets", "delete"): _delete_secret,
}


# -- plumbing ----------------------------------------------------------------------------------------


def _list(
    kind: str,
    api_version: str,
    items: dict[str, tuple[Any, Mapping[str, str]]],
    render: Callable[[Any], dict[str, Any]],
    query: dict[str, str],
    resource_version: int,
) -> Answer:
    try:
        requirements = parse_selector(query.get("labelSelector", ""))
    except ValueError as error:
        return bad_request(str(error))
    names = [name for name in sorted(items) if selected(requirements, items[name][1])]
    if query.get("continue"):
        after = base64.urlsafe_b64decode(query["continue"].encode()).decode()
        names = [name for name in names if name > after]
    metadata: dict[str, Any] = {"resourceVersion": str(resource_version)}
    limit = int(query.get("limit") or 0)
    if limit and len(names) > limit:
        metadata["remainingItemCount"] = len(names) - limit
        names = names[:limit]
        metadata["continue"] = base64.urlsafe_b64encode(names[-1].encode()).decode()
    return 200, {
        "kind": kind,
        "apiVersion": api_version,
        "metadata": metadata,
        "items": [render(items[name][0]) for name in names],
    }


def _document(body: bytes) -> dict[str, Any] | None:
    try:
        document = json.loads(body or b"null")
    except ValueError:
        return None
    return document if isinstance(document, dict) else None


def _true(value: str | None) -> bool:
    return (value or "").lower() in ("true", "1")


def _tail_offset(data: bytes, lines: int) -> int:
    """Where the last ``lines`` lines of ``data`` begin."""
    if lines <= 0:
        return len(data)
    position = len(data) - 1 if data.endswith(b"\n") else len(data)
    for _ in range(lines):
        position = data.rfind(b"\n", 0, position)
        if position < 0:
            return 0
    return position + 1


def _start(handler: BaseHTTPRequestHandler, code: int, content_type: str, headers: Mapping[str, str]) -> None:
    handler.send_response(code)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Cache-Control", "no-cache, private")
    handler.send_header("Audit-Id", str(uuid.uuid4()))
    for header, value in headers.items():
        handler.send_header(header, value)
