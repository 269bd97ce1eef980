"""Container image references: parsing, Docker's normalisation rules, and matching pushes to triggers.

Normalisation follows Docker (``github.com/distribution/reference``):

* the first ``/``-separated component is a registry host only if it contains ``.`` or ``:`` or is
  ``localhost`` (so ``localhost:5000/x`` and ``registry.example.com/a/b`` name hosts, ``team/app`` does not);
* no host means Docker Hub; ``docker.io``, ``index.docker.io`` and ``registry-1.docker.io`` are all
  written ``docker.io``;
* a one-component Docker Hub repository is an official image: ``nginx`` is ``docker.io/library/nginx``;
* hosts are compared case-insensitively (written lower-case); repository paths must be lower-case.

Matching a push against a trigger (:func:`repository_matches`): the trigger's ``repository`` is
normalised with the rules above, so a trigger without a host means Docker Hub. Registry
notifications do not always say which host they came from (the CNCF distribution envelope's
``request.host`` may be missing or an internal service name), so when the push's host is unknown
(``None`` or empty) only the repository paths are compared, and the push's one-component path gets
``library/`` when the trigger is on Docker Hub. When the push's host is known it must be the
trigger's host (Docker Hub aliases are equal; ports are significant).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

DOCKER_HUB = "docker.io"
_DOCKER_HUB_ALIASES = frozenset(
    {"docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com", "hub.docker.com"}
)

_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_HOST = re.compile(rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[0-9A-Fa-f:.]+\])(?::[0-9]+)?")
_PATH_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
_TAG = re.compile(r"[\w][\w.-]{0,127}")
_DIGEST = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}")

TargetFormat = Literal["tag", "digest", "tag@digest", "image", "image@digest"]
# The formats that name a version (a tag), and those that carry a digest.
TAG_FORMATS: tuple[TargetFormat, ...] = ("tag", "tag@digest", "image", "image@digest")
DIGEST_FORMATS: tuple[TargetFormat, ...] = ("digest", "tag@digest", "image@digest")


class InvalidImageReference(ValueError):
    """The text is not a valid image reference; the message says why."""


@dataclass(frozen=True)
class ImageReference:
    """A normalised reference: ``registry`` (``docker.io`` for Docker Hub) + ``repository`` path,
    plus an optional tag and digest."""

    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    @property
    def name(self) -> str:
        """``registry/repository`` — the fully qualified name, e.g. ``docker.io/library/nginx``."""
        return f"{self.registry}/{self.repository}"

    @property
    def familiar_name(self) -> str:
        """The short form people type: ``nginx`` for ``docker.io/library/nginx``."""
        if self.registry != DOCKER_HUB:
            return self.name
        return self.repository.removeprefix("library/")

    def __str__(self) -> str:
        text = self.name
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


def normalize_registry_host(host: str) -> str:
    """Lower-case the host and fold every Docker Hub alias into ``docker.io``."""
    host = host.strip().lower()
    return DOCKER_HUB if host in _DOCKER_HUB_ALIASES else host


def looks_like_host(component: str) -> bool:
    """Docker's rule for whether a reference's first path component is a registry host."""
    return "." in component or ":" in component or component == "localhost" or component.lower() != component


def parse_image_reference(reference: str) -> ImageReference:
    """Parse ``[host[:port]/]path[:tag][@digest]`` and normalise it (see the module docs)."""
    text = reference.strip()
    if not text:
        raise InvalidImageReference("empty image reference")
    remainder, _, digest = text.partition("@")
    if digest and not _DIGEST.fullmatch(digest):
        raise InvalidImageReference(f"{reference!r}: invalid digest {digest!r}")
    name, tag = remainder, None
    last_slash = remainder.rfind("/")
    last_colon = remainder.rfind(":")
    if last_colon > last_slash:
        name, tag = remainder[:last_colon], remainder[last_colon + 1 :]
        if not _TAG.fullmatch(tag):
            raise InvalidImageReference(f"{reference!r}: invalid tag {tag!r}")
    registry, repository = split_repository_name(name, original=reference)
    return ImageReference(registry=registry, repository=repository, tag=tag, digest=digest or None)


def split_repository_name(name: str, *, original: str | None = None) -> tuple[str, str]:
    """``name`` (no tag or digest) → normalised ``(registry, repository)``."""
    shown = original if original is not None else name
    first, slash, rest = name.partition("/")
    if slash and looks_like_host(first):
        if not _HOST.fullmatch(first):
            raise InvalidImageReference(f"{shown!r}: invalid registry host {first!r}")
        registry, path = normalize_registry_host(first), rest
    else:
        registry, path = DOCKER_HUB, name
    _check_path(path, shown)
    if registry == DOCKER_HUB and "/" not in path:
        path = f"library/{path}"
    return registry, path


def _check_path(path: str, shown: str) -> None:
    if not path:
        raise InvalidImageReference(f"{shown!r}: missing repository name")
    for component in path.split("/"):
        if not _PATH_COMPONENT.fullmatch(component):
            hint = " (repository names must be lower-case)" if component.lower() != component else ""
            raise InvalidImageReference(f"{shown!r}: invalid repository path component {component!r}{hint}")


def repository_matches(
    trigger_repository: str, pushed_repository: str, pushed_host: str | None = None
) -> bool:
    """Whether a push of ``pushed_repository`` (a path such as ``serving/chat-llm``, no host) to
    ``pushed_host`` (None or empty when the event does not say) is the trigger's repository."""
    trigger_registry, trigger_path = split_repository_name(trigger_repository)
    pushed_path = pushed_repository.strip().strip("/")
    try:
        _check_path(pushed_path, pushed_repository)
    except InvalidImageReference:
        return False
    host = normalize_registry_host(pushed_host) if pushed_host and pushed_host.strip() else None
    if host is not None and host != trigger_registry:
        return False
    if (host or trigger_registry) == DOCKER_HUB and "/" not in pushed_path:
        pushed_path = f"library/{pushed_path}"
    return pushed_path == trigger_path


