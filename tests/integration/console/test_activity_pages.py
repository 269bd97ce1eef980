"""``/events`` and ``/actions`` with their JSON twins, on a real bot: registry pushes that open a
pull request on the GitHub stand-in, are refused or lead to nothing; filters, pagination across
filters, one event with its jobs and audit rows, payloads redacted, hostile text inert."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.deployments.test_canary_flow import FILES, REPO, deploy
from tests.support.botenv import REGISTRY_TOKEN, BotEnv, bot_env, distribution_push

HOSTILE = "<script>alert('x')</script>"


@pytest.fixture
def env(tmp_path: Path, database_url: str) -> Iterator[BotEnv]:
    # On SQLite and PostgreSQL; no analysis step runs, so no Prometheus.
    with bot_env(tmp_path, database_url, repo=REPO, files=FILES) as built:
        built.standin.set_permission(REPO, "alice", "write")
        deploy(built, "1.1.0")  # one push that opened a pull request, merged
        push = distribution_push("serving/chat", "0.9.0", "sha256:" + "d" * 64)
        push["events"][0]["actor"] = {"name": HOSTILE, "token": "plain-actor-token"}
        push["events"][0]["request"]["useragent"] = f"skopeo with {REGISTRY_TOKEN}"
        assert built.post_registry(push) == 202  # older than what runs: refused
        assert built.post_registry(distribution_push("serving/other", "2.0.0", "sha256:" + "e" * 64)) == 202
        built.run_jobs()
        yield built


def events(env: BotEnv, **query: Any) -> list[dict[str, Any]]:
    answer = env.client.get("/api/events", params=query)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_filters_find_each_kind_of_outcome(env: BotEnv) -> None:
    everything = events(env)
    assert {event["source"] for event in everything} == {"registry", "github"}
    # The refused push is ignored too: none of its jobs acted, and its reason says why.
    other, refused = events(env, status="ignored", source="registry")
    assert "no deployment's trigger matches serving/other" in other["reason"]
    assert "0.9.0 is older than the current 1.1.0" in refused["reason"]
    pushes = events(env, kind="image.pushed")
    assert len(pushes) == 3 and all(event["source"] == "registry" for event in pushes)
    chat = events(env, deployment="chat")
    assert {event["id"] for event in chat} <= {event["id"] for event in pushes + events(env, source="github")}
    assert len([event for event in chat if event["source"] == "registry"]) == 2  # opened, refused
    assert events(env, repo=REPO)  # the pull request's events, and the pushes that acted on it
    assert events(env, deployment="nothing-by-this-name") == []


def test_a_filter_the_list_cannot_use_is_a_400_naming_it(env: BotEnv) -> None:
    answer = env.client.get("/api/events", params={"status": "bogus"})
    assert answer.status_code == 400 and "status must be one of" in answer.json()["detail"]
    page = env.client.get("/events", params={"source": "ftp"})
    assert page.status_code == 400 and "source must be one of" in page.text
    assert env.client.get("/api/actions", params={"kind": "no spaces please"}).status_code == 400


def test_pages_follow_one_another_with_the_filter_kept(env: BotEnv) -> None:
    first = env.client.get("/api/events", params={"source": "registry", "limit": 2})
    link = first.headers["link"]
    assert "source=registry" in link
    following = env.client.get(link[1 : link.index(">")])
    seen = [event["id"] for event in first.json() + following.json()]
    assert seen == [event["id"] for event in events(env, source="registry")]
    assert "link" not in following.headers


def test_one_event_with_its_jobs_actions_and_a_redacted_payload(env: BotEnv) -> None:
    refused = events(env, deployment="chat", source="registry")[0]  # newest first: the 0.9.0 push
    detail = env.client.get(f"/api/events/{refused['id']}").json()
    assert detail["jobs"] and detail["jobs"][0]["handler"] == "updates.image_pushed"
    assert detail["jobs"][0]["status"] == "done" and detail["jobs"][0]["attempts"] == 1
    (action,) = [a for a in detail["actions"] if a["target"] == "chat@0.9.0"]
    assert action["outcome"] == "refused" and action["details"]["reason"]
    pushed = detail["payload"]  # one event of the envelope, as stored
    assert pushed["actor"] == {"name": HOSTILE, "token": "[redacted]"}
    assert REGISTRY_TOKEN not in str(detail) and "[redacted]" in pushed["request"]["useragent"]
    assert env.client.get("/api/events/999999").status_code == 404
    assert env.client.get("/api/events/nope").status_code == 404

    page = env.client.get(f"/events/{refused['id']}")
    assert page.status_code == 200
    assert HOSTILE not in page.text and "&lt;script&gt;" in page.text
    assert REGISTRY_TOKEN not in page.text and "plain-actor-token" not in page.text
    assert env.client.get("/events/999999").status_code == 404


def test_the_events_page_shows_reasons_jobs_and_payloads(env: BotEnv) -> None:
    page = env.client.get("/events", params={"source": "registry"})
    assert page.status_code == 200
    assert "no deployment&#39;s trigger matches serving/other" in page.text
    assert "updates.image_pushed" in page.text and "<details>" in page.text
    assert HOSTILE not in page.text and REGISTRY_TOKEN not in page.text
    assert "option selected>registry</option>" in page.text


def test_the_audit_log_filters_and_says_why(env: BotEnv) -> None:
    refused = env.client.get("/api/actions", params={"outcome": "refused", "deployment": "chat"}).json()
    assert refused and all(a["outcome"] == "refused" for a in refused)
    assert all(a["target"].startswith("chat@") for a in refused)
    assert refused[0]["details"]["reason"]
    by_kind = env.client.get("/api/actions", params={"kind": "update.propose", "repo": REPO}).json()
    assert {a["outcome"] for a in by_kind} >= {"opened", "refused"}
    page = env.client.get("/actions", params={"outcome": "refused"})
    assert page.status_code == 200 and refused[0]["details"]["reason"].split(" ")[0] in page.text
    assert f'href="/events/{refused[0]["event_id"]}"' in page.text
