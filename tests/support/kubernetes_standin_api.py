"""API conventions of the Kubernetes stand-in's Jobs, pods and Secrets routes.

The discovery documents of ``batch/v1`` and ``v1``, label selectors as ``labelSelector`` takes
them, and the ``Status`` documents the API server answers errors with (their messages as it
words them). Pure.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from tests.support.kubernetes_standin import _status

BATCH_V1_RESOURCES = {
    "kind": "APIResourceList",
    "apiVersion": "v1",
    "groupVersion": "batch/v1",
    "resources": [
        {
            "name": "jobs",
            "singularName": "job",
            "namespaced": True,
            "kind": "Job",
            "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"],
            "categories": ["all"],
            "storageVersionHash": "mudhfqk/qZY=",
        },
        {
            "name": "jobs/status",
            "singularName": "",
            "namespaced": True,
            "kind": "Job",
            "verbs": ["get", "patch", "update"],
        },
    ],
}

CORE_V1_RESOURCES = {
    "kind": "APIResourceList",
    "groupVersion": "v1",
    "resources": [
        {
            "name": "pods",
            "singularName": "pod",
            "namespaced": True,
            "kind": "Pod",
            "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"],
            "shortNames": ["po"],
            "categories": ["all"],
            "storageVersionHash": "xPOwRZ+Yhw8=",
        },
        {"name": "pods/log", "singularName": "", "namespaced": True, "kind": "Pod", "verbs": ["get"]},
        {
            "name": "pods/status",
            "singularName": "",
            "namespaced": True,
            "kind": "Pod",
            "verbs": ["get", "patch", "update"],
        },
        {
            "name": "secrets",
            "singularName": "secret",
            "namespaced": True,
            "kind": "Secret",
            "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"],
            "storageVersionHash": "S6u1pOWzb84=",
        },
    ],
}


# -- label selectors ---------------------------------------------------------------------------------

Requirement = Callable[[Mapping[str, str]], bool]
_SET_TERM = re.compile(r"^\s*([^\s!=(),]+)\s+(in|notin)\s+\(([^)]*)\)\s*$")
_EQUALITY_TERM = re.compile(r"^\s*([^\s!=(),]+)\s*(==|=|!=)\s*([^\s!=(),]*)\s*$")
_EXISTS_TERM = re.compile(r"^\s*(!?)\s*([^\s!=(),]+)\s*$")


def parse_selector(text: str) -> list[Requirement]:
    """A ``labelSelector``: ``a=b``, ``a==b``, ``a!=b``, ``a``, ``!a``, ``a in (x,y)``, ``a notin (x)``,
    joined by commas. Raises ValueError with the API's kind of message."""
    requirements: list[Requirement] = []
    for term in _split_terms(text):
        if not term.strip():
            continue
        if match := _SET_TERM.match(term):
            key, operator, values = match[1], match[2], {v.strip() for v in match[3].split(",")}
            requirements.append(_in(key, values) if operator == "in" else _not_in(key, values))
        elif match := _EQUALITY_TERM.match(term):
            key, operator, value = match[1], match[2], match[3]
            requirements.append(_not_in(key, {value}) if operator == "!=" else _in(key, {value}))
        elif match := _EXISTS_TERM.match(term):
            negated, key = match[1] == "!", match[2]
            requirements.append(_absent(key) if negated else _present(key))
        else:
            raise ValueError(
                f"unable to parse requirement: found '{term.strip()}', expected: in, notin, =, ==, !="
            )
    return requirements


def selected(requirements: list[Requirement], labels: Mapping[str, str]) -> bool:
    return all(requirement(labels) for requirement in requirements)


def _split_terms(text: str) -> list[str]:
    terms, depth, current = [], 0, ""
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            terms.append(current)
            current = ""
        else:
            current += char
    terms.append(current)
    return terms


def _in(key: str, values: set[str]) -> Requirement:
    return lambda labels: labels.get(key) in values


def _not_in(key: str, values: set[str]) -> Requirement:
    return lambda labels: labels.get(key) not in values


def _present(key: str) -> Requirement:
    return lambda labels: key in labels


def _absent(key: str) -> Requirement:
    return lambda labels: key not in labels


# -- errors ------------------------------------------------------------------------------------------


def resource_name(resource: str, group: str) -> str:
    """``jobs.batch``, ``pods``: how the API's messages name a resource."""
    return f"{resource}.{group}" if group else resource


def _details(name: str, resource: str, group: str, **extra: Any) -> dict[str, Any]:
    details: dict[str, Any] = {"name": name}
    if group:
        details["group"] = group
    return {**details, "kind": resource, **extra}


def not_found(resource: str, group: str, name: str) -> tuple[int, dict[str, Any]]:
    message = f'{resource_name(resource, group)} "{name}" not found'
    return 404, _status(404, "NotFound", message, details=_details(name, resource, group))


def already_exists(resource: str, group: str, name: str) -> tuple[int, dict[str, Any]]:
    message = f'{resource_name(resource, group)} "{name}" already exists'
    return 409, _status(409, "AlreadyExists", message, details=_details(name, resource, group))


def invalid(
    kind: str, group: str, name: str, problems: list[tuple[str, str, str]]
) -> tuple[int, dict[str, Any]]:
    causes = [{"reason": reason, "message": message, "field": path} for path, reason, message in problems]
    listed = [f"{path}: {message}" for path, _, message in problems]
    summary = listed[0] if len(listed) == 1 else "[" + ", ".join(listed) + "]"
    message = (
        f'{kind}.{group} "{name}" is invalid: {summary}'
        if group
        else f'{kind} "{name}" is invalid: {summary}'
    )
    return 422, _status(422, "Invalid", message, details=_details(name, kind, group, causes=causes))


def bad_request(message: str) -> tuple[int, dict[str, Any]]:
    return 400, _status(400, "BadRequest", message)


def method_not_allowed() -> tuple[int, dict[str, Any]]:
    return 405, _status(
        405, "MethodNotAllowed", "the server does not allow this method on the requested resource", details={}
    )


def forbidden(
    user: str, verb: str, resource: str, group: str, namespace: str, name: str | None
) -> tuple[int, dict[str, Any]]:
    base, _, _ = resource.partition("/")
    subject = f'{resource_name(base, group)} "{name}"' if name else resource_name(base, group)
    message = (
        f'{subject} is forbidden: User "{user}" cannot {verb} resource "{resource}" in API group "{group}" '
        f'in the namespace "{namespace}"'
    )
    details = (
        _details(name, base, group)
        if name
        else {k: v for k, v in _details("", base, group).items() if k != "name"}
    )
    return 403, _status(403, "Forbidden", message, details=details)


def deleted(resource: str, group: str, name: str, uid: str) -> tuple[int, dict[str, Any]]:
    """What DELETE answers when the object is gone at once (the store does not return it)."""
    document = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": _details(name, resource, group, uid=uid),
    }
    return 200, document
