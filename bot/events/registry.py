"""Container registry webhooks → ``ParsedEvent``.

Formats, told apart by content type first and shape second:

* CNCF distribution notifications (``application/vnd.docker.distribution.events.v1+json``,
  v2 in newer releases): an envelope ``{"events": [...]}``, one ``ParsedEvent`` per event.
* Harbor, default format: ``{"type": "PUSH_ARTIFACT", "occur_at", "operator", "event_data"}``,
  one ``ParsedEvent`` per pushed resource.
* Harbor, CloudEvents format: structured mode (``application/cloudevents+json``, the
  mode Harbor sends), batched mode, and binary mode (``ce-*`` headers, body = data).
* Docker Hub: ``{"callback_url", "push_data", "repository"}``.

Harbor's formats are read in ``bot.events.harbor``; this module tells the formats apart.

Only manifest pushes become ``ImagePushed``; pulls, deletes, mounts, blob uploads and
other Harbor events are stored as ignored with the reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from bot.events.fields import (
    kind_of,
    load_json,
    lower_keys,
    optional_object,
    optional_str,
    parse_time,
    require_list,
    require_object,
    require_str,
    stable_digest,
)
from bot.events.harbor import parse_cloudevent, parse_cloudevent_binary, parse_harbor_default
from bot.events.images import (
    DOCKER_HUB,
    REGISTRY_SOURCE,
    bounded_key,
    image_dedupe_key,
    image_pushed_event,
    normalise_registry_host,
    normalise_repository,
)
from bot.events.model import ImagePushed, MalformedEvent, ParsedEvent

__all__ = ["SOURCE", "bounded_key", "image_dedupe_key", "parse_registry"]

SOURCE = REGISTRY_SOURCE

DISTRIBUTION_CONTENT_TYPES = frozenset(
    {
        "application/vnd.docker.distribution.events.v1+json",
        "application/vnd.docker.distribution.events.v2+json",
    }
)
CLOUDEVENTS_CONTENT_TYPE = "application/cloudevents+json"
CLOUDEVENTS_BATCH_CONTENT_TYPE = "application/cloudevents-batch+json"

# Manifests and indexes: a push of one of these is a new image version.
MANIFEST_MEDIA_TYPES = frozenset(
    {
        "application/vnd.docker.distribution.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v1+prettyjws",
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.oci.artifact.manifest.v1+json",
    }
)

_CNCF_ACTIONS = {"push": "pushed", "pull": "pulled", "delete": "deleted", "mount": "mounted"}

_UNKNOWN_FORMAT = (
    'unknown registry webhook format: expected a CNCF distribution envelope ({"events": [...]}), '
    "a Harbor payload (default or CloudEvents) or a Docker Hub payload"
)


def parse_registry(headers: Mapping[str, str], body: bytes) -> list[ParsedEvent]:
    lowered = lower_keys(headers)
    content_type = lowered.get("content-type", "").split(";", 1)[0].strip().lower()
    if "ce-specversion" in lowered:
        return parse_cloudevent_binary(lowered, body)
    data = load_json(body, "registry webhook body")
    if content_type == CLOUDEVENTS_BATCH_CONTENT_TYPE or (
        isinstance(data, list) and all(isinstance(item, dict) and "specversion" in item for item in data)
    ):
        if not isinstance(data, list):
            raise MalformedEvent("a CloudEvents batch must be a JSON list of events")
        if not data:
            raise MalformedEvent("the CloudEvents batch is empty")
        return [
            parsed
            for index, item in enumerate(data)
            for parsed in parse_cloudevent(item, f"CloudEvents batch[{index}]")
        ]
    if not isinstance(data, dict):
        raise MalformedEvent(f"registry webhook body must be a JSON object, got {kind_of(data)}")
    if content_type in DISTRIBUTION_CONTENT_TYPES or "events" in data:
        return _distribution_envelope(data)
    if content_type == CLOUDEVENTS_CONTENT_TYPE or "specversion" in data:
        return parse_cloudevent(data, "CloudEvent")
    if "event_data" in data and "type" in data:
        return parse_harbor_default(data)
    if "push_data" in data and "repository" in data:
        return [_docker_hub(data)]
    raise MalformedEvent(_UNKNOWN_FORMAT)


# --- CNCF distribution ------------------------------------------------------------------------


def _distribution_envelope(data: Mapping[str, Any]) -> list[ParsedEvent]:
    events = require_list(data, "events", "distribution notification envelope")
    if not events:
        raise MalformedEvent("distribution notification envelope has an empty 'events' list")
    parsed = []
    for index, event in enumerate(events):
        where = f"distribution event [{index}]"
        if not isinstance(event, dict):
            raise MalformedEvent(f"{where} must be an object, got {kind_of(event)}")
        parsed.append(_distribution_event(event, where))
    return parsed


def _distribution_event(event: dict[str, Any], where: str) -> ParsedEvent:
    event_id = require_str(event, "id", where)
    raw_action = require_str(event, "action", where)
    target = require_object(event, "target", where)
    target_where = f"{where}: target"
    repository_path = require_str(target, "repository", target_where)
    media_type = optional_str(target, "mediaType", target_where)
    digest = optional_str(target, "digest", target_where)
    tag = optional_str(target, "tag", target_where)
    url = optional_str(target, "url", target_where)
    is_blob = _is_blob(media_type, url, tag)
    action = _CNCF_ACTIONS.get(raw_action, raw_action)

    def ignored(reason: str) -> ParsedEvent:
        return ParsedEvent(
            source=SOURCE,
            event="blob" if is_blob else "image",  # unknown (a delete names only the digest): image
            action=action,
            delivery_id=event_id,
            dedupe_key=bounded_key(f"distribution-event:{event_id}"),
            payload=event,
            domain=None,
            ignored_reason=reason,
        )

    if raw_action != "push":
        return ignored(f"registry {raw_action} events are not acted on")
    if is_blob:
        return ignored(f"blob push ({media_type or 'no media type'}) is not an image manifest")
    if is_blob is None:
        # Distribution always sends a manifest push with its media type or tag; without
        # either there is nothing to say this is an image version.
        return ignored("push event names no media type, tag or URL: not recognisably an image manifest")
    if digest is None and tag is None:
        raise MalformedEvent(f"{target_where} has neither a 'digest' nor a 'tag'")
    registry = _distribution_host(event, url, where)
    actor = optional_object(event, "actor", where) or {}
    image = ImagePushed(
        registry=registry,
        repository=normalise_repository(registry, repository_path),
        tag=tag,
        digest=digest,
        media_type=media_type,
        format="distribution",
        event_id=event_id,
        pushed_at=parse_time(event.get("timestamp"), f"{where}: timestamp"),
        actor=optional_str(actor, "name", f"{where}: actor"),
    )
    return image_pushed_event(image, delivery_id=event_id, payload=event)


def _is_blob(media_type: str | None, url: str | None, tag: str | None) -> bool | None:
    """Blob (True), manifest (False) or unknown (None)?

    The URL path says so exactly (``/v2/<name>/blobs/<digest>`` vs ``/manifests/``); the
    media type is the fallback: layers and configs (``...rootfs.diff...``,
    ``application/octet-stream``, ``...config...``) are blobs, and a blob never has a tag.
    """
    if url:
        path = urlsplit(url).path
        if "/blobs/" in path:
            return True
        if "/manifests/" in path:
            return False
    if media_type in MANIFEST_MEDIA_TYPES:
        return False
    if media_type and ("manifest" in media_type or media_type.endswith((".index.v1+json", "list.v2+json"))):
        return False
    if tag is not None:
        return False
    if media_type:
        return True
    return None


def _distribution_host(event: Mapping[str, Any], url: str | None, where: str) -> str:
    request = optional_object(event, "request", where) or {}
    host = optional_str(request, "host", f"{where}: request")
    if host:
        return normalise_registry_host(host)
    if url:
        netloc = urlsplit(url).netloc
        if netloc:
            return normalise_registry_host(netloc)
    raise MalformedEvent(f"{where} names no registry host (no request.host and no target.url)")


# --- Docker Hub -------------------------------------------------------------------------------


def _docker_hub(data: dict[str, Any]) -> ParsedEvent:
    where = "Docker Hub webhook"
    push_data = require_object(data, "push_data", where)
    repository_info = require_object(data, "repository", where)
    repository_where = f"{where}: repository"
    repo_name = optional_str(repository_info, "repo_name", repository_where)
    if repo_name is None:
        name = require_str(repository_info, "name", repository_where)
        namespace = optional_str(repository_info, "namespace", repository_where)
        repo_name = f"{namespace}/{name}" if namespace else name
    tag = require_str(push_data, "tag", f"{where}: push_data")
    raw_pushed_at = push_data.get("pushed_at")
    repository = normalise_repository(DOCKER_HUB, repo_name)
    # Docker Hub sends no id; the repository, tag and push time identify the push.
    delivery_id = f"dockerhub-{stable_digest(repository, tag, raw_pushed_at)[:32]}"
    image = ImagePushed(
        registry=DOCKER_HUB,
        repository=repository,
        tag=tag,
        digest=None,
        media_type=None,
        format="dockerhub",
        event_id=delivery_id,
        pushed_at=parse_time(raw_pushed_at, f"{where}: push_data.pushed_at"),
        actor=optional_str(push_data, "pusher", f"{where}: push_data"),
    )
    return image_pushed_event(image, delivery_id=delivery_id, payload=data, pushed_at=raw_pushed_at)