def render_target_value(
    target_format: TargetFormat, *, repository: str, tag: str | None, digest: str | None = None
) -> str:
    """The text a target with ``format`` receives for a pushed image.

    ``tag`` → ``1.2.3``; ``digest`` → ``sha256:…``; ``tag@digest`` → ``1.2.3@sha256:…``;
    ``image`` → ``registry.example.com/serving/chat-llm:1.2.3``; ``image@digest`` → the same plus
    ``@sha256:…``. For model triggers only ``tag`` applies and ``tag`` is the model version.
    """
    needs_digest = target_format in DIGEST_FORMATS
    if needs_digest and not digest:
        raise ValueError(
            f"the target format {target_format!r} needs the image digest, which the event did not give"
        )
    if target_format != "digest" and not tag:
        raise ValueError(f"the target format {target_format!r} needs a tag")
    if target_format == "tag":
        return str(tag)
    if target_format == "digest":
        return str(digest)
    if target_format == "tag@digest":
        return f"{tag}@{digest}"
    written = repository.strip()
    if target_format == "image":
        return f"{written}:{tag}"
    return f"{written}:{tag}@{digest}"


def version_from_value(value: str | None, target_format: TargetFormat) -> str | None:
    """The version (tag) a target's current value names, or None when it names none.

    ``1.2.3`` (tag) → ``1.2.3``; ``1.2.3@sha256:…`` → ``1.2.3``; ``reg/x:1.2.3[@sha256:…]`` (image) →
    ``1.2.3``; a digest-only value carries no version.
    """
    if value is None or target_format not in TAG_FORMATS:
        return None
    text = value.strip().split("@", 1)[0]  # every format that names a version may carry a digest
    if target_format in ("image", "image@digest"):
        last_slash = text.rfind("/")
        colon = text.rfind(":")
        if colon <= last_slash:
            return None
        text = text[colon + 1 :]
    return text or None
