"""Lenient image-reference reading for registry payloads, on top of ``bot.images``.

``bot.images`` validates references that people write in configuration. Payloads are
read more forgivingly: registries report URLs with schemes, GHCR reports owners with
upper-case letters, and test registries use short digests, so here paths are
lower-cased (the distribution spec only allows lower-case repository names), schemes
are dropped, and a missing name is the only error. An image push is identified by its
reference (``image_dedupe_key``), so a redelivered push is stored once.
"""

from __future__ import annotations

from typing import Any

from bot.events.fields import stable_digest
from bot.events.model import ImagePushed, MalformedEvent, ParsedEvent
from bot.images import DOCKER_HUB, ImageReference, looks_like_host, normalize_registry_host

__all__ = [
    "DOCKER_HUB",
    "REGISTRY_SOURCE",
    "ImageReference",
    "bounded_key",
    "image_dedupe_key",
    "normalise_registry_host",
    "normalise_repository",
    "split_image_reference",
]


REGISTRY_SOURCE = "registry"
"""The ``source`` of every event parsed from a container registry's webhook."""
# The events table's dedupe_key column holds 512 characters.
_MAX_KEY_LENGTH = 500


def image_dedupe_key(image: ImagePushed, pushed_at: object = None) -> str:
    """``<registry>/<repository>:<tag>@<digest>``: a retried or re-sent push is one event.

    Without a digest (Docker Hub) the push time stands in for it, so re-pushing a tag
    later is a new event while a redelivery of the same notification is not.
    """
    if image.digest:
        key = image.reference
    else:
        key = f"{image.reference}#pushed_at={pushed_at if pushed_at is not None else image.pushed_at}"
    return bounded_key(key)


def image_pushed_event(
    image: ImagePushed, *, delivery_id: str, payload: dict[str, Any], pushed_at: object = None
) -> ParsedEvent:
    """The stored form of a push, whichever registry reported it (one dedupe key for all of them)."""
    return ParsedEvent(
        source=REGISTRY_SOURCE,
        event="image",
        action="pushed",
        delivery_id=delivery_id,
        dedupe_key=image_dedupe_key(image, pushed_at),
        payload=payload,
        domain=image,
    )


def bounded_key(key: str) -> str:
    if len(key) <= _MAX_KEY_LENGTH:
        return key
    return f"sha256:{stable_digest(key)}"


def _drop_scheme(text: str) -> str:
    for scheme in ("https://", "http://"):
        if text.lower().startswith(scheme):
            return text[len(scheme) :]
    return text


def normalise_registry_host(host: str) -> str:
    """``https://Registry.Example.com:5000/v2`` → ``registry.example.com:5000``; Hub aliases → docker.io."""
    return normalize_registry_host(_drop_scheme(host.strip()).split("/", 1)[0])


def normalise_repository(registry: str, repository: str) -> str:
    path = repository.strip().strip("/").lower()
    if not path:
        raise MalformedEvent("image repository name is empty")
    if registry == DOCKER_HUB and "/" not in path:
        path = f"library/{path}"
    return path


def split_image_reference(reference: str) -> ImageReference:
    """Parse ``[scheme://][host/]path[:tag][@digest]`` into its normalised parts."""
    text = _drop_scheme(reference.strip())
    if not text:
        raise MalformedEvent("image reference is empty")
    name, _, digest = text.partition("@")
    first, slash, rest = name.partition("/")
    if slash and looks_like_host(first.lower()):
        registry, path = normalise_registry_host(first), rest
    else:
        registry, path = DOCKER_HUB, name
    tag: str | None = None
    colon = path.rfind(":")
    if colon > path.rfind("/"):
        path, tag = path[:colon], path[colon + 1 :] or None
    return ImageReference(registry, normalise_repository(registry, path), tag, digest or None)
