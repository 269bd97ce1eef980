from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.events import ImagePushed, MalformedEvent, parse_registry
from tests.unit.events.samples import body, data, raw

DIGEST = "sha256:2f1e3c0a6b9d4e7f8a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f6071"
CNCF = {"content-type": "application/vnd.docker.distribution.events.v1+json"}
CLOUDEVENTS = {"content-type": "application/cloudevents+json"}
JSON = {"content-type": "application/json"}


def test_cncf_envelope_with_manifest_push_blob_push_and_pull() -> None:
    parsed = parse_registry(CNCF, raw("registry/distribution.envelope.json"))

    assert [event.routing_key for event in parsed] == [
        ("registry", "image", "pushed"),
        ("registry", "blob", "pushed"),
        ("registry", "image", "pulled"),
    ]
    manifest, blob, pull = parsed
    assert manifest.domain == ImagePushed(
        registry="registry.example.com",
        repository="serving/chat-llm",
        tag="1.2.3",
        digest=DIGEST,
        media_type="application/vnd.oci.image.manifest.v1+json",
        format="distribution",
        event_id="2d0bb7f1-8c55-4f9f-9f0e-58c1e0b6f3a1",
        pushed_at=datetime(2024, 5, 2, 9, 59, 58, 123456, tzinfo=UTC),
        actor="ci-builder",
    )
    assert manifest.domain.reference == f"registry.example.com/serving/chat-llm:1.2.3@{DIGEST}"
    assert manifest.dedupe_key == manifest.domain.reference
    assert manifest.delivery_id == "2d0bb7f1-8c55-4f9f-9f0e-58c1e0b6f3a1"
    assert manifest.payload["id"] == manifest.delivery_id  # the single inner event is stored

    assert blob.domain is None
    assert (
        blob.ignored_reason
        == "blob push (application/vnd.oci.image.layer.v1.tar+gzip) is not an image manifest"
    )
    assert blob.delivery_id == "7a9e0c34-1b2d-4e5f-8a6b-9c0d1e2f3a4b"

    assert pull.domain is None
    assert pull.ignored_reason == "registry pull events are not acted on"
    assert len({event.dedupe_key for event in parsed}) == 3


@pytest.mark.parametrize(
    ("target_change", "is_blob"),
    [
        pytest.param({"url": "https://r.example.com/v2/a/b/blobs/sha256:ab"}, True, id="blob-url"),
        pytest.param(
            {"mediaType": "application/vnd.docker.container.image.v1+json", "url": None, "tag": None},
            True,
            id="config-media-type-no-tag",
        ),
        pytest.param(
            {"mediaType": "application/octet-stream", "url": None, "tag": None}, True, id="octet-stream"
        ),
        pytest.param({"mediaType": None, "url": None, "tag": None}, None, id="nothing-known"),
        pytest.param(
            {
                "mediaType": "application/vnd.docker.distribution.manifest.list.v2+json",
                "url": None,
                "tag": None,
            },
            False,
            id="manifest-list-by-digest",
        ),
        pytest.param(
            {"mediaType": "application/vnd.oci.image.index.v1+json", "url": None}, False, id="oci-index"
        ),
        pytest.param({"mediaType": None, "url": None}, False, id="tag-without-media-type"),
    ],
)
def test_blob_or_manifest(target_change: dict[str, Any], is_blob: bool | None) -> None:
    envelope = data("registry/distribution.push.json")
    target = envelope["events"][0]["target"]
    for key, value in target_change.items():
        if value is None:
            target.pop(key, None)
        else:
            target[key] = value

    (event,) = parse_registry(CNCF, body(envelope))

    assert (event.domain is None) == (is_blob is not False)
    assert event.event == ("blob" if is_blob else "image")
    if is_blob is None:
        assert event.ignored_reason == (
            "push event names no media type, tag or URL: not recognisably an image manifest"
        )


def test_untagged_manifest_push_is_an_image_without_tag() -> None:
    envelope = data("registry/distribution.push.json")
    del envelope["events"][0]["target"]["tag"]

    (event,) = parse_registry(CNCF, body(envelope))

    assert isinstance(event.domain, ImagePushed)
    assert event.domain.tag is None
    assert event.dedupe_key == f"registry.example.com/serving/chat-llm@{DIGEST}"


