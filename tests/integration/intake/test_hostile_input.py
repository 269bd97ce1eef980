"""Signed but hostile or odd input: a clear 4xx or a stored event, never a 500, on SQLite and PostgreSQL."""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from bot.intake.signatures import mlflow_signature, slack_signature
from bot.storage.models import Event, Job
from tests.integration.intake import payloads

PAYLOADS = Path(__file__).resolve().parents[2] / "payloads"
DEEP = b"[" * 100_000 + b"]" * 100_000
HUGE_INTEGER = b'{"action": "opened", "n": ' + b"7" * 5000 + b"}"


def _counts(client: TestClient) -> tuple[int, int]:
    with client.app.state.services.database.sessions() as session:
        events = session.execute(select(func.count()).select_from(Event)).scalar_one()
        jobs = session.execute(select(func.count()).select_from(Job)).scalar_one()
    return events, jobs


def _stored_payloads(client: TestClient) -> list[dict]:
    with client.app.state.services.database.sessions() as session:
        return [row.payload for row in session.execute(select(Event).order_by(Event.id)).scalars()]


def _github(client: TestClient, body: bytes, **kwargs: str):
    body, headers = payloads.github_request(body, **kwargs)
    return client.post("/webhooks/github", content=body, headers=headers)


def _registry(client: TestClient, body: bytes):
    headers = {"Authorization": "Bearer reg-token", "Content-Type": "application/json"}
    return client.post("/webhooks/registry", content=body, headers=headers)


def _alertmanager(client: TestClient, body: bytes):
    headers = {"Authorization": "Bearer reg-token", "Content-Type": "application/json"}
    return client.post("/webhooks/alertmanager", content=body, headers=headers)


def _mlflow(client: TestClient, body: bytes, stamp: str | None = None):
    stamp = stamp or str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "X-MLflow-Delivery-Id": "m-hostile",
        "X-MLflow-Timestamp": stamp,
        "X-MLflow-Signature": mlflow_signature("mlflow-secret", "m-hostile", stamp, body),
    }
    return client.post("/webhooks/mlflow", content=body, headers=headers)


def _slack(client: TestClient, path: str, body: bytes, stamp: str | None = None):
    stamp = stamp or str(int(time.time()))
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": slack_signature("slack-secret", stamp, body),
    }
    return client.post(path, content=body, headers=headers)


def _slack_interaction(client: TestClient, document: bytes):
    return _slack(client, "/slack/interactions", urlencode({"payload": document.decode()}).encode())


JSON_ROUTES: dict[str, Callable[[TestClient, bytes], object]] = {
    "github": _github,
    "registry": _registry,
    "mlflow": _mlflow,
    "alertmanager": _alertmanager,
    "slack interaction payload": _slack_interaction,
}


@pytest.mark.parametrize("route", list(JSON_ROUTES))
@pytest.mark.parametrize(
    ("document", "reason"),
    [(DEEP, "nested deeper than 100 levels"), (HUGE_INTEGER, "integer literal longer than 4300 digits")],
    ids=["deep", "huge-integer"],
)
def test_unreadable_json_is_400_with_the_reason_on_every_route(
    client: TestClient, route: str, document: bytes, reason: str
) -> None:
    response = JSON_ROUTES[route](client, document)
    assert response.status_code == 400, response.text
    assert reason in response.json()["error"]
    assert _counts(client) == (0, 0)


# -- what PostgreSQL cannot store is stored normalised, the same on SQLite ---------------


@pytest.mark.parametrize(
    ("raw_title", "stored_title"),
    [
        (r'"a\u0000b"', "a\\u0000b"),
        (r'"\ud800 lone"', "\\ud800 lone"),
        (r'"pair \ud83d\ude80 kept"', "pair \U0001f680 kept"),
    ],
    ids=["nul", "lone-surrogate", "surrogate-pair"],
)
def test_unstorable_characters_are_stored_as_their_escapes(
    client: TestClient, raw_title: str, stored_title: str
) -> None:
    text = json.dumps(payloads.pull_request()).replace('"Bump chat-llm to 1.4.0"', raw_title)
    response = _github(client, text.encode())
    assert response.status_code == 202, response.text
    assert _counts(client) == (1, 1)
    assert _stored_payloads(client)[0]["pull_request"]["title"] == stored_title


def test_nul_in_a_key_and_in_an_ignored_event_is_stored(client: TestClient) -> None:
    star = {"action": "created", "repository": {"full_name": "acme/gitops"}, "k\u0000": "v\u0000"}
    response = _github(client, json.dumps(star).encode(), event="star")
    assert response.status_code == 202, response.text
    assert _stored_payloads(client)[0]["k\\u0000"] == "v\\u0000"


