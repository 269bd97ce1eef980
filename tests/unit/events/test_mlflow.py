from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from bot.events import MalformedEvent, ModelVersionAliasSet, ModelVersionCreated, parse_mlflow
from tests.unit.events.samples import body, data, raw


def mlflow_headers(delivery: str = "7f0d2c1e-5b3a-4e8f-9a6b-1c2d3e4f5a6b") -> dict[str, str]:
    return {
        "content-type": "application/json",
        "x-mlflow-delivery-id": delivery,
        "x-mlflow-timestamp": "1714642200",
        "x-mlflow-signature": "v1,verified-by-the-route",
    }


def test_model_version_created() -> None:
    (event,) = parse_mlflow(mlflow_headers("d-1"), raw("mlflow/model_version.created.json"))

    assert event.routing_key == ("mlflow", "model_version", "created")
    assert (event.delivery_id, event.dedupe_key) == ("d-1", "d-1")
    assert event.domain == ModelVersionCreated(
        name="chat-llm",
        version="7",
        source="models:/m-5f0a1b2c3d4e4f5a8b9c0d1e2f3a4b5c",
        run_id="a1b2c3d4e5f60718293a4b5c6d7e8f90",
        tags={"team": "serving", "base_model": "llama-3-8b"},
        description="Fine-tuned on the April support transcripts",
        timestamp=datetime(2024, 5, 2, 9, 30, 0, 123456, tzinfo=UTC),
    )


def test_model_version_alias_created() -> None:
    (event,) = parse_mlflow(mlflow_headers(), raw("mlflow/model_version_alias.created.json"))

    assert event.routing_key == ("mlflow", "model_version_alias", "created")
    assert event.domain == ModelVersionAliasSet(
        name="chat-llm", alias="champion", version="7", timestamp=datetime(2024, 5, 2, 9, 45, tzinfo=UTC)
    )


def test_optional_fields_and_workspace() -> None:
    payload = data("mlflow/model_version.created.json")
    payload["workspace"] = "team-a"
    payload["data"].update(run_id=None, description=None, tags={}, version=8)

    (event,) = parse_mlflow(mlflow_headers(), body(payload))

    assert isinstance(event.domain, ModelVersionCreated)
    assert (event.domain.version, event.domain.run_id, event.domain.description) == ("8", None, None)
    assert (event.domain.tags, event.domain.workspace) == ({}, "team-a")


@pytest.mark.parametrize(
    ("entity", "action"),
    [
        ("registered_model", "created"),
        ("model_version_alias", "deleted"),
        ("model_version_tag", "set"),
        ("prompt", "created"),
    ],
)
def test_other_mlflow_events_are_ignored(entity: str, action: str) -> None:
    payload = data("mlflow/registered_model.created.json")
    payload.update(entity=entity, action=action)

    (event,) = parse_mlflow(mlflow_headers("d-9"), body(payload))

    assert event.routing_key == ("mlflow", entity, action)
    assert event.domain is None
    assert event.ignored_reason == f"MLflow '{entity}.{action}' events are not acted on"
    assert event.dedupe_key == "d-9"


def test_retry_of_a_delivery_has_the_same_dedupe_key() -> None:
    first = parse_mlflow(mlflow_headers("same"), raw("mlflow/model_version.created.json"))[0]
    retry = parse_mlflow({"X-MLflow-Delivery-Id": "same"}, raw("mlflow/model_version.created.json"))[0]

    assert first.dedupe_key == retry.dedupe_key == "same"


def _payload(change: Any) -> bytes:
    payload = data("mlflow/model_version.created.json")
    change(payload)
    return body(payload)


@pytest.mark.parametrize(
    ("headers", "content", "message"),
    [
        ({}, raw("mlflow/model_version.created.json"), "MLflow request has no X-MLflow-Delivery-Id header"),
        (mlflow_headers(), b"", "MLflow webhook body is empty"),
        (mlflow_headers(), b"nope", "MLflow webhook body is not valid JSON"),
        (mlflow_headers(), b"[]", "MLflow webhook body must be a JSON object, got a list"),
        (mlflow_headers(), _payload(lambda p: p.pop("entity")), "MLflow webhook has no 'entity' string"),
        (mlflow_headers(), _payload(lambda p: p.pop("action")), "MLflow webhook has no 'action' string"),
        (
            mlflow_headers(),
            _payload(lambda p: p.pop("data")),
            "MLflow model_version.created event has no 'data' object",
        ),
        (
            mlflow_headers(),
            _payload(lambda p: p["data"].pop("name")),
            "MLflow model_version.created event: data has no 'name' string",
        ),
        (
            mlflow_headers(),
            _payload(lambda p: p["data"].pop("version")),
            "MLflow model_version.created event: data has no 'version'",
        ),
        (
            mlflow_headers(),
            _payload(lambda p: p["data"].update(tags={"a": 1})),
            "MLflow model_version.created event: data: 'tags.a' must be a string, got an integer",
        ),
        (
            mlflow_headers(),
            _payload(lambda p: p.update(timestamp="soon")),
            "MLflow webhook: timestamp is not a valid timestamp: 'soon'",
        ),
        (
            mlflow_headers(),
            _payload(lambda p: p.update(entity="model_version_alias", data={"name": "m", "version": "1"})),
            "MLflow model_version_alias.created event: data has no 'alias' string",
        ),
    ],
)
def test_malformed_mlflow_requests(headers: dict[str, str], content: bytes, message: str) -> None:
    with pytest.raises(MalformedEvent) as caught:
        parse_mlflow(headers, content)

    assert str(caught.value).startswith(message)
