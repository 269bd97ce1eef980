"""A real registry push (Debian's docker-registry, skopeo) opens exactly one minimal pull request."""

from __future__ import annotations

import time
from pathlib import Path

from tests.integration.updates.conftest import FILES, REPO, VALUES
from tests.support.botenv import REGISTRY_TOKEN, BotEnv, bot_env, served
from tests.support.github_standin_git import git
from tests.support.registry import oci_layout, registry, require_registry


def wait_for_events(env: BotEnv, count: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(env.client.get("/api/events", params={"limit": 50}).json()) >= count:
            return
        time.sleep(0.1)
    raise AssertionError(f"the registry's notification did not arrive within {timeout} s")


def test_a_skopeo_push_to_a_real_registry_opens_one_pull_request(
    tmp_path: Path, sqlite_database_url: str
) -> None:
    require_registry()
    with (
        bot_env(tmp_path, sqlite_database_url, repo=REPO, files=FILES) as env,
        served(env.client.app) as url,
        registry(tmp_path / "registry", notify_url=f"{url}/webhooks/registry", token=REGISTRY_TOKEN) as reg,
    ):
        config = FILES[".gitops-bot.yaml"].replace(
            "registry.example.com/serving/chat-llm", f"{reg.address}/serving/chat-llm"
        )
        env.standin.commit(REPO, "main", {".gitops-bot.yaml": config}, "point at the test registry")
        digest = oci_layout(tmp_path / "layout", "1.3.0", "weights v1.3.0\n")
        reg.push(tmp_path / "layout", "1.3.0", "serving/chat-llm")
        wait_for_events(env, 1)
        env.run_jobs()

    (pull,) = env.standin.pulls(REPO)
    assert pull.head_ref == "gitops-bot/chat-llm-staging/1.3.0"
    values = git(env.standin.repo_path(REPO), "show", f"{pull.head_ref}:apps/chat-llm/values-staging.yaml")
    assert values.stdout.decode() == VALUES.replace('"1.2.0"', '"1.3.0"').replace(
        "sha256:" + "0" * 64, digest
    )
    assert f"registry push {reg.address}/serving/chat-llm:1.3.0@{digest}" in pull.body
