"""Model gates before the pull request, against a real MLflow 3.17.2: the version's run's metrics
and tags decide whether its update is a ready pull request, a draft with a failed status, or none."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.botenv import BotEnv, bot_env
from tests.support.mlflow import MlflowServer, mlflow_server, mlflow_venv

REPO = "acme/gitops"


def config(on_failure: str = "draft") -> str:
    return f"""\
version: 1
deployments:
  - name: reranker
    trigger:
      model:
        name: reranker
        alias: champion
        gates:
          - {{metric: eval_accuracy, min: 0.82}}
          - {{metric: eval_ttft_p99_seconds, max: 0.2}}
          - {{tag: validation_status, equals: approved}}
      on_gate_failure: {on_failure}
    targets:
      - {{file: serving.auto.tfvars, variable: reranker_model_version}}
notify:
  slack: {{channel: "#ml-deploys"}}
"""


REGISTER = """
for index, run in enumerate(args["runs"]):
    experiment = client.get_experiment_by_name("reranker") or None
    experiment_id = experiment.experiment_id if experiment else client.create_experiment("reranker")
    created = client.create_run(experiment_id)
    for key, value in run["metrics"].items():
        client.log_metric(created.info.run_id, key, value - 0.5)  # an older value: the latest counts
        client.log_metric(created.info.run_id, key, value)
    for key, value in run.get("run_tags", {}).items():
        client.set_tag(created.info.run_id, key, value)
    client.set_terminated(created.info.run_id)
    if index == 0:
        client.create_registered_model("reranker")
    version = client.create_model_version(
        "reranker", source="s3://models/reranker", run_id=created.info.run_id
    )
    for key, value in run.get("version_tags", {}).items():
        client.set_model_version_tag("reranker", version.version, key, value)
result = "ok"
"""
GOOD = {
    "metrics": {"eval_accuracy": 0.9, "eval_ttft_p99_seconds": 0.15},
    "version_tags": {"validation_status": "approved"},
}
BAD = {
    "metrics": {"eval_accuracy": 0.7, "eval_ttft_p99_seconds": 0.15},
    "run_tags": {"validation_status": "pending"},
}


@pytest.fixture(scope="module")
def mlflow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    mlflow_venv()
    with mlflow_server(tmp_path_factory.mktemp("mlflow")) as server:
        server.client(REGISTER, runs=[GOOD, BAD])  # versions 1 and 2
        yield server


def alias(env: BotEnv, version: str, delivery: str) -> None:
    data = {"name": "reranker", "alias": "champion", "version": version}
    assert env.post_mlflow("model_version_alias", "created", data, delivery=delivery) == 202
    env.run_jobs()


def gates_status(env: BotEnv, sha: str) -> tuple[str, str]:
    (status,) = [s for s in env.standin.statuses(REPO, sha) if s["context"] == "gitops-bot/gates"]
    return status["state"], status["description"]


@pytest.fixture
def env(tmp_path: Path, database_url: str, mlflow: MlflowServer) -> Iterator[BotEnv]:
    files = {".gitops-bot.yaml": config(), "serving.auto.tfvars": 'reranker_model_version = "0"\n'}
    with bot_env(tmp_path, database_url, repo=REPO, files=files, mlflow_tracking_url=mlflow.url) as built:
        yield built


def test_a_version_that_passes_its_gates_opens_a_ready_pull_request(env: BotEnv) -> None:
    alias(env, "1", "d-1")
    (pull,) = env.standin.pulls(REPO)
    assert not pull.draft
    assert "#### Model gates: passed" in pull.body and "| `eval_accuracy` | >= 0.82 | 0.9 | ✅ |" in pull.body
    assert gates_status(env, pull.head_sha) == ("success", "all 3 gates passed")


def test_a_version_that_fails_opens_a_draft_with_a_failed_status(env: BotEnv) -> None:
    alias(env, "2", "d-2")
    (pull,) = env.standin.pulls(REPO)
    assert pull.draft
    assert "#### Model gates: FAILED" in pull.body
    assert "| `eval_accuracy` | >= 0.82 | 0.7 | ❌ 0.7 < min 0.82 |" in pull.body
    assert "the run says 'pending', not 'approved'" in pull.body  # the tag from the run
    state, description = gates_status(env, pull.head_sha)
    assert state == "failure" and description.startswith("2 of 3 gates failed")


def test_refuse_opens_nothing_and_says_why(
    tmp_path: Path, sqlite_database_url: str, mlflow: MlflowServer
) -> None:
    files = {".gitops-bot.yaml": config("refuse"), "serving.auto.tfvars": 'reranker_model_version = "0"\n'}
    with bot_env(
        tmp_path, sqlite_database_url, repo=REPO, files=files, mlflow_tracking_url=mlflow.url
    ) as env:
        alias(env, "2", "d-3")
        assert env.standin.pulls(REPO) == []
        (refused,) = [a for a in env.actions("update.propose") if a["outcome"] == "refused"]
        assert "model gates: 2 of 3 gates failed" in refused["summary"]
        assert refused["details"]["code"] == "gates_failed"
        assert [g["passed"] for g in refused["details"]["gates"]["gates"]] == [False, True, False]


def test_a_run_that_cannot_be_read_is_not_promoted(tmp_path: Path, sqlite_database_url: str) -> None:
    files = {".gitops-bot.yaml": config(), "serving.auto.tfvars": 'reranker_model_version = "0"\n'}
    with bot_env(
        tmp_path, sqlite_database_url, repo=REPO, files=files, mlflow_tracking_url="http://127.0.0.1:9"
    ) as env:
        alias(env, "1", "d-4")
        (pull,) = env.standin.pulls(REPO)
        assert pull.draft and "cannot reach MLflow at http://127.0.0.1:9" in pull.body
        assert gates_status(env, pull.head_sha)[0] == "failure"
