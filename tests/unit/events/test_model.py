from __future__ import annotations

import typing
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from bot.events import (
    DomainEvent,
    ImagePushed,
    MalformedEvent,
    ParsedEvent,
    PullRequestChanged,
    Push,
    domain_event_from_json,
    normalise_registry_host,
    parse_alertmanager,
    parse_github,
    parse_gitlab,
    parse_mlflow,
    parse_registry,
    parse_slack_command,
    parse_slack_interaction,
    split_image_reference,
)
from bot.events.images import ImageReference
from tests.unit.events.samples import form, github_headers, gitlab_headers, raw


def _every_sample_domain_event() -> list[DomainEvent]:
    parsed: list[ParsedEvent] = [
        *parse_github(github_headers("issue_comment"), raw("github/issue_comment.created.json")),
        *parse_github(github_headers("pull_request"), raw("github/pull_request.opened.json")),
        *parse_github(github_headers("pull_request"), raw("github/pull_request.opened_fork.json")),
        *parse_github(github_headers("push"), raw("github/push.json")),
        *parse_github(github_headers("package"), raw("github/package.published.json")),
        *parse_gitlab(gitlab_headers("Pipeline Hook"), raw("gitlab/pipeline.success.json")),
        *parse_registry({}, raw("registry/distribution.envelope.json")),
        *parse_registry({}, raw("registry/harbor.push_artifact.json")),
        *parse_registry({}, raw("registry/harbor.cloudevents.pushed.json")),
        *parse_registry({}, raw("registry/dockerhub.push.json")),
        *parse_mlflow({"x-mlflow-delivery-id": "1"}, raw("mlflow/model_version.created.json")),
        *parse_mlflow({"x-mlflow-delivery-id": "2"}, raw("mlflow/model_version_alias.created.json")),
        *parse_alertmanager({}, raw("alertmanager/firing.json")),
        *parse_alertmanager({}, raw("alertmanager/resolved.json")),
        *parse_slack_command(form("slack/command.txt")),
        *parse_slack_interaction(form("slack/interaction.txt")),
    ]
    return [event.domain for event in parsed if event.domain is not None]


SAMPLES = _every_sample_domain_event()


@pytest.mark.parametrize("event", SAMPLES, ids=lambda event: f"{event.kind}")
def test_round_trip_through_json(event: DomainEvent) -> None:
    assert domain_event_from_json(event.model_dump(mode="json")) == event


def test_samples_cover_every_kind() -> None:
    union = typing.get_args(typing.get_args(DomainEvent)[0])
    every_kind = {model.model_fields["kind"].default for model in union}

    assert {event.kind for event in SAMPLES} == every_kind


def test_domain_events_are_frozen() -> None:
    push = next(event for event in SAMPLES if isinstance(event, Push))

    with pytest.raises(ValidationError):
        push.ref = "refs/heads/other"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("stored", "error"),
    [
        ({"kind": "nonsense"}, ValidationError),
        ({"kind": "push", "repo": "a/b"}, ValidationError),
        ({"kind": "pull_request", "unexpected": 1}, ValidationError),
        ([1, 2], MalformedEvent),
    ],
)
def test_bad_stored_rows_are_refused(stored: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        domain_event_from_json(stored)  # type: ignore[arg-type]


def test_parsed_event_needs_exactly_one_of_domain_or_reason() -> None:
    image = next(event for event in SAMPLES if isinstance(event, ImagePushed))
    common = dict(
        source="registry", event="image", action="pushed", delivery_id="d", dedupe_key="k", payload={}
    )

    with pytest.raises(ValueError, match="either a domain event or an ignored_reason"):
        ParsedEvent(**common, domain=None, ignored_reason=None)
    with pytest.raises(ValueError, match="either a domain event or an ignored_reason"):
        ParsedEvent(**common, domain=image, ignored_reason="both")
    assert ParsedEvent(**common, domain=image).routing_key == ("registry", "image", "pushed")


def test_image_reference_forms() -> None:
    image = ImagePushed(
        registry="r.example.com", repository="a/b", tag=None, digest=None, format="distribution", event_id="1"
    )

    assert image.reference == image.image == "r.example.com/a/b"
    assert image.model_copy(update={"tag": "1"}).reference == "r.example.com/a/b:1"
    assert image.model_copy(update={"digest": "sha256:f"}).reference == "r.example.com/a/b@sha256:f"


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        ("nginx", ImageReference("docker.io", "library/nginx")),
        ("nginx:1.27", ImageReference("docker.io", "library/nginx", "1.27")),
        ("acme/chat-llm:1.2.3", ImageReference("docker.io", "acme/chat-llm", "1.2.3")),
        ("docker.io/nginx", ImageReference("docker.io", "library/nginx")),
        (
            "index.docker.io/library/nginx@sha256:ab",
            ImageReference("docker.io", "library/nginx", None, "sha256:ab"),
        ),
        (
            "Registry.Example.com/Serving/Chat-LLM:1.2.3@sha256:ab",
            ImageReference("registry.example.com", "serving/chat-llm", "1.2.3", "sha256:ab"),
        ),
        ("localhost:5000/app", ImageReference("localhost:5000", "app")),
        ("localhost/app:dev", ImageReference("localhost", "app", "dev")),
        ("https://ghcr.io/acme/chat-llm:", ImageReference("ghcr.io", "acme/chat-llm")),
    ],
)
def test_split_image_reference(reference: str, expected: ImageReference) -> None:
    assert split_image_reference(reference) == expected


def test_image_reference_text() -> None:
    assert str(ImageReference("ghcr.io", "a/b", "1", "sha256:f")) == "ghcr.io/a/b:1@sha256:f"


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("Registry.Example.com:5000", "registry.example.com:5000"),
        ("https://ghcr.io/acme", "ghcr.io"),
        ("registry.hub.docker.com", "docker.io"),
        ("index.docker.io", "docker.io"),
    ],
)
def test_normalise_registry_host(host: str, expected: str) -> None:
    assert normalise_registry_host(host) == expected


@pytest.mark.parametrize("reference", ["", "   ", "registry.example.com/"])
def test_empty_references_are_refused(reference: str) -> None:
    with pytest.raises(MalformedEvent):
        split_image_reference(reference)


def test_pull_request_labels_are_a_tuple_even_after_a_round_trip() -> None:
    pr = next(event for event in SAMPLES if isinstance(event, PullRequestChanged))

    rebuilt = domain_event_from_json(pr.model_dump(mode="json"))

    assert isinstance(rebuilt, PullRequestChanged)
    assert isinstance(rebuilt.labels, tuple)
    assert rebuilt.model_dump(mode="json")["labels"] == list(pr.labels)


def test_timestamps_survive_as_aware_datetimes() -> None:
    image = next(event for event in SAMPLES if isinstance(event, ImagePushed) and event.format == "dockerhub")

    rebuilt = domain_event_from_json(image.model_dump(mode="json"))

    assert isinstance(rebuilt, ImagePushed)
    assert rebuilt.pushed_at == datetime.fromtimestamp(1714643998, tz=UTC)
