from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from bot.app import create_app
from bot.routing import Router
from bot.settings import Settings

SECRETS = {
    "github_webhook_secret": "gh-secret",
    "gitlab_webhook_secret": "gl-secret",
    "registry_token": "reg-token",
    "mlflow_webhook_secret": "mlflow-secret",
    "slack_signing_secret": "slack-secret",
}


def recording_router() -> Router:
    """Handlers for the kinds the tests send; they are never run (no workers here)."""
    router = Router()
    for source, event, action in [
        ("github", "pull_request", None),
        ("github", "issue_comment", "created"),
        ("registry", "image", "pushed"),
        ("mlflow", "model_version", "created"),
        ("alertmanager", "alert", None),
        ("slack", "command", None),
        ("slack", "interaction", None),
    ]:
        router.register(source, event, action, name=f"test.{source}.{event}")(lambda ctx: None)
    return router


@pytest.fixture
def make_client(database_url: str) -> Iterator:
    clients: list[TestClient] = []

    def build(**overrides: object) -> TestClient:
        values = {**SECRETS, **overrides}
        settings = Settings(_env_file=None, database_url=database_url, **values)
        client = TestClient(create_app(settings, router=recording_router()))
        client.__enter__()
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client) -> TestClient:
    return make_client()
