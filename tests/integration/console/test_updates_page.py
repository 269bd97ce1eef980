"""``/updates`` and ``/api/updates`` on a real bot: versions pushed to the registry end to end on the
GitHub stand-in with real git (one merged, one superseded by a newer one still open, one refused
as backwards), filters and pages, and "Propose" (CSRF, the ``deploy`` permission, audited) opening
a real pull request."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.deployments.test_canary_flow import FILES, REPO, deploy
from tests.support.botenv import BotEnv, bot_env, distribution_push


@pytest.fixture
def env(tmp_path: Path, database_url: str) -> Iterator[BotEnv]:
    # On SQLite and PostgreSQL; no analysis step runs, so no Prometheus.
    with bot_env(tmp_path, database_url, repo=REPO, files=FILES) as built:
        built.standin.set_permission(REPO, "alice", "write")
        deploy(built, "1.1.0")
        for version, digest in (("1.2.0", "a"), ("1.3.0", "b"), ("0.9.0", "c")):
            assert (
                built.post_registry(distribution_push("serving/chat", version, "sha256:" + digest * 64))
                == 202
            )
            built.run_jobs()
        yield built


def updates(env: BotEnv, **query: Any) -> dict[str, dict[str, Any]]:
    answer = env.client.get("/api/updates", params=query)
    assert answer.status_code == 200, answer.text
    return {entry["deployment"]: entry for entry in answer.json()}


def csrf(env: BotEnv) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', env.client.get("/updates").text)
    assert found is not None
    return found.group(1)


def test_every_state_of_a_deployments_updates(env: BotEnv) -> None:
    chat = updates(env)["chat"]
    assert (chat["current_version"], chat["previous_version"]) == ("1.1.0", "1.0.0")
    (open_pull,) = chat["proposed"]
    assert open_pull["version"] == "1.3.0" and open_pull["state"] == "open"
    assert open_pull["pull_request"]["url"].endswith(f"/{REPO}/pull/{open_pull['pull_request']['number']}")
    assert [(row["version"], row["superseded_by"]) for row in chat["superseded"]] == [("1.2.0", "1.3.0")]
    assert [row["version"] for row in chat["merged"]] == ["1.1.0"]
    (refused,) = chat["refused"]
    assert (refused["version"], refused["category"], refused["code"]) == (
        "0.9.0",
        "backwards",
        "older_than_current",
    )
    assert "older than the current 1.1.0" in refused["reason"]

    prod = updates(env)["chat-prod"]
    assert prod["proposed"] == [] and {row["category"] for row in prod["refused"]} == {"policy"}


def test_filters_and_pages(env: BotEnv) -> None:
    assert list(updates(env, deployment="chat-prod")) == ["chat-prod"]
    assert updates(env, repo="acme/other") == {}
    first = env.client.get("/api/updates", params={"limit": 1})
    link = first.headers["link"]
    second = env.client.get(link[1 : link.index(">")])
    paged = [entry["deployment"] for entry in first.json() + second.json()]
    assert paged == list(updates(env)) and sorted(paged) == ["chat", "chat-prod"]  # the latest activity first
    assert "link" not in second.headers
    assert env.client.get("/api/updates", params={"limit": 0}).status_code == 400


def test_the_page_shows_links_reasons_and_a_propose_form(env: BotEnv) -> None:
    page = env.client.get("/updates")
    assert page.status_code == 200
    chat = updates(env)["chat"]
    assert f'href="{chat["proposed"][0]["pull_request"]["url"]}"' in page.text
    assert "older than the current 1.1.0" in page.text and "superseded" in page.text
    assert page.text.count('action="/updates/propose"') == 2


def test_propose_needs_csrf_and_permission_then_opens_a_pull_request(env: BotEnv) -> None:
    ask = {"repo": REPO, "deployment": "chat-prod", "version": "1.1.0"}
    assert env.client.post("/updates/propose", data=ask).status_code == 403  # no CSRF token
    token = csrf(env)
    refused = env.client.post("/updates/propose", data=ask | {"csrf": token})
    assert refused.status_code == 403 and "You may not propose versions here" in refused.text
    assert [a["outcome"] for a in env.actions("console.propose")] == ["refused"]

    env.standin.set_permission(REPO, "console", "maintain")  # the console's login without sign-in
    done = env.client.post("/updates/propose", data=ask | {"csrf": token}, follow_redirects=False)
    assert done.status_code == 303 and "done=opened" in done.headers["location"]
    assert "Proposed 1.1.0 for chat-prod" in env.client.get(done.headers["location"]).text
    pull = next(p for p in env.standin.pulls(REPO) if p.head_ref == "gitops-bot/chat-prod/1.1.0")
    assert [row["pull_request"]["number"] for row in updates(env)["chat-prod"]["proposed"]] == [pull.number]
    audited = env.actions("console.propose")[0]
    assert (audited["actor"], audited["outcome"], audited["target"]) == (
        "console",
        "opened",
        "chat-prod@1.1.0",
    )


@pytest.mark.parametrize(
    ("ask", "message"),
    [
        ({"version": "1.0 beta"}, "is not a version"),
        ({"version": ""}, "is not a version"),
        ({"deployment": "nope"}, "configures no deployment named"),
        ({"repo": "acme/other"}, "is not a configured GitOps repository"),
    ],
)
def test_a_bad_ask_is_a_clear_400(env: BotEnv, ask: dict[str, str], message: str) -> None:
    data = {"repo": REPO, "deployment": "chat", "version": "1.4.0", "csrf": csrf(env)} | ask
    answer = env.client.post("/updates/propose", data=data)
    assert answer.status_code == 400 and message in answer.text
