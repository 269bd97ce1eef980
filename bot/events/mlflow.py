"""MLflow model-registry webhooks (MLflow 3.x) → ``ParsedEvent``.

MLflow posts ``{"entity", "action", "timestamp", "data"[, "workspace"]}`` with the
headers ``X-MLflow-Delivery-Id``, ``X-MLflow-Timestamp`` and (with a secret)
``X-MLflow-Signature``. Retries of one delivery reuse its delivery id, which is
therefore the dedupe key. Acted on: ``model_version.created`` and
``model_version_alias.created``; every other entity/action is stored as ignored.
"""

from __future__ import annotations

from collections.abc import Mapping

from bot.events.fields import (
    load_json_object,
    lower_keys,
    optional_str,
    parse_time,
    require_object,
    require_str,
    require_version_str,
    string_map,
)
from bot.events.model import MalformedEvent, ModelVersionAliasSet, ModelVersionCreated, ParsedEvent

SOURCE = "mlflow"
DELIVERY_ID_HEADER = "x-mlflow-delivery-id"


def parse_mlflow(headers: Mapping[str, str], body: bytes) -> list[ParsedEvent]:
    lowered = lower_keys(headers)
    delivery_id = lowered.get(DELIVERY_ID_HEADER, "").strip()
    if not delivery_id:
        raise MalformedEvent("MLflow request has no X-MLflow-Delivery-Id header")
    payload = load_json_object(body, "MLflow webhook body")
    where = "MLflow webhook"
    entity = require_str(payload, "entity", where)
    action = require_str(payload, "action", where)
    workspace = optional_str(payload, "workspace", where)
    timestamp = parse_time(payload.get("timestamp"), f"{where}: timestamp")
    data_where = f"MLflow {entity}.{action} event"

    domain: ModelVersionCreated | ModelVersionAliasSet | None = None
    if (entity, action) == ("model_version", "created"):
        data = require_object(payload, "data", data_where)
        domain = ModelVersionCreated(
            name=require_str(data, "name", f"{data_where}: data"),
            version=require_version_str(data, "version", f"{data_where}: data"),
            source=optional_str(data, "source", f"{data_where}: data"),
            run_id=optional_str(data, "run_id", f"{data_where}: data"),
            tags=string_map(data, "tags", f"{data_where}: data"),
            description=optional_str(data, "description", f"{data_where}: data"),
            workspace=workspace,
            timestamp=timestamp,
        )
    elif (entity, action) == ("model_version_alias", "created"):
        data = require_object(payload, "data", data_where)
        domain = ModelVersionAliasSet(
            name=require_str(data, "name", f"{data_where}: data"),
            alias=require_str(data, "alias", f"{data_where}: data"),
            version=require_version_str(data, "version", f"{data_where}: data"),
            workspace=workspace,
            timestamp=timestamp,
        )
    return [
        ParsedEvent(
            source=SOURCE,
            event=entity,
            action=action,
            delivery_id=delivery_id,
            dedupe_key=delivery_id,
            payload=payload,
            domain=domain,
            ignored_reason=None if domain else f"MLflow '{entity}.{action}' events are not acted on",
        )
    ]
