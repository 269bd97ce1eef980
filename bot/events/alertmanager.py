"""Alertmanager webhook (payload version 4) → one ``ParsedEvent`` per notification.

Alertmanager sends no delivery id, and repeats a group's notification every
``repeat_interval`` while nothing changes. The dedupe key is a hash of what makes a
notification new: group key, group status, and each alert's fingerprint, status and
start time. Repeats of an unchanged group collapse into one event; an alert joining or
resolving, or the same alert firing again later (new ``startsAt``), is a new event.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, cast

from bot.events.fields import (
    kind_of,
    load_json_object,
    optional_int,
    optional_str,
    parse_time,
    require_list,
    require_str,
    stable_digest,
    string_map,
)
from bot.events.model import Alert, AlertNotification, MalformedEvent, ParsedEvent

SOURCE = "alertmanager"
SUPPORTED_VERSION = "4"
_STATUSES = ("firing", "resolved")


def parse_alertmanager(headers: Mapping[str, str], body: bytes) -> list[ParsedEvent]:
    where = "Alertmanager notification"
    payload = load_json_object(body, "Alertmanager webhook body")
    version = payload.get("version")
    if version is not None and str(version) != SUPPORTED_VERSION:
        raise MalformedEvent(
            f"{where} has version {version!r}; "
            f"only webhook payload version {SUPPORTED_VERSION!r} is understood"
        )
    status = _status(payload, where)
    group_key = require_str(payload, "groupKey", where)
    receiver = require_str(payload, "receiver", where, allow_empty=True)
    raw_alerts = require_list(payload, "alerts", where)
    alerts = tuple(_alert(raw, f"{where}: alerts[{index}]") for index, raw in enumerate(raw_alerts))
    notification = AlertNotification(
        status=status,
        receiver=receiver,
        group_key=group_key,
        group_labels=string_map(payload, "groupLabels", where),
        common_labels=string_map(payload, "commonLabels", where),
        common_annotations=string_map(payload, "commonAnnotations", where),
        external_url=optional_str(payload, "externalURL", where),
        truncated_alerts=optional_int(payload, "truncatedAlerts", where) or 0,
        alerts=alerts,
    )
    key = notification_dedupe_key(notification)
    return [
        ParsedEvent(
            source=SOURCE,
            event="alert",
            action=status,
            delivery_id=f"alertmanager-{key[:32]}",
            dedupe_key=key,
            payload=payload,
            domain=notification,
        )
    ]


def notification_dedupe_key(notification: AlertNotification) -> str:
    members = sorted(
        (
            alert.fingerprint or stable_digest(alert.labels),  # pre-0.19 Alertmanager sent no fingerprint
            alert.status,
            alert.starts_at.isoformat() if alert.starts_at else "",
        )
        for alert in notification.alerts
    )
    return stable_digest(notification.group_key, notification.status, members)


def _status(data: Mapping[str, Any], where: str) -> Literal["firing", "resolved"]:
    status = require_str(data, "status", where)
    if status not in _STATUSES:
        raise MalformedEvent(f"{where}: 'status' must be 'firing' or 'resolved', got {status!r}")
    return cast(Literal["firing", "resolved"], status)


def _alert(raw: object, where: str) -> Alert:
    if not isinstance(raw, dict):
        raise MalformedEvent(f"{where} must be an object, got {kind_of(raw)}")
    return Alert(
        status=_status(raw, where),
        labels=string_map(raw, "labels", where),
        annotations=string_map(raw, "annotations", where),
        starts_at=parse_time(raw.get("startsAt"), f"{where}: startsAt"),
        ends_at=parse_time(raw.get("endsAt"), f"{where}: endsAt"),
        fingerprint=optional_str(raw, "fingerprint", where),
        generator_url=optional_str(raw, "generatorURL", where),
    )
