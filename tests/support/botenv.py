"""The bot under test, whole: real app, real handlers, real database and git, the GitHub stand-in.

``BotEnv`` wires a GitHub stand-in (backed by bare git repositories), a migrated database, the
bot's ``Services`` built from ``Settings`` exactly as ``serve`` builds them (the forge pointed at the
stand-in's ``base_url``, git at its ``file://`` repositories), the FastAPI app (a ``TestClient``),
and the stand-in's signed webhooks delivered to that app. Jobs run when a test says so:
``run_jobs()`` claims and runs queued jobs in this process until none is due, so a test reads
as the story it checks (event → jobs → pull request → merge webhook → jobs …).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from bot.app import create_app
from bot.routing import Router
from bot.services import Services, build_services
from bot.settings import Settings
from bot.worker import WorkerPool
from tests.support.github_standin import GitHubStandIn
from tests.support.gitlab_standin import GitLabStandIn

TOKEN = "ghp_botenv_token"
WEBHOOK_SECRET = "gh-webhook-secret"
REGISTRY_TOKEN = "registry-token"
MLFLOW_SECRET = "mlflow-secret"
SLACK_SECRET = "slack-signing-secret"
BOT_LOGIN = "gitops-bot"
GITLAB_TOKEN = "glpat-botenv-token-0123456789"
GITLAB_WEBHOOK_SECRET = "gl-webhook-secret"
# The forges a parity suite runs on: parametrise a fixture with these and pass ``forge=``.
FORGES = ("github", "gitlab")


@dataclass
class BotEnv:
    standin: Any  # GitHubStandIn or GitLabStandIn: the same test hooks
    settings: Settings
    services: Services
    client: TestClient
    router: Router
    outcomes: list[tuple[str, str]] = field(default_factory=list)
    forge: str = "github"
    repo: str = ""  # the repository as the bot names it ("gitlab:group/project" on GitLab)

    def pull_path(self, number: int) -> str:
        """How a link to pull request ``number`` ends on this forge."""
        return f"/-/merge_requests/{number}" if self.forge == "gitlab" else f"/pull/{number}"

    def pull_ref(self, number: int) -> str:
        """How the bot's texts name pull request ``number`` on this forge ("!N" on GitLab)."""
        return f"!{number}" if self.forge == "gitlab" else f"#{number}"

    def run_jobs(self, *, max_jobs: int = 200, allow_failures: bool = False) -> list[tuple[str, str]]:
        """Deliver pending webhooks, then run due jobs until none is left; returns (handler, outcome)."""
        ran: list[tuple[str, str]] = []
        pool = WorkerPool(self.services, self.router, concurrency=1, name="botenv")
        for _ in range(max_jobs):
            self.standin.flush()
            job = self.services.queue.claim("botenv/0")
            if job is None:
                break
            outcome = asyncio.run(pool.run_job(job))
            ran.append((job.handler, outcome))
        else:
            raise AssertionError(f"more than {max_jobs} jobs: a loop? last ran: {ran[-5:]}")
        self.standin.flush()
        self.outcomes.extend(ran)
        if not allow_failures:
            failed = [item for item in ran if item[1] != "done"]
            assert not failed, f"jobs failed: {failed}; errors: {self.job_errors()}"
        return ran

    def job_errors(self) -> list[str]:
        from sqlalchemy import select

        from bot.storage.models import Job

        with self.services.database.sessions() as session:
            return [
                f"{job.handler}: {job.last_error}"
                for job in session.scalars(select(Job).where(Job.last_error.is_not(None)))
            ]

    def actions(self, kind: str | None = None) -> list[dict[str, Any]]:
        data = self.client.get("/api/actions", params={"limit": 500}).json()
        items = data["actions"] if isinstance(data, dict) else data
        return [a for a in items if kind is None or a["kind"] == kind]

    def post_registry(self, body: Mapping[str, Any] | bytes) -> int:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        response = self.client.post(
            "/webhooks/registry",
            content=raw,
            headers={
                "Authorization": f"Bearer {REGISTRY_TOKEN}",
                "Content-Type": "application/vnd.docker.distribution.events.v1+json",
            },
        )
        return response.status_code

    def post_mlflow(self, entity: str, action: str, data: Mapping[str, Any], *, delivery: str) -> int:
        """A signed MLflow webhook (``v1,`` HMAC over ``{delivery}.{timestamp}.{body}``)."""
        import time

        from bot.intake.signatures import mlflow_signature

        body = json.dumps(
            {"entity": entity, "action": action, "timestamp": "2026-11-28T12:00:00Z", "data": dict(data)}
        ).encode()
        stamp = str(int(time.time()))
        response = self.client.post(
            "/webhooks/mlflow",
            content=body,
            headers={
                "Content-Type": "application/json",
                "X-MLflow-Delivery-Id": delivery,
                "X-MLflow-Timestamp": stamp,
                "X-MLflow-Signature": mlflow_signature(MLFLOW_SECRET, delivery, stamp, body),
            },
        )
        return response.status_code


