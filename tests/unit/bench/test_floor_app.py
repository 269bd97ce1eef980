"""The intake benchmark's floor keeps the promise it is measured for: an event is answered 202
only once it is committed, and a body that is not signed or not JSON is refused and not stored."""

from __future__ import annotations

import hashlib
import hmac
import json
import sqlite3
from pathlib import Path

from fastapi.testclient import TestClient

from bench.floor_app import build_floor_app

SECRET = "floor-secret"


def signed(body: bytes, delivery: str, secret: str = SECRET) -> dict[str, str]:
    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Hub-Signature-256": signature, "X-GitHub-Delivery": delivery, "X-GitHub-Event": "ping"}


def stored(database: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(database) as connection:
        return list(connection.execute("SELECT delivery_id, payload FROM events ORDER BY id"))


def test_an_event_is_answered_after_it_is_stored_and_bad_ones_are_refused(tmp_path: Path) -> None:
    database = tmp_path / "floor.db"
    client = TestClient(build_floor_app(database, SECRET))
    body = json.dumps({"zen": "Keep it logically awesome."}).encode()

    answer = client.post("/webhooks/github", content=body, headers=signed(body, "d-1"))
    assert answer.status_code == 202
    assert answer.json()["events"] == [{"delivery_id": "d-1"}]
    assert stored(database) == [("d-1", body.decode())]

    forged = client.post("/webhooks/github", content=body, headers=signed(body, "d-2", secret="wrong"))
    assert forged.status_code == 401
    not_json = b"{not json"
    refused = client.post("/webhooks/github", content=not_json, headers=signed(not_json, "d-3"))
    assert refused.status_code == 400
    again = client.post("/webhooks/github", content=body, headers=signed(body, "d-1"))
    assert again.status_code == 202
    assert stored(database) == [("d-1", body.decode())]
