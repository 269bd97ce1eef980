"""Where an update came from, in the words a reviewer wants: what was pushed or registered, and links.

Built from a domain event (registry push, MLflow version or alias) or from a person's request
(``/gitops deploy``, Slack, a canary promotion). Only stable facts go in: a redelivered or repeated
event must render the same pull request body, so nothing here depends on delivery ids or arrival
times.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from bot.events.model import ImagePushed, ModelVersionAliasSet, ModelVersionCreated

SourceKind = Literal["image", "model", "manual", "promotion"]


@dataclass(frozen=True)
class UpdateSource:
    kind: SourceKind
    summary: str
    """One line, e.g. ``registry push registry.example.com/serving/chat-llm:1.4.0@sha256:…``."""
    facts: tuple[tuple[str, str], ...] = ()
    """Label → value rows for the pull request body."""
    links: tuple[tuple[str, str], ...] = ()
    """Label → URL."""

    def as_json(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "summary": self.summary,
            "facts": [list(fact) for fact in self.facts],
            "links": [list(link) for link in self.links],
        }


def image_source(image: ImagePushed) -> UpdateSource:
    facts: list[tuple[str, str]] = [
        ("registry", image.registry),
        ("repository", image.repository),
    ]
    if image.tag:
        facts.append(("tag", image.tag))
    if image.digest:
        facts.append(("digest", image.digest))
    if image.media_type:
        facts.append(("media type", image.media_type))
    if image.actor:
        facts.append(("pushed by", image.actor))
    facts.append(("notification", image.format))
    links: list[tuple[str, str]] = []
    if image.digest and image.registry != "docker.io":
        # The distribution API's manifest URL: readable with `skopeo inspect` or curl.
        links.append(("manifest", f"https://{image.registry}/v2/{image.repository}/manifests/{image.digest}"))
    if image.registry == "docker.io":
        links.append(("Docker Hub", f"https://hub.docker.com/r/{image.repository.removeprefix('library/')}"))
    return UpdateSource(
        kind="image", summary=f"registry push {image.reference}", facts=tuple(facts), links=tuple(links)
    )


def model_source(
    event: ModelVersionCreated | ModelVersionAliasSet, *, tracking_url: str | None = None
) -> UpdateSource:
    facts: list[tuple[str, str]] = [("model", event.name), ("version", event.version)]
    if isinstance(event, ModelVersionAliasSet):
        facts.append(("alias", event.alias))
        summary = f"MLflow alias {event.name}@{event.alias} set to version {event.version}"
    else:
        summary = f"MLflow model {event.name} version {event.version} registered"
        if event.source:
            facts.append(("artifact source", event.source))
        if event.run_id:
            facts.append(("run", event.run_id))
    if event.workspace:
        facts.append(("workspace", event.workspace))
    links: list[tuple[str, str]] = []
    if tracking_url:
        base = tracking_url.rstrip("/")
        links.append(("model version", f"{base}/#/models/{event.name}/versions/{event.version}"))
    return UpdateSource(kind="model", summary=summary, facts=tuple(facts), links=tuple(links))


def manual_source(description: str, requested_by: str, *, kind: SourceKind = "manual") -> UpdateSource:
    text = description.strip() or "explicit request"
    return UpdateSource(kind=kind, summary=text, facts=(("requested by", requested_by),))
