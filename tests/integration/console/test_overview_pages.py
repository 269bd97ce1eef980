"""``/`` and ``/deployments/{owner}/{repo}/{name}`` on a real bot: deployments made end to end on the
GitHub stand-in with real git (a registry push, its pull request merged, a rollback by comment that
quarantines the version, a promotion), their JSON twins, the history read from the bot's git
mirror, and "Lift" (CSRF, the ``deploy`` permission, audited)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.deployments.test_canary_flow import FILES, REPO, deploy
from tests.support.botenv import BotEnv, bot_env

CHAT = "/deployments/acme/gitops/chat"


@pytest.fixture
def env(tmp_path: Path, database_url: str) -> Iterator[BotEnv]:
    # On SQLite and PostgreSQL. Nothing is measured here (no analysis step runs): no Prometheus.
    with bot_env(tmp_path, database_url, repo=REPO, files=FILES) as built:
        built.standin.set_permission(REPO, "alice", "write")
        yield built


def rows(env: BotEnv) -> dict[str, dict[str, Any]]:
    answer = env.client.get("/api/overview")
    assert answer.status_code == 200, answer.text
    return {row["name"]: row for group in answer.json() for row in group["deployments"]}


def comment(env: BotEnv, number: int, text: str) -> None:
    env.standin.post_comment_as("alice", REPO, number, text)
    env.run_jobs()


def csrf(env: BotEnv, path: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', env.client.get(path).text)
    assert found is not None
    return found.group(1)


def test_every_configured_deployment_is_listed_before_anything_is_deployed(env: BotEnv) -> None:
    (group,) = env.client.get("/api/overview").json()
    assert group["app"] == "chat" and group["repo"] == REPO
    assert [(r["name"], r["stage"], r["state"], r["version"]) for r in group["deployments"]] == [
        ("chat", 0, "none", None),
        ("chat-prod", 1, "none", None),
    ]
    assert group["deployments"][1]["environment"] == "prod"
    page = env.client.get("/")
    assert page.status_code == 200 and f'href="{CHAT}"' in page.text
    assert env.client.get("/api/overview?limit=0").status_code == 400
    assert env.client.get("/?cursor=nonsense").status_code == 400


def test_a_deployment_from_merge_to_rollback_promotion_and_lift(env: BotEnv) -> None:
    first = deploy(env, "1.1.0")
    chat = rows(env)["chat"]
    assert (chat["version"], chat["previous_version"], chat["state"]) == ("1.1.0", "1.0.0", "analysing")
    assert chat["progress"]["measured"] == 0 and chat["progress"]["expected"] == 3
    change = chat["last_change"]
    assert (change["kind"], change["actor"]) == ("deployment.recorded", "gitops-bot")  # its pull request's
    assert change["summary"].startswith(f"#{first} merged: chat 1.0.0 → 1.1.0")

    comment(env, first, "/gitops rollback")  # the revert merges by itself (rollback: {automerge: true})
    chat = rows(env)["chat"]
    assert (chat["version"], chat["previous_version"], chat["state"]) == ("1.0.0", "1.1.0", "quarantined")
    assert [q["version"] for q in chat["quarantined"]] == ["1.1.0"]

    second = deploy(env, "1.2.0")
    comment(env, second, "/gitops promote")
    promotion = next(p for p in env.standin.pulls(REPO) if p.head_ref == "gitops-bot/chat-prod/1.2.0")
    promotion_url = f"{env.standin.html_base}/{REPO}/pull/{promotion.number}"  # GitHub's html_url
    prod = rows(env)["chat-prod"]
    assert prod["open_pull_requests"] == [
        {"number": promotion.number, "url": promotion_url, "version": "1.2.0", "kind": "promotion"}
    ]
    env.standin.merge_pull_request(REPO, promotion.number, user="alice")
    env.run_jobs()
    prod = rows(env)["chat-prod"]
    assert (prod["version"], prod["state"], prod["open_pull_requests"]) == ("1.2.0", "deployed", [])

    detail = env.client.get("/api/deployments/acme/gitops/chat").json()
    assert [(h["kind"], h["previous_version"], h["version"]) for h in detail["history"]] == [
        ("update", "1.0.0", "1.2.0"),
        ("revert", "1.1.0", "1.0.0"),
        ("update", "1.0.0", "1.1.0"),
        ("commit", None, "1.0.0"),  # the repository's first commit wrote the file
    ]
    assert [h["pull_request"]["number"] for h in detail["history"][:3]][::2] == [second, first]
    assert detail["history"][0]["status"] == "analysing" and detail["history"][0]["analysis_id"]
    assert detail["history_problem"] is None
    assert [(s["name"], s["relation"]) for s in detail["chain"]] == [("chat", "first"), ("chat-prod", "same")]
    prod_detail = env.client.get("/api/deployments/acme/gitops/chat-prod").json()
    assert [(h["kind"], h["version"]) for h in prod_detail["history"]] == [
        ("promotion", "1.2.0"),
        ("commit", "1.0.0"),
    ]
    assert prod_detail["history"][0]["pull_request"]["url"] == promotion_url

    page = env.client.get(CHAT)
    assert page.status_code == 200
    assert 'class="timeline chain"' in page.text and f'action="{CHAT}/lift"' in page.text
    assert f'href="{promotion_url}"' in env.client.get("/deployments/acme/gitops/chat-prod").text

    # Lift: the form's CSRF token, then the deploy permission (maintain by default), then audited.
    assert env.client.post(f"{CHAT}/lift", data={"version": "1.1.0"}).status_code == 403
    token = csrf(env, CHAT)
    refused = env.client.post(f"{CHAT}/lift", data={"version": "1.1.0", "csrf": token})
    assert refused.status_code == 403 and "You may not lift this quarantine" in refused.text
    assert [a["outcome"] for a in env.actions("console.lift_quarantine")] == ["refused"]
    env.standin.set_permission(REPO, "console", "maintain")  # the console's login without sign-in
    lifted = env.client.post(f"{CHAT}/lift", data={"version": "1.1.0", "csrf": token}, follow_redirects=False)
    assert lifted.status_code == 303
    assert lifted.headers["location"] == f"{CHAT}?done=lifted&version=1.1.0"
    assert "Lifted the quarantine of <code>1.1.0</code>" in env.client.get(lifted.headers["location"]).text
    assert env.services.quarantine.versions(repo=REPO, deployment="chat") == frozenset()
    (audited,) = env.actions("quarantine.lift")
    assert audited["actor"] == "console" and audited["summary"].endswith("from the console")
    assert rows(env)["chat"]["quarantined"] == []
    again = env.client.post(f"{CHAT}/lift", data={"version": "1.1.0", "csrf": token}, follow_redirects=False)
    assert again.headers["location"].endswith("done=gone&version=1.1.0")


@pytest.mark.parametrize(
    "path",
    [
        "/deployments/acme/gitops/nope",
        "/deployments/acme/other/chat",
        "/deployments/acme/gitops/..%2F..",
        "/api/deployments/acme/gitops/nope",
    ],
)
def test_unknown_deployments_are_404(env: BotEnv, path: str) -> None:
    assert env.client.get(path).status_code == 404


def test_the_history_is_read_from_git_once_per_head_and_bounded(env: BotEnv) -> None:
    from bot.console.version_history import VersionHistory

    wanted = env.services.repo_config(REPO).config.deployment("chat")  # type: ignore[union-attr]
    reader = VersionHistory(env.services, refresh_seconds=3600)
    first = reader.read(REPO, wanted)
    assert [c.version for c in first.commits] == ["1.0.0"] and first.before_oldest == (None, None)
    assert reader.read(REPO, wanted) is first  # the same head: nothing read again
    env.standin.commit(REPO, "main", {"apps/chat/values.yaml": "image:\n  tag: 1.0.1\n"}, "bump by hand")
    assert reader.read(REPO, wanted) is first  # fetched again only after refresh_seconds
    bounded = VersionHistory(env.services, limit=1, refresh_seconds=0).read(REPO, wanted)
    assert [(c.version, c.subject) for c in bounded.commits] == [("1.0.1", "bump by hand")]
    assert bounded.before_oldest == ("1.0.0", None) and bounded.problem is None

    missing = VersionHistory(env.services).read("acme/nowhere", wanted)
    assert missing.commits == () and missing.problem is not None and "acme/nowhere" in missing.problem