@pytest.mark.parametrize(
    ("action", "verb"), [("pull", "pulled"), ("delete", "deleted"), ("mount", "mounted")]
)
def test_non_push_actions_are_ignored(action: str, verb: str) -> None:
    envelope = data("registry/distribution.push.json")
    envelope["events"][0]["action"] = action
    if action == "delete":
        envelope["events"][0]["target"] = {"digest": DIGEST, "repository": "serving/chat-llm"}

    (event,) = parse_registry(CNCF, body(envelope))

    assert (event.event, event.action) == ("image", verb)
    assert event.ignored_reason == f"registry {action} events are not acted on"


@pytest.mark.parametrize(
    ("request_host", "url", "registry"),
    [
        ("Registry.Example.com", None, "registry.example.com"),
        ("localhost:5000", None, "localhost:5000"),
        (None, "http://10.0.0.5:5000/v2/serving/chat-llm/manifests/sha256:ab", "10.0.0.5:5000"),
        ("registry-1.docker.io", None, "docker.io"),
    ],
)
def test_cncf_registry_host(request_host: str | None, url: str | None, registry: str) -> None:
    envelope = data("registry/distribution.push.json")
    event = envelope["events"][0]
    if request_host is None:
        del event["request"]["host"]
    else:
        event["request"]["host"] = request_host
    if url is not None:
        event["target"]["url"] = url

    (parsed,) = parse_registry(CNCF, body(envelope))

    assert isinstance(parsed.domain, ImagePushed)
    assert parsed.domain.registry == registry


def test_the_same_push_through_two_deliveries_has_one_dedupe_key() -> None:
    first = data("registry/distribution.push.json")
    retry = copy.deepcopy(first)
    retry["events"][0]["id"] = "a-new-event-id"
    retry["events"][0]["timestamp"] = "2024-05-02T10:30:00Z"

    (a,) = parse_registry(CNCF, body(first))
    (b,) = parse_registry({}, body(retry))  # and without the content type: shape detection

    assert a.delivery_id != b.delivery_id
    assert a.dedupe_key == b.dedupe_key


def test_harbor_default_and_cloudevents_formats_agree() -> None:
    (default,) = parse_registry(JSON, raw("registry/harbor.push_artifact.json"))
    (cloud,) = parse_registry(CLOUDEVENTS, raw("registry/harbor.cloudevents.pushed.json"))

    for event, image_format in ((default, "harbor"), (cloud, "harbor-cloudevents")):
        assert event.routing_key == ("registry", "image", "pushed")
        assert isinstance(event.domain, ImagePushed)
        assert event.domain.format == image_format
        assert (event.domain.registry, event.domain.repository, event.domain.tag, event.domain.digest) == (
            "harbor.example.com",
            "serving/chat-llm",
            "1.2.3",
            DIGEST,
        )
        assert event.domain.actor == "robot$serving+ci"
        assert event.domain.pushed_at == datetime(2024, 5, 2, 9, 59, 58, tzinfo=UTC)
    assert default.dedupe_key == cloud.dedupe_key == f"harbor.example.com/serving/chat-llm:1.2.3@{DIGEST}"
    assert cloud.delivery_id == "4b2f89a6-548d-4c12-9993-a1f5790b97d2"
    # Harbor's default format has no id: a stable one is derived from the content.
    assert default.delivery_id.startswith("harbor-")
    assert (
        parse_registry(JSON, raw("registry/harbor.push_artifact.json"))[0].delivery_id == default.delivery_id
    )


