"""What the in-process benches share: the GitHub stand-in over real git, and the bot set up against it.

``bench/update.py``, ``bench/canary.py`` and ``bench/plan.py`` run the whole bot in their own
process, as ``gitops-bot serve`` runs it, against :class:`GitHubStandIn` (real bare repositories
behind a GitHub-shaped API on loopback). They all need the same pieces:

* :func:`standin` -- the stand-in with the bot's token and one repository holding ``files``;
* :func:`migrated_database` -- a fresh SQLite file, migrated;
* :func:`bot_settings` -- :class:`Settings` pointing the bot at the stand-in, its git remotes
  and a scratch data directory, with no ``.env`` read and no write throttling;
* :func:`serving` -- the bot serving (HTTP, queue, workers) with the stand-in's webhooks
  delivered to it;
* :func:`post_registry`, :func:`wait_until` and :func:`percentile` for the measurements.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from httpx import Response

from bot.app import create_app
from bot.settings import Settings
from bot.storage.db import migrate
from tests.support.botenv import REGISTRY_TOKEN, TOKEN, WEBHOOK_SECRET
from tests.support.github_standin import GitHubStandIn

REPO_ROOT = Path(__file__).resolve().parent.parent
WEBHOOK_PATH = "/webhooks/github"


@contextmanager
def standin(root: Path, repo: str, files: Mapping[str, str]) -> Iterator[GitHubStandIn]:
    """The stand-in under ``root/github``, the bot's token known, ``repo`` created with ``files``."""
    with GitHubStandIn(root / "github") as github:
        github.add_token(TOKEN, login="gitops-bot")
        github.create_repo(repo, dict(files))
        yield github


def migrated_database(root: Path, name: str = "bot.db") -> str:
    """A fresh SQLite file under ``root``, migrated; returns its URL."""
    database_url = f"sqlite:///{root / name}"
    migrate(database_url)
    return database_url


def bot_settings(root: Path, github: GitHubStandIn, database_url: str, **overrides: Any) -> Settings:
    """The bot's settings against the stand-in; ``overrides`` adds or replaces any setting."""
    values: dict[str, Any] = {
        "database_url": database_url,
        "github_api_url": github.base_url,
        "github_token": TOKEN,
        "github_webhook_secret": WEBHOOK_SECRET,
        # The stand-in has no secondary rate limit: pausing between writes would only add latency.
        "github_seconds_between_writes": 0.0,
        "git_url_template": f"{(root / 'github' / 'repos').as_uri()}/{{repo}}.git",
        "data_dir": root / "data",
    }
    return Settings(_env_file=None, **{**values, **overrides})


@contextmanager
def serving(settings: Settings, github: GitHubStandIn) -> Iterator[TestClient]:
    """The whole bot serving with its workers; the stand-in's webhooks go to it until the end."""
    with TestClient(create_app(settings, run_workers=True)) as client:
        github.set_webhook(WEBHOOK_PATH, WEBHOOK_SECRET, client=client)
        try:
            yield client
        finally:
            github.set_webhook(None)


def post_registry(client: TestClient, body: Mapping[str, Any]) -> Response:
    """A registry webhook, authenticated as the registry sends it."""
    return client.post("/webhooks/registry", json=body, headers={"Authorization": f"Bearer {REGISTRY_TOKEN}"})


def wait_until(predicate: Callable[[], bool], timeout: float, step: float = 0.01) -> bool:
    """Poll ``predicate`` every ``step`` seconds; False when ``timeout`` passed first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return False


def percentile(values: Sequence[float], fraction: float) -> float:
    """The value at ``fraction`` of the sorted values (index rounded), as these benches always reported."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]