def distribution_push(repository: str, tag: str, digest: str, *, host: str = "registry.example.com") -> dict:
    """A CNCF distribution notification envelope with one push event, as the registry sends it."""
    return {
        "events": [
            {
                "id": f"evt-{repository}-{tag}-{digest[-6:]}",
                "timestamp": "2026-11-28T12:00:00.000000000Z",
                "action": "push",
                "target": {
                    "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "digest": digest,
                    "size": 1234,
                    "length": 1234,
                    "repository": repository,
                    "url": f"https://{host}/v2/{repository}/manifests/{digest}",
                    "tag": tag,
                },
                "request": {
                    "id": "req-1",
                    "addr": "10.0.0.1:5000",
                    "host": host,
                    "method": "PUT",
                    "useragent": "skopeo/1.13",
                },
                "actor": {"name": "ci"},
                "source": {"addr": "registry-0:5000", "instanceID": "instance-1"},
            }
        ]
    }


@contextmanager
def bot_env(
    root: Path,
    database_url: str,
    *,
    repo: str,
    files: Mapping[str, str],
    router: Router | None = None,
    dry_run: bool = False,
    forge: str = "github",
    **settings: Any,
) -> Iterator[BotEnv]:
    """A stand-in with ``repo`` holding ``files`` (include ``.gitops-bot.yaml``) and the bot wired to it.

    ``forge="gitlab"``: the GitLab stand-in instead, the bot configured with GitLab only (so
    ``repo`` is ``gitlab:<repo>`` to the bot, ``BotEnv.repo``)."""
    with _forge_standin(root, forge) as (standin, forge_settings, webhook, bot_repo):
        standin.create_repo(repo, dict(files))
        values: dict[str, Any] = {
            "database_url": database_url,
            **forge_settings,
            "registry_token": REGISTRY_TOKEN,
            "mlflow_webhook_secret": MLFLOW_SECRET,
            "slack_signing_secret": SLACK_SECRET,
            "data_dir": root / "data",
            "gitops_repos": [bot_repo(repo)],
            "dry_run": dry_run or None,
        }
        values.update(settings)
        config = Settings(_env_file=None, **values)
        if router is None:
            from handlers import default_router

            router = default_router()
        services = build_services(config)
        app = create_app(config, router=router, services=services)
        with TestClient(app) as client:
            standin.set_webhook(*webhook, client=client)
            try:
                yield BotEnv(standin, config, services, client, router, forge=forge, repo=bot_repo(repo))
            finally:
                standin.set_webhook(None)
        services.close()


@contextmanager
def _forge_standin(
    root: Path, forge: str
) -> Iterator[tuple[Any, dict[str, Any], tuple[str, str], Callable[[str], str]]]:
    """The started stand-in of ``forge``, the settings that point the bot at it, its webhook (path,
    secret) and how the bot names a repository of it."""
    repos = (root / forge / "repos").as_uri()
    if forge == "gitlab":
        with GitLabStandIn(root / "gitlab") as gitlab:
            gitlab.add_token(GITLAB_TOKEN, login=BOT_LOGIN)
            yield (
                gitlab,
                {
                    "gitlab_url": gitlab.base_url,
                    "gitlab_token": GITLAB_TOKEN,
                    "gitlab_webhook_secret": GITLAB_WEBHOOK_SECRET,
                    "gitlab_git_url_template": f"{repos}/{{repo}}.git",
                },
                ("/webhooks/gitlab", GITLAB_WEBHOOK_SECRET),
                lambda name: f"gitlab:{name}",
            )
        return
    with GitHubStandIn(root / "github") as github:
        github.add_token(TOKEN, login=BOT_LOGIN)
        yield (
            github,
            {
                "github_api_url": github.base_url,
                "github_token": TOKEN,  # dry-run with credentials: reads work, every write is refused
                "github_webhook_secret": WEBHOOK_SECRET,
                "github_seconds_between_writes": 0.0,
                "git_url_template": f"{repos}/{{repo}}.git",
            },
            ("/webhooks/github", WEBHOOK_SECRET),
            lambda name: name,
        )


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def served(app: Any, port: int | None = None) -> Iterator[str]:
    """Serve ``app`` over real HTTP on 127.0.0.1 (for senders that are real programs: a registry,
    MLflow, a Terraform Job's pod); yields the base URL. Lifespan off: the caller's TestClient
    already runs it. ``port``: one chosen before (when the URL had to be in the settings)."""
    import threading
    import time

    import uvicorn

    port = port or free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, name="served-bot", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the bot did not start serving")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