def test_harbor_push_with_several_resources_gives_one_event_each() -> None:
    payload = data("registry/harbor.push_artifact.json")
    payload["event_data"]["resources"].append(
        {"digest": DIGEST, "tag": "latest", "resource_url": "harbor.example.com/serving/chat-llm:latest"}
    )
    payload["event_data"]["resources"].append(
        {
            "digest": "sha256:ff",
            "tag": "sha256:ff",
            "resource_url": "harbor.example.com/serving/chat-llm@sha256:ff",
        }
    )

    parsed = parse_registry(JSON, body(payload))

    assert [
        (event.domain.tag, event.domain.digest) for event in parsed if isinstance(event.domain, ImagePushed)
    ] == [
        ("1.2.3", DIGEST),
        ("latest", DIGEST),
        (None, "sha256:ff"),  # pushed by digest: Harbor repeats the digest as the tag
    ]
    assert len({event.dedupe_key for event in parsed}) == 3


@pytest.mark.parametrize(
    ("harbor_type", "event", "action"),
    [
        ("PULL_ARTIFACT", "image", "pulled"),
        ("DELETE_ARTIFACT", "image", "deleted"),
        ("SCANNING_COMPLETED", "scanning_completed", None),
        ("QUOTA_EXCEED", "quota_exceed", None),
    ],
)
def test_harbor_non_push_events_are_ignored(harbor_type: str, event: str, action: str | None) -> None:
    payload = data("registry/harbor.pull_artifact.json")
    payload["type"] = harbor_type

    (parsed,) = parse_registry(JSON, body(payload))

    assert (parsed.event, parsed.action) == (event, action)
    assert parsed.ignored_reason == f"Harbor {harbor_type} events are not acted on (only PUSH_ARTIFACT)"


@pytest.mark.parametrize(
    ("ce_type", "event", "reason"),
    [
        (
            "harbor.artifact.pulled",
            "image",
            "Harbor PULL_ARTIFACT events are not acted on (only PUSH_ARTIFACT)",
        ),
        ("harbor.scan.completed", "scanning_completed", "Harbor SCANNING_COMPLETED events are not acted on"),
        (
            "com.example.build.finished",
            "cloudevent",
            "CloudEvents type 'com.example.build.finished' is not acted on",
        ),
    ],
)
def test_other_cloudevents_are_ignored(ce_type: str, event: str, reason: str) -> None:
    payload = data("registry/harbor.cloudevents.pushed.json")
    payload["type"] = ce_type

    (parsed,) = parse_registry(CLOUDEVENTS, body(payload))

    assert parsed.event == event
    assert parsed.ignored_reason is not None
    assert parsed.ignored_reason.startswith(reason)


def test_cloudevents_binary_mode() -> None:
    structured = data("registry/harbor.cloudevents.pushed.json")
    headers = {
        "content-type": "application/json",
        "ce-specversion": "1.0",
        "ce-id": "binary-1",
        "ce-type": "harbor.artifact.pushed",
        "ce-source": "/projects/3/webhook/policies/7",
        "ce-time": "2024-05-02T09:59:58Z",
        "ce-operator": "robot$serving+ci",
    }

    (event,) = parse_registry(headers, body(structured["data"]))

    assert isinstance(event.domain, ImagePushed)
    assert (event.delivery_id, event.domain.event_id, event.domain.actor) == (
        "binary-1",
        "binary-1",
        "robot$serving+ci",
    )
    assert event.dedupe_key == f"harbor.example.com/serving/chat-llm:1.2.3@{DIGEST}"
    assert event.payload["data"] == structured["data"]


def test_cloudevents_batch_mode() -> None:
    structured = data("registry/harbor.cloudevents.pushed.json")
    second = copy.deepcopy(structured)
    second["id"] = "second"
    second["data"]["resources"][0]["tag"] = "1.2.4"

    parsed = parse_registry(
        {"content-type": "application/cloudevents-batch+json"}, body([structured, second])
    )

    assert [event.domain.tag for event in parsed if isinstance(event.domain, ImagePushed)] == [
        "1.2.3",
        "1.2.4",
    ]


def test_docker_hub_push() -> None:
    (event,) = parse_registry(JSON, raw("registry/dockerhub.push.json"))

    assert event.routing_key == ("registry", "image", "pushed")
    assert isinstance(event.domain, ImagePushed)
    assert (event.domain.registry, event.domain.repository, event.domain.tag, event.domain.digest) == (
        "docker.io",
        "acme/chat-llm",
        "1.2.3",
        None,
    )
    assert (event.domain.format, event.domain.actor) == ("dockerhub", "acmeci")
    assert event.domain.pushed_at == datetime.fromtimestamp(1714643998, tz=UTC)
    assert event.dedupe_key == "docker.io/acme/chat-llm:1.2.3#pushed_at=1714643998"
    assert event.delivery_id == event.domain.event_id
    assert event.delivery_id.startswith("dockerhub-")


