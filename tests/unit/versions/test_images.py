from __future__ import annotations

import pytest

from bot.images import (
    ImageReference,
    InvalidImageReference,
    parse_image_reference,
    render_target_value,
    repository_matches,
)

DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("nginx", ImageReference("docker.io", "library/nginx")),
        ("nginx:1.25", ImageReference("docker.io", "library/nginx", "1.25")),
        ("library/nginx", ImageReference("docker.io", "library/nginx")),
        ("docker.io/nginx", ImageReference("docker.io", "library/nginx")),
        ("index.docker.io/library/nginx:latest", ImageReference("docker.io", "library/nginx", "latest")),
        ("registry-1.docker.io/bitnami/redis", ImageReference("docker.io", "bitnami/redis")),
        ("vllm/vllm-openai:v0.6.3", ImageReference("docker.io", "vllm/vllm-openai", "v0.6.3")),
        ("localhost/app", ImageReference("localhost", "app")),
        (
            "localhost:5000/serving/chat-llm:1.2.3",
            ImageReference("localhost:5000", "serving/chat-llm", "1.2.3"),
        ),
        ("Registry.Example.com/serving/chat-llm", ImageReference("registry.example.com", "serving/chat-llm")),
        (f"ghcr.io/acme/app:1.0@{DIGEST}", ImageReference("ghcr.io", "acme/app", "1.0", DIGEST)),
        (f"ghcr.io/acme/app@{DIGEST}", ImageReference("ghcr.io", "acme/app", None, DIGEST)),
        ("[::1]:5000/app", ImageReference("[::1]:5000", "app")),
        ("my.team/app", ImageReference("my.team", "app")),
        ("a__b/c--d.e", ImageReference("docker.io", "a__b/c--d.e")),
    ],
)
def test_parse_and_normalise(text: str, expected: ImageReference) -> None:
    assert parse_image_reference(text) == expected


def test_names_and_text_form() -> None:
    reference = parse_image_reference(f"nginx:1.25@{DIGEST}")
    assert reference.name == "docker.io/library/nginx"
    assert reference.familiar_name == "nginx"
    assert str(reference) == f"docker.io/library/nginx:1.25@{DIGEST}"
    assert parse_image_reference("ghcr.io/a/b").familiar_name == "ghcr.io/a/b"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Serving/App",
        "app:",
        "app:-bad",
        "app@sha256:short",
        "bad_host_/x",
        "a//b",
        "UPPER:5000//x",
        "a/B",
    ],
)
def test_invalid_references_are_rejected(text: str) -> None:
    with pytest.raises(InvalidImageReference):
        parse_image_reference(text)


@pytest.mark.parametrize(
    ("trigger", "pushed", "host", "matches"),
    [
        ("registry.example.com/serving/chat-llm", "serving/chat-llm", "registry.example.com", True),
        ("registry.example.com/serving/chat-llm", "serving/chat-llm", "REGISTRY.example.com", True),
        ("registry.example.com/serving/chat-llm", "serving/chat-llm", None, True),  # host unknown
        ("registry.example.com/serving/chat-llm", "serving/chat-llm", "", True),
        ("registry.example.com/serving/chat-llm", "serving/chat-llm", "other.example.com", False),
        ("registry.example.com/serving/chat-llm", "serving/chat-llm", "registry.example.com:5000", False),
        ("registry.example.com/serving/chat-llm", "serving/embedder", "registry.example.com", False),
        ("nginx", "library/nginx", "docker.io", True),
        ("nginx", "nginx", None, True),
        ("nginx", "nginx", "index.docker.io", True),
        ("docker.io/library/nginx", "nginx", "registry-1.docker.io", True),
        ("vllm/vllm-openai", "vllm/vllm-openai", "docker.io", True),
        ("vllm/vllm-openai", "vllm/vllm-openai", "ghcr.io", False),
        ("localhost:5000/app", "app", "localhost:5000", True),
        ("localhost:5000/app", "library/app", None, False),
        ("ghcr.io/acme/app", "Acme/App", "ghcr.io", False),
    ],
)
def test_repository_matches(trigger: str, pushed: str, host: str | None, matches: bool) -> None:
    assert repository_matches(trigger, pushed, host) is matches


@pytest.mark.parametrize(
    ("target_format", "expected"),
    [
        ("tag", "1.2.3"),
        ("digest", DIGEST),
        ("tag@digest", f"1.2.3@{DIGEST}"),
        ("image", "registry.example.com/serving/chat-llm:1.2.3"),
        ("image@digest", f"registry.example.com/serving/chat-llm:1.2.3@{DIGEST}"),
    ],
)
def test_render_target_value(target_format: str, expected: str) -> None:
    value = render_target_value(
        target_format,  # type: ignore[arg-type]
        repository="registry.example.com/serving/chat-llm",
        tag="1.2.3",
        digest=DIGEST,
    )
    assert value == expected


def test_render_needs_the_digest_when_the_format_does() -> None:
    with pytest.raises(ValueError, match="needs the image digest"):
        render_target_value("tag@digest", repository="x", tag="1.0.0", digest=None)
