"""MLflow 3.17.2's own webhooks: a model version aliased ``champion`` opens exactly one pull request."""

from __future__ import annotations

import time
from pathlib import Path

from tests.integration.updates.conftest import FILES, REPO, TFVARS
from tests.support.botenv import MLFLOW_SECRET, BotEnv, bot_env, served
from tests.support.github_standin_git import git
from tests.support.mlflow import mlflow_server, mlflow_venv

SET_UP = """
from mlflow.entities.webhook import WebhookEvent
client.create_webhook(
    name="gitops-bot",
    url=args["url"],
    events=[WebhookEvent("model_version", "created"), WebhookEvent("model_version_alias", "created")],
    secret=args["secret"],
)
client.create_registered_model("reranker")
versions = [client.create_model_version("reranker", source=args["source"]).version for _ in range(4)]
client.set_registered_model_alias("reranker", "champion", versions[-1])
result = versions
"""


def wait_for_events(env: BotEnv, source: str, count: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        events = env.client.get("/api/events", params={"limit": 100}).json()
        if len([e for e in events if e["source"] == source]) >= count:
            return
        time.sleep(0.2)
    raise AssertionError(f"{count} {source} webhooks did not arrive within {timeout} s")


def test_an_mlflow_alias_opens_one_pull_request(tmp_path: Path, sqlite_database_url: str) -> None:
    mlflow_venv()
    with (
        bot_env(tmp_path, sqlite_database_url, repo=REPO, files=FILES) as env,
        served(env.client.app) as url,
        mlflow_server(tmp_path / "mlflow") as mlflow,
    ):
        versions = mlflow.client(
            SET_UP, url=f"{url}/webhooks/mlflow", secret=MLFLOW_SECRET, source="s3://models/reranker"
        )
        assert versions == ["1", "2", "3", "4"]
        wait_for_events(env, "mlflow", 5)  # four versions created, one alias set
        env.run_jobs()

    (pull,) = env.standin.pulls(REPO)  # the alias follower moves; new versions alone do not
    assert pull.head_ref == "gitops-bot/reranker-staging/4"
    tfvars = git(
        env.standin.repo_path(REPO), "show", f"{pull.head_ref}:terraform/staging/serving.auto.tfvars"
    )
    assert tfvars.stdout.decode() == TFVARS.replace(
        'reranker_model_version = "3"', 'reranker_model_version = "4"'
    )
    assert "MLflow alias reranker@champion set to version 4" in pull.body
