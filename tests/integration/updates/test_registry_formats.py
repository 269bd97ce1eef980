"""Every registry the bot hears from, by its real payload: Harbor (both forms), Docker Hub and GHCR
(``package`` and its ``registry_package`` twin) each open exactly one minimal pull request. SQLite only:
the flow itself runs on PostgreSQL too in test_update_flow."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.intake.signatures import github_signature
from tests.support.botenv import REGISTRY_TOKEN, WEBHOOK_SECRET, BotEnv, bot_env
from tests.support.github_standin_git import git, text
from tests.support.requirements import require

PAYLOADS = Path(__file__).resolve().parents[2] / "payloads"
REPO = "acme/gitops"
DIGEST = "sha256:2f1e3c0a6b9d4e7f8a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f6071"
CONFIG = """\
version: 1
deployments:
  - name: harbor-chat
    trigger:
      image: {repository: harbor.example.com/serving/chat-llm, tags: "semver:^1"}
    targets:
      - {file: apps/harbor/values.yaml, key: image.tag}
  - name: hub-chat
    trigger:
      image: {repository: acme/chat-llm, tags: "semver:^1"}
    targets:
      - {file: apps/hub/values.yaml, key: image.tag}
  - name: ghcr-chat
    trigger:
      image: {repository: ghcr.io/acme/chat-llm, tags: "semver:^1"}
    targets:
      - {file: apps/ghcr/values.yaml, key: image, format: "image@digest"}
"""
VALUES = "# {name}\nimage:\n  tag: '1.2.0'  # pinned\n  pullPolicy: IfNotPresent\n"
GHCR = "image: ghcr.io/acme/chat-llm:1.2.0  # pinned\n"
FILES = {
    ".gitops-bot.yaml": CONFIG,
    "apps/harbor/values.yaml": VALUES.format(name="harbor"),
    "apps/hub/values.yaml": VALUES.format(name="hub"),
    "apps/ghcr/values.yaml": GHCR,
}


@pytest.fixture
def env(tmp_path: Path, sqlite_database_url: str) -> Iterator[BotEnv]:
    require(shutil.which("git") is not None, "the git executable")
    with bot_env(tmp_path, sqlite_database_url, repo=REPO, files=FILES) as built:
        yield built


def post_registry(env: BotEnv, name: str) -> int:
    body = (PAYLOADS / "registry" / name).read_bytes()
    response = env.client.post(
        "/webhooks/registry",
        content=body,
        headers={"Authorization": f"Bearer {REGISTRY_TOKEN}", "Content-Type": "application/json"},
    )
    return response.status_code


def post_github(env: BotEnv, event: str, name: str, delivery: str) -> int:
    body = (PAYLOADS / "github" / name).read_bytes()
    response = env.client.post(
        "/webhooks/github",
        content=body,
        headers={
            "Content-Type": "application/json",
            "X-GitHub-Event": event,
            "X-GitHub-Delivery": delivery,
            "X-Hub-Signature-256": github_signature(WEBHOOK_SECRET, body),
        },
    )
    return response.status_code


def branch_file(env: BotEnv, branch: str, path: str) -> str:
    return git(env.standin.repo_path(REPO), "show", f"{branch}:{path}").stdout.decode()


def changed(env: BotEnv, branch: str) -> list[str]:
    return text(env.standin.repo_path(REPO), "diff", "--numstat", f"main...{branch}").split("\n")


@pytest.mark.parametrize("payload", ["harbor.push_artifact.json", "harbor.cloudevents.pushed.json"])
def test_harbor_pushes_open_one_pull_request(env: BotEnv, payload: str) -> None:
    assert post_registry(env, payload) == 202
    env.run_jobs()
    (pull,) = env.standin.pulls(REPO)
    assert pull.head_ref == "gitops-bot/harbor-chat/1.2.3"
    assert changed(env, pull.head_ref) == ["1\t1\tapps/harbor/values.yaml"]
    assert branch_file(env, pull.head_ref, "apps/harbor/values.yaml") == FILES[
        "apps/harbor/values.yaml"
    ].replace("'1.2.0'", "'1.2.3'")
    assert DIGEST in pull.body


def test_a_docker_hub_push_opens_one_pull_request(env: BotEnv) -> None:
    assert post_registry(env, "dockerhub.push.json") == 202
    env.run_jobs()
    (pull,) = env.standin.pulls(REPO)
    assert pull.head_ref == "gitops-bot/hub-chat/1.2.3"
    assert changed(env, pull.head_ref) == ["1\t1\tapps/hub/values.yaml"]


def test_ghcr_package_and_its_registry_package_twin_open_one_pull_request(env: BotEnv) -> None:
    assert post_github(env, "package", "package.published.json", "d-1") == 202
    assert post_github(env, "registry_package", "registry_package.published.json", "d-2") in (200, 202)
    env.run_jobs()
    (pull,) = env.standin.pulls(REPO)
    assert pull.head_ref == "gitops-bot/ghcr-chat/1.2.3"
    assert branch_file(env, pull.head_ref, "apps/ghcr/values.yaml") == (
        f"image: ghcr.io/acme/chat-llm:1.2.3@{DIGEST}  # pinned\n"
    )
    assert "ghcr.io/acme/chat-llm:1.2.3" in pull.body