@pytest.mark.parametrize(
    ("repo_name", "namespace", "name", "expected"),
    [
        ("nginx", "library", "nginx", "library/nginx"),
        ("library/nginx", "library", "nginx", "library/nginx"),
        (None, None, "nginx", "library/nginx"),
        (None, "Acme", "Chat-LLM", "acme/chat-llm"),
    ],
)
def test_docker_hub_official_images_live_under_library(
    repo_name: str | None, namespace: str | None, name: str, expected: str
) -> None:
    payload = data("registry/dockerhub.official.json")
    repository = payload["repository"]
    repository.pop("repo_name")
    repository.pop("namespace")
    if repo_name is not None:
        repository["repo_name"] = repo_name
    if namespace is not None:
        repository["namespace"] = namespace
    repository["name"] = name

    (event,) = parse_registry({}, body(payload))

    assert isinstance(event.domain, ImagePushed)
    assert event.domain.repository == expected
    assert event.domain.reference == f"docker.io/{expected}:1.27.0"


def test_docker_hub_redelivery_dedupes_but_a_later_push_of_the_tag_does_not() -> None:
    payload = data("registry/dockerhub.push.json")
    later = copy.deepcopy(payload)
    later["push_data"]["pushed_at"] = 1714700000

    (first,) = parse_registry(JSON, body(payload))
    (again,) = parse_registry(JSON, body(payload))
    (repush,) = parse_registry(JSON, body(later))

    assert first.dedupe_key == again.dedupe_key
    assert first.delivery_id == again.delivery_id
    assert repush.dedupe_key != first.dedupe_key


def _envelope_with(change: Any) -> bytes:
    envelope = data("registry/distribution.push.json")
    change(envelope["events"][0])
    return body(envelope)


