from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.events import Alert, AlertNotification, MalformedEvent, parse_alertmanager
from tests.unit.events.samples import body, data, raw

GROUP_KEY = '{}/{severity="page"}:{alertname="VLLMHighTTFT", deployment="chat-llm-staging"}'


def test_firing_notification() -> None:
    (event,) = parse_alertmanager({}, raw("alertmanager/firing.json"))

    assert event.routing_key == ("alertmanager", "alert", "firing")
    notification = event.domain
    assert isinstance(notification, AlertNotification)
    assert (notification.status, notification.receiver, notification.group_key) == (
        "firing",
        "gitops-bot",
        GROUP_KEY,
    )
    assert notification.common_labels["deployment"] == "chat-llm-staging"
    assert notification.group_labels == {"alertname": "VLLMHighTTFT", "deployment": "chat-llm-staging"}
    assert notification.common_annotations == {"summary": "p99 time to first token above 200ms"}
    assert (notification.external_url, notification.truncated_alerts) == (
        "http://alertmanager.monitoring:9093",
        0,
    )
    assert len(notification.alerts) == 2
    first = notification.alerts[0]
    assert first == Alert(
        status="firing",
        labels={
            "alertname": "VLLMHighTTFT",
            "deployment": "chat-llm-staging",
            "pod": "chat-llm-7d9f-abcde",
            "severity": "page",
        },
        annotations={"summary": "p99 time to first token above 200ms", "value": "0.41"},
        starts_at=datetime(2024, 5, 2, 11, 5, tzinfo=UTC),
        ends_at=None,  # Go's zero time means "not ended"
        fingerprint="c4f3e2a1b0d9e8f7",
        generator_url="http://prometheus.monitoring:9090/graph?g0.expr=histogram_quantile%280.99%2C+...%29+%3E+0.2",
    )
    assert event.delivery_id.startswith("alertmanager-")


def test_resolved_notification() -> None:
    (event,) = parse_alertmanager({}, raw("alertmanager/resolved.json"))

    assert event.routing_key == ("alertmanager", "alert", "resolved")
    assert isinstance(event.domain, AlertNotification)
    assert event.domain.alerts[0].ends_at == datetime(2024, 5, 2, 11, 20, tzinfo=UTC)


def _variant(change: Any) -> dict[str, Any]:
    payload = copy.deepcopy(data("alertmanager/firing.json"))
    change(payload)
    return payload


@pytest.mark.parametrize(
    ("change", "same"),
    [
        pytest.param(lambda p: None, True, id="identical-repeat"),
        pytest.param(lambda p: p["alerts"].reverse(), True, id="alert-order"),
        pytest.param(
            lambda p: p["alerts"][0]["annotations"].update(value="0.55"), True, id="new-value-annotation"
        ),
        pytest.param(lambda p: p.update(status="resolved"), False, id="group-status"),
        pytest.param(lambda p: p["alerts"][1].update(status="resolved"), False, id="one-alert-resolved"),
        pytest.param(lambda p: p["alerts"].pop(), False, id="alert-left"),
        pytest.param(lambda p: p.update(groupKey="other"), False, id="other-group"),
        pytest.param(
            lambda p: p["alerts"][0].update(startsAt="2024-05-02T15:00:00Z"), False, id="fired-again-later"
        ),
    ],
)
def test_dedupe_key(change: Any, same: bool) -> None:
    (original,) = parse_alertmanager({}, raw("alertmanager/firing.json"))
    (variant,) = parse_alertmanager({}, body(_variant(change)))

    assert (original.dedupe_key == variant.dedupe_key) is same
    assert (original.delivery_id == variant.delivery_id) is same


def test_alerts_without_fingerprint_are_told_apart_by_labels() -> None:
    def strip(payload: dict[str, Any]) -> None:
        for alert in payload["alerts"]:
            del alert["fingerprint"]

    stripped = _variant(strip)
    other_labels = copy.deepcopy(stripped)
    other_labels["alerts"][0]["labels"]["pod"] = "another-pod"

    (a,) = parse_alertmanager({}, body(stripped))
    (b,) = parse_alertmanager({}, body(other_labels))

    assert isinstance(a.domain, AlertNotification)
    assert a.domain.alerts[0].fingerprint is None
    assert a.dedupe_key != b.dedupe_key


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda p: p.update(version="3"),
            "Alertmanager notification has version '3'; only webhook payload version '4'",
        ),
        (lambda p: p.pop("status"), "Alertmanager notification has no 'status' string"),
        (
            lambda p: p.update(status="pending"),
            "Alertmanager notification: 'status' must be 'firing' or 'resolved'",
        ),
        (lambda p: p.pop("groupKey"), "Alertmanager notification has no 'groupKey' string"),
        (lambda p: p.pop("alerts"), "Alertmanager notification has no 'alerts' list"),
        (
            lambda p: p.update(alerts=[1]),
            "Alertmanager notification: alerts[0] must be an object, got an integer",
        ),
        (
            lambda p: p["alerts"][1].update(status="unknown"),
            "Alertmanager notification: alerts[1]: 'status' must be 'firing' or 'resolved', got 'unknown'",
        ),
        (
            lambda p: p["alerts"][0].update(startsAt="not-a-time"),
            "Alertmanager notification: alerts[0]: startsAt is not a valid timestamp",
        ),
        (
            lambda p: p.update(commonLabels=["a"]),
            "Alertmanager notification: 'commonLabels' must be an object of strings, got a list",
        ),
        (
            lambda p: p.update(truncatedAlerts="3"),
            "Alertmanager notification: 'truncatedAlerts' must be an integer, got a string",
        ),
    ],
)
def test_malformed_notifications(change: Any, message: str) -> None:
    with pytest.raises(MalformedEvent) as caught:
        parse_alertmanager({}, body(_variant(change)))

    assert str(caught.value).startswith(message)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "Alertmanager webhook body is empty"),
        (b"{]", "Alertmanager webhook body is not valid JSON"),
        (b'"text"', "Alertmanager webhook body must be a JSON object, got a string"),
    ],
)
def test_malformed_bodies(content: bytes, message: str) -> None:
    with pytest.raises(MalformedEvent) as caught:
        parse_alertmanager({}, content)

    assert str(caught.value).startswith(message)
