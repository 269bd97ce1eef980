"""``POST /webhooks/gitlab`` over HTTP, on SQLite and PostgreSQL: GitLab's token, its delivery ids, the
same answers as every webhook (202 stored and queued, 200 seen before, 401, 400, 413, 503)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from bot.storage.models import Event, Job
from tests.unit.events.samples import gitlab_headers, raw

SECRET = "gl-secret"  # the intake conftest's


def _headers(hook: str = "Merge Request Hook", uuid: str = "u-1", **extra: str) -> dict[str, str]:
    return {**gitlab_headers(hook, uuid=uuid), "X-Gitlab-Token": SECRET, **extra}


def _counts(client: TestClient) -> tuple[int, int]:
    with client.app.state.services.database.sessions() as session:
        events = session.execute(select(func.count()).select_from(Event)).scalar_one()
        jobs = session.execute(select(func.count()).select_from(Job)).scalar_one()
    return events, jobs


def test_a_merge_request_hook_is_stored_and_queued_once(client: TestClient) -> None:
    body = raw("gitlab/merge_request.open.json")
    response = client.post("/webhooks/gitlab", content=body, headers=_headers())
    assert response.status_code == 202, response.text
    assert response.json()["events"][0]["status"] == "queued"
    assert _counts(client) == (1, 1)
    # GitLab retries with the same Idempotency-Key and a new event UUID: nothing new happens.
    again = client.post(
        "/webhooks/gitlab", content=body, headers=_headers(uuid="u-2", **{"Idempotency-Key": "idem-u-1"})
    )
    assert again.status_code == 200 and _counts(client) == (1, 1)


def test_a_note_is_a_comment_routed_to_the_github_handlers(client: TestClient) -> None:
    response = client.post(
        "/webhooks/gitlab", content=raw("gitlab/note.merge_request.json"), headers=_headers("Note Hook")
    )
    assert response.status_code == 202
    (event,) = response.json()["events"]
    assert (event["source"], event["event"], event["action"]) == ("gitlab", "issue_comment", "created")


def test_hooks_the_bot_does_not_act_on_are_stored_as_ignored(client: TestClient) -> None:
    response = client.post(
        "/webhooks/gitlab", content=raw("gitlab/note.issue.json"), headers=_headers("Note Hook")
    )
    assert response.status_code == 202
    event = response.json()["events"][0]
    assert event["status"] == "ignored" and "not on a merge request" in event["reason"]
    assert _counts(client) == (1, 0)


@pytest.mark.parametrize(
    ("token", "status", "message"),
    [(None, 401, "missing X-Gitlab-Token"), ("wrong", 401, "not this webhook's secret token")],
)
def test_the_token_is_required(client: TestClient, token: str | None, status: int, message: str) -> None:
    headers = gitlab_headers("Merge Request Hook")
    if token is not None:
        headers["X-Gitlab-Token"] = token
    response = client.post("/webhooks/gitlab", content=raw("gitlab/merge_request.open.json"), headers=headers)
    assert response.status_code == status and message in response.json()["error"]
    assert _counts(client) == (0, 0)


@pytest.mark.parametrize(
    ("body", "headers", "message"),
    [
        (b"{not json", _headers(), "JSON"),
        (b"{}", _headers(), "object_attributes"),
        (b"{}", {"X-Gitlab-Token": SECRET, "X-Gitlab-Event": "Push Hook"}, "X-Gitlab-Event-UUID"),
    ],
)
def test_malformed_is_400_and_stores_nothing(
    client: TestClient, body: bytes, headers: dict, message: str
) -> None:
    response = client.post("/webhooks/gitlab", content=body, headers=headers)
    assert response.status_code == 400 and message in response.json()["error"]
    assert _counts(client) == (0, 0)


def test_over_the_limit_is_413(make_client) -> None:
    client = make_client(max_body_bytes=1024)
    response = client.post("/webhooks/gitlab", content=b" " * 2048, headers=_headers())
    assert response.status_code == 413
