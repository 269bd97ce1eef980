from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from bot.app import create_app
from bot.settings import Settings
from tests.integration.intake.conftest import SECRETS, recording_router


@pytest.fixture
def client(database_url: str) -> Iterator[TestClient]:
    settings = Settings(_env_file=None, database_url=database_url, **SECRETS)
    with TestClient(create_app(settings, router=recording_router())) as client:
        yield client
