"""Image reference normalisation shared by the registry parsers and deployment matching.

The rules are Docker's reference grammar: the first path component is a registry host
when it contains "." or ":" or is "localhost"; otherwise the image lives on Docker Hub,
whose official images sit under "library/". Registry hosts and repository paths are
compared lower-case (the distribution spec only allows lower-case repository names).
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.events.model import MalformedEvent

DOCKER_HUB = "docker.io"
_DOCKER_HUB_ALIASES = frozenset(
    {"docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com", "hub.docker.com"}
)


@dataclass(frozen=True)
class ImageReference:
    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    @property
    def image(self) -> str:
        return f"{self.registry}/{self.repository}"

    def __str__(self) -> str:
        ref = self.image
        if self.tag:
            ref += f":{self.tag}"
        if self.digest:
            ref += f"@{self.digest}"
        return ref


def normalise_registry_host(host: str) -> str:
    """``Registry.Example.com:5000`` → ``registry.example.com:5000``; Docker Hub aliases → ``docker.io``."""
    cleaned = host.strip().lower()
    for scheme in ("https://", "http://"):
        if cleaned.startswith(scheme):
            cleaned = cleaned[len(scheme) :]
    cleaned = cleaned.split("/", 1)[0]
    if cleaned in _DOCKER_HUB_ALIASES:
        return DOCKER_HUB
    return cleaned


def normalise_repository(registry: str, repository: str) -> str:
    path = repository.strip().strip("/").lower()
    if not path:
        raise MalformedEvent("image repository name is empty")
    if registry == DOCKER_HUB and "/" not in path:
        path = f"library/{path}"
    return path


def looks_like_host(component: str) -> bool:
    return "." in component or ":" in component or component == "localhost"


def split_image_reference(reference: str) -> ImageReference:
    """Parse ``[scheme://][host/]path[:tag][@digest]`` into its normalised parts."""
    text = reference.strip()
    for scheme in ("https://", "http://"):
        if text.lower().startswith(scheme):
            text = text[len(scheme) :]
    if not text:
        raise MalformedEvent("image reference is empty")
    name, _, digest = text.partition("@")
    first, slash, rest = name.partition("/")
    if slash and looks_like_host(first):
        registry = normalise_registry_host(first)
        path = rest
    else:
        registry = DOCKER_HUB
        path = name
    tag: str | None = None
    last_slash = path.rfind("/")
    colon = path.rfind(":")
    if colon > last_slash:
        path, tag = path[:colon], path[colon + 1 :] or None
    return ImageReference(
        registry=registry,
        repository=normalise_repository(registry, path),
        tag=tag,
        digest=digest or None,
    )
