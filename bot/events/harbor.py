"""Harbor webhooks → ``ParsedEvent``: the default format and the CloudEvents format.

CloudEvents arrive in structured mode (``application/cloudevents+json``, the mode Harbor
sends), batched mode, or binary mode (``ce-*`` headers, body = data); ``bot.events.registry``
tells the formats apart and hands each event here. Only ``PUSH_ARTIFACT`` becomes
``ImagePushed``, one per pushed resource; other Harbor events are stored as ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from bot.events.fields import (
    kind_of,
    load_json,
    optional_str,
    parse_time,
    require_list,
    require_object,
    require_str,
    stable_digest,
)
from bot.events.images import (
    REGISTRY_SOURCE,
    bounded_key,
    image_pushed_event,
    normalise_registry_host,
    normalise_repository,
)
from bot.events.model import ImagePushed, MalformedEvent, ParsedEvent
from bot.images import looks_like_host

HarborFormat = Literal["harbor", "harbor-cloudevents"]

_HARBOR_ACTIONS = {"PUSH_ARTIFACT": "pushed", "PULL_ARTIFACT": "pulled", "DELETE_ARTIFACT": "deleted"}
# Harbor's CloudEvents ``type`` values and the default-format names they stand for.
_HARBOR_CLOUDEVENT_TYPES = {
    "harbor.artifact.pushed": "PUSH_ARTIFACT",
    "harbor.artifact.pulled": "PULL_ARTIFACT",
    "harbor.artifact.deleted": "DELETE_ARTIFACT",
    "harbor.tag.created": "CREATE_TAG",
    "harbor.quota.exceeded": "QUOTA_EXCEED",
    "harbor.quota.warned": "QUOTA_WARNING",
    "harbor.replication.status.changed": "REPLICATION",
    "harbor.scan.failed": "SCANNING_FAILED",
    "harbor.scan.completed": "SCANNING_COMPLETED",
    "harbor.scan.stopped": "SCANNING_STOPPED",
    "harbor.tag_retention.finished": "TAG_RETENTION",
}


def parse_harbor_default(data: dict[str, Any]) -> list[ParsedEvent]:
    where = "Harbor event"
    harbor_type = require_str(data, "type", where)
    event_data = require_object(data, "event_data", where)
    delivery_id = f"harbor-{stable_digest(data)[:32]}"
    return _harbor_artifacts(
        harbor_type=harbor_type,
        event_data=event_data,
        payload=data,
        delivery_id=delivery_id,
        occurred_at=data.get("occur_at"),
        operator=optional_str(data, "operator", where),
        image_format="harbor",
        where=where,
    )


def parse_cloudevent(data: Any, where: str) -> list[ParsedEvent]:
    if not isinstance(data, dict):
        raise MalformedEvent(f"{where} must be a JSON object, got {kind_of(data)}")
    specversion = require_str(data, "specversion", where)
    if not specversion.startswith("1."):
        raise MalformedEvent(f"{where}: unsupported CloudEvents specversion {specversion!r} (expected 1.0)")
    ce_type = require_str(data, "type", where)
    event_id = require_str(data, "id", where)
    return _harbor_cloudevent(
        ce_type=ce_type,
        event_id=event_id,
        payload=data,
        event_data=data.get("data"),
        time=data.get("time"),
        operator=optional_str(data, "operator", where),
        where=where,
    )


def parse_cloudevent_binary(headers: Mapping[str, str], body: bytes) -> list[ParsedEvent]:
    """Binary content mode: attributes in ``ce-*`` headers, the body is the event's data."""
    where = "CloudEvent (binary mode)"
    attributes = {key[3:]: value for key, value in headers.items() if key.startswith("ce-")}
    for required in ("specversion", "type", "id"):
        if not attributes.get(required):
            raise MalformedEvent(f"{where} has no ce-{required} header")
    event_data = load_json(body, f"{where} body")
    payload: dict[str, Any] = {**attributes, "data": event_data}
    return _harbor_cloudevent(
        ce_type=attributes["type"],
        event_id=attributes["id"],
        payload=payload,
        event_data=event_data,
        time=attributes.get("time"),
        operator=attributes.get("operator") or None,
        where=where,
    )