@pytest.mark.parametrize(
    ("headers", "content", "message"),
    [
        (JSON, b"", "registry webhook body is empty"),
        (JSON, b"{", "registry webhook body is not valid JSON"),
        (JSON, b"42", "registry webhook body must be a JSON object, got an integer"),
        (
            JSON,
            b'{"hello": "world"}',
            "unknown registry webhook format: expected a CNCF distribution envelope",
        ),
        (CNCF, b'{"events": []}', "distribution notification envelope has an empty 'events' list"),
        (
            CNCF,
            b'{"events": {}}',
            "distribution notification envelope: 'events' must be a list, got an object",
        ),
        (CNCF, b'{"events": ["x"]}', "distribution event [0] must be an object, got a string"),
        (CNCF, _envelope_with(lambda e: e.pop("id")), "distribution event [0] has no 'id' string"),
        (CNCF, _envelope_with(lambda e: e.pop("target")), "distribution event [0] has no 'target' object"),
        (
            CNCF,
            _envelope_with(lambda e: e["target"].pop("repository")),
            "distribution event [0]: target has no 'repository' string",
        ),
        (
            CNCF,
            _envelope_with(lambda e: [e["target"].pop("digest"), e["target"].pop("tag")]),
            "distribution event [0]: target has neither a 'digest' nor a 'tag'",
        ),
        (
            CNCF,
            _envelope_with(lambda e: [e.pop("request"), e["target"].pop("url")]),
            "distribution event [0] names no registry host (no request.host and no target.url)",
        ),
        (
            CNCF,
            _envelope_with(lambda e: e.update(timestamp="yesterday")),
            "distribution event [0]: timestamp is not a valid timestamp: 'yesterday'",
        ),
        (
            JSON,
            b'{"type": "PUSH_ARTIFACT", "event_data": []}',
            "Harbor event: 'event_data' must be an object",
        ),
        (
            JSON,
            body(
                {
                    "type": "PUSH_ARTIFACT",
                    "event_data": {"repository": {"repo_full_name": "a/b"}, "resources": []},
                }
            ),
            "Harbor event: data has an empty 'resources' list",
        ),
        (
            JSON,
            body(
                {
                    "type": "PUSH_ARTIFACT",
                    "event_data": {
                        "repository": {"repo_full_name": "a/b"},
                        "resources": [{"digest": "sha256:1", "tag": "1", "resource_url": "a/b:1"}],
                    },
                }
            ),
            "Harbor event: data.resources[0]: 'resource_url' 'a/b:1' does not start with a registry host",
        ),
        (
            CLOUDEVENTS,
            body({"specversion": "1.0", "id": "1", "type": "harbor.artifact.pushed", "source": "/p"}),
            "CloudEvent (harbor.artifact.pushed) has no 'data' object",
        ),
        (
            CLOUDEVENTS,
            body({"specversion": "0.3", "id": "1", "type": "t"}),
            "CloudEvent: unsupported CloudEvents",
        ),
        (CLOUDEVENTS, body({"specversion": "1.0", "type": "t"}), "CloudEvent has no 'id' string"),
        (
            {"ce-specversion": "1.0", "ce-type": "harbor.artifact.pushed"},
            b"{}",
            "CloudEvent (binary mode) has no ce-id",
        ),
        (
            {"content-type": "application/cloudevents-batch+json"},
            b"{}",
            "a CloudEvents batch must be a JSON list of events",
        ),
        (
            JSON,
            body({"push_data": {}, "repository": {"repo_name": "a/b"}}),
            "Docker Hub webhook: push_data has no 'tag'",
        ),
        (
            JSON,
            body({"push_data": {"tag": 1}, "repository": {"repo_name": "a/b"}}),
            "Docker Hub webhook: push_data: 'tag' must be a string, got an integer",
        ),
    ],
)
def test_malformed_registry_requests(headers: dict[str, str], content: bytes, message: str) -> None:
    with pytest.raises(MalformedEvent) as caught:
        parse_registry(headers, content)

    assert str(caught.value).startswith(message)


def test_unknown_format_message_lists_what_is_understood() -> None:
    with pytest.raises(MalformedEvent) as caught:
        parse_registry(JSON, json.dumps({"repository": "x"}).encode())

    assert "Harbor payload (default or CloudEvents)" in str(caught.value)
    assert "Docker Hub payload" in str(caught.value)


def test_harbor_repository_from_namespace_and_name() -> None:
    payload = data("registry/harbor.push_artifact.json")
    del payload["event_data"]["repository"]["repo_full_name"]

    (event,) = parse_registry(JSON, body(payload))

    assert isinstance(event.domain, ImagePushed)
    assert event.domain.repository == "serving/chat-llm"


@pytest.mark.parametrize(
    ("resources", "message"),
    [
        (["x"], "Harbor event: data.resources[0] must be an object, got a string"),
        (
            [{"digest": "", "tag": "", "resource_url": "harbor.example.com/a/b"}],
            "Harbor event: data.resources[0] has neither a 'digest' nor a 'tag'",
        ),
    ],
)
def test_malformed_harbor_resources(resources: list[Any], message: str) -> None:
    payload = data("registry/harbor.push_artifact.json")
    payload["event_data"]["resources"] = resources

    with pytest.raises(MalformedEvent) as caught:
        parse_registry(JSON, body(payload))

    assert str(caught.value) == message


def test_empty_cloudevents_batch() -> None:
    with pytest.raises(MalformedEvent, match="the CloudEvents batch is empty"):
        parse_registry({"content-type": "application/cloudevents-batch+json"}, b"[]")


def test_very_long_references_are_hashed_to_fit_the_dedupe_column() -> None:
    envelope = data("registry/distribution.push.json")
    envelope["events"][0]["target"]["repository"] = "/".join(["segment"] * 80)

    (event,) = parse_registry(CNCF, body(envelope))

    assert event.dedupe_key.startswith("sha256:")
    assert len(event.dedupe_key) <= 512
    assert isinstance(event.domain, ImagePushed)
    assert event.domain.repository.count("/") == 79
