"""Database unreachable, wrong URL or not migrated: webhooks, /api and / answer 503 saying why."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from bot.app import create_app
from bot.settings import Settings
from tests.integration.intake import payloads
from tests.integration.intake.conftest import SECRETS, recording_router
from tests.support.databases import POSTGRES_SERVER_URL, postgres_schema_url

# Nothing listens on port 1; connecting is refused at once.
UNREACHABLE_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:1/test?connect_timeout=3"


@contextmanager
def _unmigrated_sqlite(tmp_path: Path) -> Iterator[str]:
    yield f"sqlite:///{tmp_path / 'never-migrated.db'}"


@contextmanager
def _unmigrated_postgres(_tmp_path: Path) -> Iterator[str]:
    with postgres_schema_url() as url:
        yield url


@contextmanager
def _unreachable(_tmp_path: Path) -> Iterator[str]:
    yield UNREACHABLE_POSTGRES


@contextmanager
def _wrong_database_name(_tmp_path: Path) -> Iterator[str]:
    yield POSTGRES_SERVER_URL.rsplit("/", 1)[0] + "/no_such_database_for_gitops_bot"


CASES = {
    "unmigrated-sqlite": (_unmigrated_sqlite, "gitops-bot migrate"),
    "unmigrated-postgres": (_unmigrated_postgres, "gitops-bot migrate"),
    "unreachable": (_unreachable, "database unreachable"),
    "wrong-database-name": (_wrong_database_name, "database unreachable"),
}


def _requests(client: TestClient) -> dict[str, object]:
    body, headers = payloads.github_request(payloads.pull_request())
    slack_body, slack_headers = payloads.slack_command_request()
    return {
        "POST /webhooks/github": client.post("/webhooks/github", content=body, headers=headers),
        "POST /slack/commands": client.post("/slack/commands", content=slack_body, headers=slack_headers),
        "GET /api/events": client.get("/api/events"),
        "GET /api/locks": client.get("/api/locks"),
        "GET /api/analyses/1": client.get("/api/analyses/1"),
    }


@pytest.mark.parametrize(
    "case",
    [
        "unmigrated-sqlite",
        pytest.param("unmigrated-postgres", marks=pytest.mark.postgres),
        pytest.param("unreachable", marks=pytest.mark.postgres),
        pytest.param("wrong-database-name", marks=pytest.mark.postgres),
    ],
)
def test_every_route_that_needs_the_database_answers_503_with_the_reason(tmp_path: Path, case: str) -> None:
    make_url, reason = CASES[case]
    with make_url(tmp_path) as url:
        settings = Settings(_env_file=None, database_url=url, **SECRETS)
        with TestClient(
            create_app(settings, router=recording_router()), raise_server_exceptions=False
        ) as client:
            for name, response in _requests(client).items():
                assert response.status_code == 503, (name, response.text)
                assert reason in response.json()["error"], name
            page = client.get("/")
            assert page.status_code == 503 and reason in page.text
            assert client.get("/readyz").status_code == 503
            assert client.get("/healthz").status_code == 200
            assert 'outcome="database_unavailable"' in client.get("/metrics").text