def _harbor_cloudevent(
    *,
    ce_type: str,
    event_id: str,
    payload: dict[str, Any],
    event_data: Any,
    time: object,
    operator: str | None,
    where: str,
) -> list[ParsedEvent]:
    harbor_type = _HARBOR_CLOUDEVENT_TYPES.get(ce_type)
    if harbor_type is None:
        return [
            ParsedEvent(
                source=REGISTRY_SOURCE,
                event="cloudevent",
                action=ce_type,
                delivery_id=event_id,
                dedupe_key=bounded_key(f"cloudevent:{event_id}"),
                payload=payload,
                domain=None,
                ignored_reason=f"CloudEvents type '{ce_type}' is not acted on",
            )
        ]
    if not isinstance(event_data, dict):
        raise MalformedEvent(f"{where} ({ce_type}) has no 'data' object")
    return _harbor_artifacts(
        harbor_type=harbor_type,
        event_data=event_data,
        payload=payload,
        delivery_id=event_id,
        occurred_at=time,
        operator=operator,
        image_format="harbor-cloudevents",
        where=f"{where} ({ce_type})",
    )


def _harbor_artifacts(
    *,
    harbor_type: str,
    event_data: Mapping[str, Any],
    payload: dict[str, Any],
    delivery_id: str,
    occurred_at: object,
    operator: str | None,
    image_format: HarborFormat,
    where: str,
) -> list[ParsedEvent]:
    action = _HARBOR_ACTIONS.get(harbor_type)
    if action != "pushed":
        return [_harbor_ignored(harbor_type, action, delivery_id, payload)]
    data_where = f"{where}: data"
    repository_path = _harbor_repository_path(event_data, data_where)
    resources = require_list(event_data, "resources", data_where)
    if not resources:
        raise MalformedEvent(f"{data_where} has an empty 'resources' list")
    pushed_at = parse_time(occurred_at, f"{where}: time")
    parsed = []
    for index, resource in enumerate(resources):
        image = _pushed_resource(
            resource,
            f"{data_where}.resources[{index}]",
            repository_path=repository_path,
            image_format=image_format,
            delivery_id=delivery_id,
            pushed_at=pushed_at,
            operator=operator,
        )
        parsed.append(image_pushed_event(image, delivery_id=delivery_id, payload=payload))
    return parsed


def _harbor_ignored(
    harbor_type: str, action: str | None, delivery_id: str, payload: dict[str, Any]
) -> ParsedEvent:
    return ParsedEvent(
        source=REGISTRY_SOURCE,
        event="image" if action else harbor_type.lower(),
        action=action,
        delivery_id=delivery_id,
        dedupe_key=bounded_key(f"harbor-event:{delivery_id}"),
        payload=payload,
        domain=None,
        ignored_reason=f"Harbor {harbor_type} events are not acted on (only PUSH_ARTIFACT)",
    )


def _harbor_repository_path(event_data: Mapping[str, Any], data_where: str) -> str:
    repository_info = require_object(event_data, "repository", data_where)
    repository_where = f"{data_where}.repository"
    repository_path = optional_str(repository_info, "repo_full_name", repository_where)
    if repository_path is None:
        namespace = require_str(repository_info, "namespace", repository_where)
        name = require_str(repository_info, "name", repository_where)
        repository_path = f"{namespace}/{name}"
    return repository_path


def _pushed_resource(
    resource: object,
    resource_where: str,
    *,
    repository_path: str,
    image_format: HarborFormat,
    delivery_id: str,
    pushed_at: datetime | None,
    operator: str | None,
) -> ImagePushed:
    if not isinstance(resource, dict):
        raise MalformedEvent(f"{resource_where} must be an object, got {kind_of(resource)}")
    digest = optional_str(resource, "digest", resource_where)
    tag = optional_str(resource, "tag", resource_where)
    # Harbor reports an artifact pushed by digest with the digest in the tag field.
    if tag is not None and tag.startswith("sha256:"):
        tag = None
    if digest is None and tag is None:
        raise MalformedEvent(f"{resource_where} has neither a 'digest' nor a 'tag'")
    resource_url = require_str(resource, "resource_url", resource_where)
    registry = _host_of_resource_url(resource_url, resource_where)
    return ImagePushed(
        registry=registry,
        repository=normalise_repository(registry, repository_path),
        tag=tag,
        digest=digest,
        media_type=None,
        format=image_format,
        event_id=delivery_id,
        pushed_at=pushed_at,
        actor=operator,
    )


def _host_of_resource_url(resource_url: str, where: str) -> str:
    # "hub.harbor.com/project/repo:tag" or "...@sha256:..."; an explicit scheme is tolerated.
    text = resource_url.split("://", 1)[-1]
    first = text.split("/", 1)[0]
    if "/" not in text or not looks_like_host(first):
        raise MalformedEvent(f"{where}: 'resource_url' {resource_url!r} does not start with a registry host")
    return normalise_registry_host(first)
