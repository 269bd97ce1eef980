"""The read-only /api: strict parameters (400/404, never 500), cursor pages, /api/locks."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from bot.storage.models import Lock
from bot.storage.types import utcnow
from bot.terraform.locks import LockKey
from tests.integration.intake import payloads

LISTS = ["/api/events", "/api/actions", "/api/deployments", "/api/analyses", "/api/locks"]


@pytest.mark.parametrize(
    "path",
    [
        "/api/analyses/9223372036854775808",  # one past int64
        "/api/analyses/" + "9" * 40,
        "/api/analyses/0",
        "/api/analyses/-1",
        "/api/analyses/abc",
        "/api/analyses/9223372036854775807",
        "/api/analyses/2147483648",  # ids are 32-bit INTEGER columns on PostgreSQL
    ],
)
def test_an_analysis_id_that_cannot_exist_is_404(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404, response.text
    assert response.json()["detail"].startswith("no analysis")


@pytest.mark.parametrize("path", LISTS)
@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("limit=0", "limit must be a whole number from 1 to 500"),
        ("limit=501", "limit must be a whole number from 1 to 500"),
        ("limit=abc", "limit must be a whole number from 1 to 500"),
        ("limit=" + "9" * 40, "limit must be a whole number from 1 to 500"),
        ("cursor=not-a-cursor", "cursor is not one this API gave out"),
        ("cursor=WyJ4IiwxXQ", "cursor is not one this API gave out"),  # ["x",1]
        ("cursor=WyIyMDI2LTAxLTAxVDAwOjAwOjAwKzAwOjAwIiw5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OV0", "cursor is not"),
    ],
)
def test_bad_list_parameters_are_400_with_the_reason(
    client: TestClient, path: str, query: str, reason: str
) -> None:
    response = client.get(f"{path}?{query}")
    assert response.status_code == 400, response.text
    assert reason in response.json()["detail"]


def _follow(client: TestClient, path: str) -> list[list[dict]]:
    pages = []
    while path:
        response = client.get(path)
        assert response.status_code == 200, response.text
        pages.append(response.json())
        link = response.headers.get("link")
        path = link[1 : link.index(">")] if link else ""
        if link:
            assert link.endswith('; rel="next"')
    return pages


def test_events_are_paged_newest_first_by_cursor(client: TestClient) -> None:
    for n in range(5):
        body, headers = payloads.github_request(payloads.pull_request(number=n), delivery=f"p-{n}")
        assert client.post("/webhooks/github", content=body, headers=headers).status_code == 202
    pages = _follow(client, "/api/events?limit=2")
    assert [[event["delivery_id"] for event in page] for page in pages] == [
        ["p-4", "p-3"],
        ["p-2", "p-1"],
        ["p-0"],
    ]
    assert "link" not in client.get("/api/events?limit=5").headers


def test_locks_list_who_holds_what_newest_first(client: TestClient) -> None:
    locks = client.app.state.services.locks
    locks.acquire(
        LockKey("acme/gitops", "terraform/staging"), pr_number=7, owner="alice", pr_url="https://x/pull/7"
    )
    locks.acquire(LockKey("acme/gitops", "terraform/prod", "prod", "serving-prod"), pr_number=8, owner="bob")
    locks.acquire(LockKey("acme/infra", "net"), pr_number=9, owner="carol", pr_url="https://x/pull/9")
    database = client.app.state.services.database
    with database.transaction() as session:  # taken a minute, an hour and a day ago
        for repo_dir, age in [("terraform/staging", 86400), ("terraform/prod", 3600), ("net", 60)]:
            session.execute(
                update(Lock).where(Lock.dir == repo_dir).values(created_at=utcnow() - timedelta(seconds=age))
            )

    pages = _follow(client, "/api/locks?limit=2")
    assert [len(page) for page in pages] == [2, 1]
    listed = [lock for page in pages for lock in page]
    assert [lock["dir"] for lock in listed] == ["net", "terraform/prod", "terraform/staging"]
    newest, prod, oldest = listed
    assert newest["repo"] == "acme/infra" and newest["workspace"] == "default" and newest["project"] is None
    assert newest["pull_request"] == {"number": 9, "url": "https://x/pull/9"}
    assert newest["holder"] == "carol"
    assert 60 <= newest["age_seconds"] < 120
    assert prod["project"] == "serving-prod" and prod["workspace"] == "prod"
    assert prod["pull_request"] == {"number": 8, "url": None}
    assert 86400 <= oldest["age_seconds"] < 86460
    assert oldest["taken_at"].startswith((utcnow() - timedelta(days=1)).date().isoformat())
    assert isinstance(newest["id"], int)


def test_locks_empty(client: TestClient) -> None:
    response = client.get("/api/locks")
    assert response.status_code == 200 and response.json() == []
