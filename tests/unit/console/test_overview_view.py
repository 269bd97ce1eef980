"""What the overview shows (pure): environments, promotion-chain groups, their order and pages, and
each deployment's versions and state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.console.overview_view import (
    NEVER,
    Change,
    Configured,
    Facts,
    Newest,
    OpenPull,
    Progress,
    Quarantined,
    deployment_path,
    environment_of,
    group_json,
    group_rows,
    groups,
    page_of,
    progress_text,
    running_versions,
    state_of,
    stem_of,
)
from bot.pagination import Cursor, PageRequest

AT = datetime(2026, 12, 14, 9, 0, tzinfo=UTC)
REPO = "acme/gitops"


def newest(name: str, status: str = "passed", *, id: int = 1, minutes: int = 0, **changes: object) -> Newest:
    values: dict[str, object] = {
        "id": id, "repo": REPO, "name": name, "version": "1.2.0", "previous_version": "1.1.0",
        "status": status, "merged_at": AT + timedelta(minutes=minutes), "pr_number": 7,
        "pr_url": "https://github.com/acme/gitops/pull/7",
    }  # fmt: skip
    values.update(changes)
    return Newest(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "environment", "stem"),
    [
        ("chat-llm-staging", "staging", "chat-llm"),
        ("chat-llm-prod", "prod", "chat-llm"),
        ("reranker_production", "production", "reranker"),
        ("api.qa", "qa", "api"),
        ("Chat-PROD", "PROD", "Chat"),
        ("chat", None, "chat"),
        ("prod", None, "prod"),  # a name that is only an environment names no app
        ("chat-llm-v2", None, "chat-llm-v2"),
        ("staging-chat", None, "staging-chat"),
    ],
)
def test_the_environment_is_the_end_of_the_name(name: str, environment: str | None, stem: str) -> None:
    assert environment_of(name) == environment
    assert stem_of(name) == stem


def names(found: list) -> list[tuple[str, list[str]]]:
    return [(group.app, group.names()) for group in found]


def test_a_promotion_chain_is_one_group_in_chain_order() -> None:
    configured = [
        Configured(REPO, "chat-llm-prod", None, 0),
        Configured(REPO, "chat-llm-canary", "chat-llm-prod", 1),
        Configured(REPO, "chat-llm-staging", "chat-llm-canary", 2),
        Configured(REPO, "reranker-staging", None, 3),
    ]
    found = groups(configured, [])
    assert names(found) == [
        ("chat-llm", ["chat-llm-staging", "chat-llm-canary", "chat-llm-prod"]),
        ("reranker", ["reranker-staging"]),
    ]
    assert [m.depth for m in found[0].members] == [0, 1, 2]
    assert found[0].members[0].promote_to == "chat-llm-canary"


def test_two_chains_into_one_production_share_a_group() -> None:
    configured = [
        Configured(REPO, "chat-eu-staging", "chat-prod", 0),
        Configured(REPO, "chat-us-staging", "chat-prod", 1),
        Configured(REPO, "chat-prod", None, 2),
    ]
    (group,) = groups(configured, [])
    assert group.names() == ["chat-eu-staging", "chat-us-staging", "chat-prod"]
    assert [m.depth for m in group.members] == [0, 0, 1]


def test_groups_are_newest_first_then_never_deployed_by_name() -> None:
    configured = [
        Configured(REPO, "a-staging", "a-prod", 0),
        Configured(REPO, "a-prod", None, 1),
        Configured(REPO, "b", None, 2),
        Configured(REPO, "zeta", None, 3),
        Configured("acme/other", "c", None, 0),
    ]
    rows = [
        newest("a-staging", id=3, minutes=1),
        newest("a-prod", id=9, minutes=5),  # the chain's newest merge decides its place
        newest("b", id=5, minutes=3),
        newest("gone", id=2, minutes=2),  # recorded, no longer configured: its own group
    ]
    found = groups(configured, rows)
    assert names(found) == [
        ("a", ["a-staging", "a-prod"]),
        ("b", ["b"]),
        ("gone", ["gone"]),
        ("zeta", ["zeta"]),  # never deployed: by repository, then name
        ("c", ["c"]),
    ]
    assert found[0].key == Cursor(AT + timedelta(minutes=5), 9)
    assert [g.key.at for g in found[3:]] == [NEVER, NEVER]
    assert found[2].members[0].configured is False


def test_pages_follow_the_cursor_without_repeating() -> None:
    configured = [Configured(REPO, f"app{n}", None, n) for n in range(5)]
    rows = [newest(f"app{n}", id=n + 1, minutes=n) for n in range(3)]  # app3, app4: never deployed
    every = groups(configured, rows)
    seen: list[str] = []
    after = None
    for _ in range(5):
        shown, last = page_of(every, PageRequest(2, after))
        seen.extend(name for group in shown for name in group.names())
        if last is None:
            break
        after = last
    assert seen == ["app2", "app1", "app0", "app3", "app4"]
    assert page_of(every, PageRequest(5))[1] is None
    assert page_of(every, PageRequest(4))[1] == every[3].key


PROGRESS = Progress(analysis_id=4, status="running", measured=3, expected=10, failed=1)
HELD = Quarantined("1.2.0", "canary failed", AT, "gitops-bot")


@pytest.mark.parametrize(
    ("facts", "state"),
    [
        (Facts(), ("none", "not deployed yet")),
        (Facts(newest("x", "analysing"), progress=PROGRESS),
         ("analysing", "analysing", "3 of 10 intervals (1 failed)")),
        (Facts(newest("x", "analysing")), ("analysing", "analysing", "canary analysis")),
        (Facts(newest("x", "passed")), ("passed", "passed", "")),
        (Facts(newest("x", "failed")), ("failed", "failed", "")),
        (Facts(newest("x", "inconclusive")), ("inconclusive", "inconclusive", "")),
        (Facts(newest("x", "rolling_back")), ("rolling_back", "rolling back", "1.2.0 being reverted")),
        (Facts(newest("x", "rolled_back"), quarantined=(HELD,)),
         ("quarantined", "quarantined", "1.2.0 rolled back")),
        (Facts(newest("x", "rolled_back")), ("rolled_back", "rolled back", "1.2.0 rolled back")),
        (Facts(newest("x", "recorded")), ("deployed", "deployed", "no canary section: not analysed")),
    ],
)  # fmt: skip
def test_state(facts: Facts, state: tuple[str, ...]) -> None:
    found = state_of(facts)
    assert (found.name, found.label, found.detail)[: len(state)] == state


@pytest.mark.parametrize(
    ("progress", "text"),
    [
        (Progress(1, "waiting_rollout", 0, 10), "waiting for the rollout"),
        (Progress(1, "running", 0, 10), "0 of 10 intervals"),
        (Progress(1, "running", 4, 10, failed=2, inconclusive=1),
         "4 of 10 intervals (2 failed, 1 inconclusive)"),
        (Progress(1, "running", 4, 10, inconclusive=1), "4 of 10 intervals (1 inconclusive)"),
        (Progress(1, "running", 2, 4, step="step 2/3 (50%)"), "step 2/3 (50%): 2 of 4 intervals"),
        (Progress(1, "paused", 1, 4, step="step 1/3 (10%)"), "step 1/3 (10%): paused"),
        (Progress(1, "stepping", 2, 4, step="step 1/3 (10%)"),
         "step 1/3 (10%): passed, committing the next step"),
        (Progress(1, "waiting_rollout", 2, 4, step="step 2/3 (50%)"),
         "step 2/3 (50%): waiting for the rollout"),
    ],
)  # fmt: skip
def test_progress_text(progress: Progress, text: str) -> None:
    assert progress_text(progress) == text


@pytest.mark.parametrize(
    ("row", "versions"),
    [
        (None, (None, None)),
        (newest("x", "passed"), ("1.2.0", "1.1.0")),
        (newest("x", "analysing", previous_version=None), ("1.2.0", None)),
        (newest("x", "rolled_back"), ("1.1.0", "1.2.0")),  # the revert brought 1.1.0 back
    ],
)
def test_what_runs_now_and_before(row: Newest | None, versions: tuple[str | None, str | None]) -> None:
    assert running_versions(row) == versions


def test_deployment_path_keeps_the_repository_as_two_segments() -> None:
    assert deployment_path("acme/gitops", "chat-llm-prod") == "/deployments/acme/gitops/chat-llm-prod"


def test_a_group_as_json() -> None:
    configured = [
        Configured(REPO, "chat-staging", "chat-prod", 0, True),
        Configured(REPO, "chat-prod", None, 1),
    ]
    (group,) = groups(configured, [newest("chat-staging", "analysing", id=4)])
    pull = OpenPull(12, "https://github.com/acme/gitops/pull/12", "1.3.0", "update")
    change = Change(AT, "deployment.recorded", "alice", "#7 merged", "recorded")
    facts = {
        (REPO, "chat-staging"): Facts(
            newest("chat-staging", "analysing", id=4), PROGRESS, (pull,), (), change
        )
    }
    rows = group_rows(group, facts)
    shown = group_json(group, rows)
    assert shown["app"] == "chat" and shown["repo"] == REPO
    staging, prod = shown["deployments"]
    assert staging["environment"] == "staging" and staging["stage"] == 0
    assert staging["version"] == "1.2.0" and staging["previous_version"] == "1.1.0"
    assert staging["state"] == "analysing" and staging["progress"]["measured"] == 3
    assert staging["open_pull_requests"] == [
        {"number": 12, "url": "https://github.com/acme/gitops/pull/12", "version": "1.3.0", "kind": "update"}
    ]
    assert staging["last_change"]["actor"] == "alice" and staging["promote_to"] == "chat-prod"
    assert staging["href"] == "/deployments/acme/gitops/chat-staging"
    assert prod["state"] == "none" and prod["version"] is None and prod["deployment_id"] is None
