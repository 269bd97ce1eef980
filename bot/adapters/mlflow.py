"""MLflow's REST API, read-only: the model version and the run behind it, for the model gates
(:mod:`bot.updates.gates`). Plain HTTP with a timeout; ``MLFLOW_TRACKING_TOKEN`` (bearer) or
``MLFLOW_TRACKING_USERNAME``/``MLFLOW_TRACKING_PASSWORD`` (basic) authenticate as MLflow's own
clients do. Never raises: a failure is the sentence saying why.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import quote

import httpx

from bot.updates.gates import RunFacts

TIMEOUT_SECONDS = 10.0


def read_run_facts(
    tracking_url: str | None, name: str, version: str, *, timeout: float = TIMEOUT_SECONDS
) -> RunFacts | str:
    """The run's latest metrics and the tags of the model version ``name``/``version`` and its run."""
    if not tracking_url:
        return "GITOPS_BOT_MLFLOW_TRACKING_URL is not set"
    base = tracking_url.rstrip("/")
    try:
        with httpx.Client(base_url=base, timeout=timeout, auth=_auth(), headers=_headers()) as client:
            found = _get(client, "/api/2.0/mlflow/model-versions/get", {"name": name, "version": version})
            if isinstance(found, str):
                return found
            model_version = found.get("model_version") or {}
            run_id = model_version.get("run_id")
            if not run_id:
                return f"model version {name} {version} has no run behind it (run_id is empty)"
            run = _get(client, "/api/2.0/mlflow/runs/get", {"run_id": run_id})
            if isinstance(run, str):
                return run
    except httpx.HTTPError as exc:
        return f"cannot reach MLflow at {base}: {exc.__class__.__name__}: {exc}"
    data = (run.get("run") or {}).get("data") or {}
    info = (run.get("run") or {}).get("info") or {}
    return RunFacts(
        run_id=str(run_id),
        metrics={str(m["key"]): float(m["value"]) for m in data.get("metrics") or () if "key" in m},
        version_tags=_tags(model_version.get("tags")),
        run_tags=_tags(data.get("tags")),
        run_url=_run_url(base, info.get("experiment_id"), str(run_id)),
    )


def _get(client: httpx.Client, path: str, params: dict[str, str]) -> dict[str, Any] | str:
    answer = client.get(path, params=params)
    if answer.status_code == 404:
        return f"MLflow has no {path.rsplit('/', 2)[-2].replace('-', ' ')} for {params}"
    if answer.status_code >= 400:
        return f"MLflow answered {answer.status_code} to {path}: {answer.text[:300]}"
    try:
        body = answer.json()
    except ValueError:
        return f"MLflow's answer to {path} is not JSON"
    return body if isinstance(body, dict) else f"MLflow's answer to {path} is not an object"


def _tags(raw: object) -> dict[str, str]:
    items = raw if isinstance(raw, list) else []
    return {
        str(tag["key"]): str(tag.get("value", "")) for tag in items if isinstance(tag, dict) and "key" in tag
    }


def _run_url(base: str, experiment_id: object, run_id: str) -> str | None:
    if experiment_id is None:
        return None
    return f"{base}/#/experiments/{quote(str(experiment_id))}/runs/{quote(run_id)}"


def _auth() -> httpx.BasicAuth | None:
    user, password = os.environ.get("MLFLOW_TRACKING_USERNAME"), os.environ.get("MLFLOW_TRACKING_PASSWORD")
    return httpx.BasicAuth(user, password) if user and password else None


def _headers() -> dict[str, str]:
    token = os.environ.get("MLFLOW_TRACKING_TOKEN")
    return {"Authorization": f"Bearer {token}"} if token else {}


__all__ = ["read_run_facts"]
