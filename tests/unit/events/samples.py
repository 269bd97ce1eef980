"""Access to the sample webhook bodies in ``tests/payloads`` (also used by the README)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

PAYLOADS = Path(__file__).resolve().parents[2] / "payloads"


def raw(relative: str) -> bytes:
    return (PAYLOADS / relative).read_bytes()


def data(relative: str) -> Any:
    return json.loads(raw(relative))


def body(value: Any) -> bytes:
    return json.dumps(value).encode("utf-8")


def form(relative: str) -> dict[str, str]:
    return dict(parse_qsl((PAYLOADS / relative).read_text(encoding="utf-8"), keep_blank_values=True))


def github_headers(event: str, delivery: str = "72d3162e-cc78-11e3-81ab-4c9367dc0958") -> dict[str, str]:
    return {
        "x-github-event": event,
        "x-github-delivery": delivery,
        "content-type": "application/json",
        "x-hub-signature-256": "sha256=verified-by-the-route",
    }


def gitlab_headers(hook: str, uuid: str = "4d0fb6fa-2a4c-4bb7-8b61-6f0a9c7f0a51") -> dict[str, str]:
    """The headers GitLab sends with a project webhook (the token is checked by the route)."""
    return {
        "X-Gitlab-Event": hook,
        "X-Gitlab-Event-UUID": uuid,
        "Idempotency-Key": f"idem-{uuid}",
        "X-Gitlab-Instance": "https://gitlab.example.com",
        "Content-Type": "application/json",
    }
