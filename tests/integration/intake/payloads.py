"""Small payloads in the senders' documented shapes, for the HTTP tests."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from bot.intake.signatures import github_signature, mlflow_signature, slack_signature


def pull_request(action: str = "opened", number: int = 7) -> dict[str, Any]:
    repo = {
        "id": 1,
        "name": "gitops",
        "full_name": "acme/gitops",
        "private": True,
        "owner": {"login": "acme", "id": 10, "type": "Organization"},
        "default_branch": "main",
        "html_url": "https://github.com/acme/gitops",
    }
    return {
        "action": action,
        "number": number,
        "pull_request": {
            "id": 100 + number,
            "number": number,
            "state": "open",
            "title": "Bump chat-llm to 1.4.0",
            "user": {"login": "alice", "id": 11},
            "html_url": f"https://github.com/acme/gitops/pull/{number}",
            "url": f"https://api.github.com/repos/acme/gitops/pulls/{number}",
            "draft": False,
            "merged": False,
            "merge_commit_sha": None,
            "labels": [],
            "head": {"ref": "feature", "sha": "a" * 40, "repo": repo, "label": "acme:feature"},
            "base": {"ref": "main", "sha": "b" * 40, "repo": repo, "label": "acme:main"},
        },
        "repository": repo,
        "sender": {"login": "alice", "id": 11},
        "installation": {"id": 42},
    }


def github_request(
    payload: dict[str, Any] | bytes,
    event: str = "pull_request",
    delivery: str | None = None,
    secret: str = "gh-secret",
) -> tuple[bytes, dict[str, str]]:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return body, {
        "Content-Type": "application/json",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
        "X-Hub-Signature-256": github_signature(secret, body),
    }


def distribution_envelope() -> dict[str, Any]:
    """A CNCF distribution notification with a manifest push, a blob push and a pull."""
    base = {
        "timestamp": "2026-11-28T10:00:00Z",
        "request": {
            "id": "r1",
            "addr": "10.0.0.5:4242",
            "host": "registry.example.com",
            "method": "PUT",
            "useragent": "skopeo",
        },
        "actor": {"name": "ci"},
        "source": {"addr": "registry-0:5000", "instanceID": "i-1"},
    }
    manifest = "application/vnd.oci.image.manifest.v1+json"
    return {
        "events": [
            {
                **base,
                "id": "e-push",
                "action": "push",
                "target": {
                    "mediaType": manifest,
                    "size": 1234,
                    "length": 1234,
                    "digest": "sha256:" + "1" * 64,
                    "repository": "serving/chat-llm",
                    "url": "https://registry.example.com/v2/serving/chat-llm/manifests/sha256:" + "1" * 64,
                    "tag": "1.4.0",
                },
            },
            {
                **base,
                "id": "e-blob",
                "action": "push",
                "target": {
                    "mediaType": "application/octet-stream",
                    "size": 99,
                    "length": 99,
                    "digest": "sha256:" + "2" * 64,
                    "repository": "serving/chat-llm",
                    "url": "https://registry.example.com/v2/serving/chat-llm/blobs/sha256:" + "2" * 64,
                },
            },
            {
                **base,
                "id": "e-pull",
                "action": "pull",
                "target": {
                    "mediaType": manifest,
                    "size": 1234,
                    "length": 1234,
                    "digest": "sha256:" + "1" * 64,
                    "repository": "serving/chat-llm",
                    "url": "https://registry.example.com/v2/serving/chat-llm/manifests/sha256:" + "1" * 64,
                    "tag": "1.4.0",
                },
            },
        ]
    }


def mlflow_request(
    secret: str = "mlflow-secret", *, timestamp: int | None = None, delivery: str | None = None
) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(
        {
            "entity": "model_version",
            "action": "created",
            "timestamp": int(time.time() * 1000),
            "data": {
                "name": "chat-llm",
                "version": "5",
                "source": "models:/m-123",
                "run_id": "abc",
                "tags": {},
                "description": None,
            },
        }
    ).encode()
    delivery = delivery or str(uuid.uuid4())
    stamp = str(timestamp if timestamp is not None else int(time.time()))
    return body, {
        "Content-Type": "application/json",
        "X-MLflow-Delivery-Id": delivery,
        "X-MLflow-Timestamp": stamp,
        "X-MLflow-Signature": mlflow_signature(secret, delivery, stamp, body),
    }


def alertmanager_notification(status: str = "firing") -> dict[str, Any]:
    return {
        "version": "4",
        "groupKey": '{}:{alertname="CanaryErrorRate"}',
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "gitops-bot",
        "groupLabels": {"alertname": "CanaryErrorRate"},
        "commonLabels": {"alertname": "CanaryErrorRate", "deployment": "chat-llm-staging"},
        "commonAnnotations": {"summary": "5xx above 1%"},
        "externalURL": "http://alertmanager:9093",
        "alerts": [
            {
                "status": status,
                "labels": {"alertname": "CanaryErrorRate", "deployment": "chat-llm-staging"},
                "annotations": {"summary": "5xx above 1%"},
                "startsAt": "2026-11-28T10:00:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://prometheus:9090/graph",
                "fingerprint": "c0ffee",
            }
        ],
    }


def slack_command_request(
    text: str = "status",
    *,
    trigger_id: str | None = None,
    secret: str = "slack-secret",
    timestamp: int | None = None,
) -> tuple[bytes, dict[str, str]]:
    from urllib.parse import urlencode

    body = urlencode(
        {
            "token": "legacy",
            "team_id": "T1",
            "team_domain": "acme",
            "channel_id": "C1",
            "channel_name": "ml-deploys",
            "user_id": "U2CERLKJA",
            "user_name": "alice",
            "command": "/gitops",
            "text": text,
            "api_app_id": "A1",
            "response_url": "https://hooks.slack.com/commands/T1/1/abc",
            "trigger_id": trigger_id or f"{uuid.uuid4().int % 10**12}.1.abc",
        }
    ).encode()
    stamp = str(timestamp if timestamp is not None else int(time.time()))
    return body, {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": slack_signature(secret, stamp, body),
    }