def test_nan_infinity_and_overflowing_numbers_are_stored_as_their_text(client: TestClient) -> None:
    text = json.dumps(payloads.pull_request())[:-1] + ', "a": NaN, "b": -Infinity, "c": 1e999, "d": 2.5}'
    response = _github(client, text.encode())
    assert response.status_code == 202, response.text
    stored = _stored_payloads(client)[0]
    assert (stored["a"], stored["b"], stored["c"], stored["d"]) == ("NaN", "-Infinity", "1e999", 2.5)


def test_nan_where_a_parser_needs_a_number_is_400_naming_the_field(client: TestClient) -> None:
    text = json.dumps(payloads.pull_request()).replace('"number": 7, "state"', '"number": NaN, "state"')
    response = _github(client, text.encode())
    assert response.status_code == 400
    assert "'number' must be an integer, got a string" in response.json()["error"]


def test_slack_command_with_nul_in_its_text_is_stored(client: TestClient) -> None:
    body, headers = payloads.slack_command_request("status\x00 chat-llm")
    response = client.post("/slack/commands", content=body, headers=headers)
    assert response.status_code == 200, response.text
    assert _stored_payloads(client)[0]["text"] == "status\\u0000 chat-llm"


@pytest.mark.parametrize(
    ("kwargs", "action", "reason"),
    [
        ({"event": "e" * 65}, "opened", "X-GitHub-Event header) is 65 characters long; at most 64"),
        ({"delivery": "d" * 256}, "opened", "X-GitHub-Delivery header) is 256 characters long; at most 255"),
        ({}, "a" * 65, "'action' field is 65 characters long; at most 64"),
    ],
    ids=["event", "delivery", "action"],
)
def test_identity_fields_too_long_for_their_column_are_400(
    client: TestClient, kwargs: dict[str, str], action: str, reason: str
) -> None:
    response = _github(client, json.dumps(payloads.pull_request(action=action)).encode(), **kwargs)
    assert response.status_code == 400, response.text
    assert reason in response.json()["error"]
    assert _counts(client) == (0, 0)


def test_action_with_nul_is_400(client: TestClient) -> None:
    response = _github(client, json.dumps(payloads.pull_request(action="open\u0000ed")).encode())
    assert response.status_code == 400
    assert "'action' field holds a NUL character" in response.json()["error"]


# -- timestamps of hundreds of digits ---------------------------------------------------


def test_mlflow_timestamp_of_hundreds_of_digits_is_401(client: TestClient) -> None:
    body, _headers = payloads.mlflow_request()
    response = _mlflow(client, body, stamp="9" * 400)
    assert response.status_code == 401
    assert "Unix time" in response.json()["error"]
    assert _counts(client) == (0, 0)


def test_slack_timestamp_of_hundreds_of_digits_is_401(client: TestClient) -> None:
    body, _headers = payloads.slack_command_request()
    response = _slack(client, "/slack/commands", body, stamp="9" * 400)
    assert response.status_code == 401
    assert _counts(client) == (0, 0)


# -- a PR comment replayed under a fresh delivery id ---------------------------------------


def _comment(**changes: object) -> dict:
    comment = json.loads((PAYLOADS / "github/issue_comment.created.json").read_text())
    comment = copy.deepcopy(comment)
    for key, value in changes.items():
        if key == "action":
            comment["action"] = value
        else:
            comment["comment"][key] = value
    return comment


def test_replayed_comment_under_a_fresh_delivery_runs_once(client: TestClient) -> None:
    first = _github(client, json.dumps(_comment()).encode(), event="issue_comment", delivery="c-1")
    assert first.status_code == 202 and first.json()["status"] == "accepted"
    replay = _github(client, json.dumps(_comment()).encode(), event="issue_comment", delivery="c-2")
    assert replay.status_code == 200, replay.text
    assert replay.json()["status"] == "duplicate"
    assert _counts(client) == (1, 1)


def test_each_edit_of_a_comment_is_new_and_a_replayed_edit_is_not(client: TestClient) -> None:
    created = _comment()
    edit_1 = _comment(action="edited", updated_at="2024-05-02T10:21:00Z")
    edit_2 = _comment(action="edited", updated_at="2024-05-02T10:22:00Z")
    answers = [
        _github(client, json.dumps(document).encode(), event="issue_comment", delivery=f"e-{n}").json()[
            "status"
        ]
        for n, document in enumerate([created, edit_1, edit_1, edit_2])
    ]
    assert answers == ["accepted", "ignored", "duplicate", "ignored"]
    assert _counts(client) == (3, 1)


def test_a_new_comment_with_the_same_text_is_not_a_duplicate(client: TestClient) -> None:
    _github(client, json.dumps(_comment()).encode(), event="issue_comment", delivery="n-1")
    another = _github(
        client, json.dumps(_comment(id=2090011224)).encode(), event="issue_comment", delivery="n-2"
    )
    assert another.status_code == 202
    assert _counts(client) == (2, 2)
