"""What a deployment's page shows (pure): how each commit came (merge, squash, revert, promotion),
the history of version changes, and the promotion chain's stages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.console.deployment_view import (
    Commit,
    Known,
    Merged,
    Recorded,
    change_kind,
    history,
    merged_from,
    stage_json,
    timeline,
)
from bot.console.overview_view import Configured, Facts, Newest, OpenPull, group_rows, groups

AT = datetime(2026, 12, 14, 9, 0, tzinfo=UTC)
REPO = "acme/gitops"
PULLS = "https://github.example/acme/gitops/pull/{number}"


@pytest.mark.parametrize(
    ("subject", "body", "merged"),
    [
        (
            "Merge pull request #12 from acme/gitops-bot/chat/1.2.0",
            "chat: deploy 1.2.0 (from 1.1.0)\n\nmore",
            Merged("chat: deploy 1.2.0 (from 1.1.0)", 12, "gitops-bot/chat/1.2.0"),
        ),
        (
            "Merge pull request #3 from fork/main",
            "",
            Merged("Merge pull request #3 from fork/main", 3, "main"),
        ),
        ("chat: deploy 1.3.0 (#14)", "", Merged("chat: deploy 1.3.0", 14, None)),
        ("bump chat by hand", "", Merged("bump chat by hand", None, None)),
        ("Merge branch 'main' into x", "", Merged("Merge branch 'main' into x", None, None)),
        (  # GitLab's default merge commit
            "Merge branch 'gitops-bot/chat/1.4.0' into 'main'",
            "chat: deploy 1.4.0 (from 1.3.0)\n\nSee merge request platform/gitops!21",
            Merged("chat: deploy 1.4.0 (from 1.3.0)", 21, "gitops-bot/chat/1.4.0"),
        ),
        (
            "Merge branch 'feature' into 'main'",
            "See merge request platform/sre/gitops!7\n",
            Merged("Merge branch 'feature' into 'main'", 7, "feature"),
        ),
    ],
)
def test_how_a_commit_came_to_the_branch(subject: str, body: str, merged: Merged) -> None:
    assert merged_from(subject, body) == merged


@pytest.mark.parametrize(
    ("merged", "kind"),
    [
        (Merged('Revert "chat: deploy 1.2.0"', 13, "gitops-bot/revert/chat/1.2.0"), "revert"),
        (Merged('Revert "chat: deploy 1.2.0" (#13)', 13, None), "revert"),
        (Merged("chat-prod: deploy 1.2.0", 15, "gitops-bot/chat-prod/1.2.0"), "promotion"),
        (Merged("chat: deploy 1.2.0", 12, "gitops-bot/chat/1.2.0"), "update"),
        (Merged("chat: deploy 1.2.0", 12, "gitops-bot/chat-prod/1.2.0"), "pull request"),  # another's branch
        (Merged("pin chat", 9, "pin"), "pull request"),
        (Merged("pin chat", None, None), "commit"),
    ],
)
def test_change_kind(merged: Merged, kind: str) -> None:
    name = "chat-prod" if merged.number == 15 else "chat"
    assert change_kind(name, merged, frozenset({15})) == kind


def commit(sha: str, version: str | None, minutes: int, subject: str, body: str = "") -> Commit:
    return Commit(sha * 40, "alice", AT + timedelta(minutes=minutes), subject, body, version)


def test_history_keeps_the_version_changes_with_their_pull_requests() -> None:
    commits = [  # newest first, as git log gives them
        commit("e", "1.2.0", 50, "Merge pull request #15 from acme/gitops-bot/chat/1.2.0",
               "chat: deploy 1.2.0"),
        commit("d", "1.0.0", 40, "values: more replicas"),  # the version did not change: left out
        commit("c", "1.0.0", 30, "Merge pull request #14 from acme/gitops-bot/revert/chat/1.1.0",
               'Revert "chat: deploy 1.1.0"'),
        commit("b", "1.1.0", 20, "chat: deploy 1.1.0 (#13)"),
        commit("a", "1.0.0", 10, "initial"),
    ]  # fmt: skip
    known = Known(
        recorded={"e" * 40: Recorded(31, "analysing", 8, "https://forge/pull/15")},
        promotions=frozenset(),
        pull_urls={14: "https://forge/pull/14"},
    )
    entries = history("chat", commits, (None, None), known, PULLS)
    assert [(e.kind, e.previous_version, e.version, e.pr_number) for e in entries] == [
        ("update", "1.0.0", "1.2.0", 15),
        ("revert", "1.1.0", "1.0.0", 14),
        ("pull request", "1.0.0", "1.1.0", 13),
        ("commit", None, "1.0.0", None),
    ]
    assert [e.pr_url for e in entries] == [
        "https://forge/pull/15",  # the recorded deployment's
        "https://forge/pull/14",  # the bot's own pull request's
        "https://github.example/acme/gitops/pull/13",  # built from the forge's address
        None,
    ]
    assert entries[0].title == "chat: deploy 1.2.0" and entries[2].title == "chat: deploy 1.1.0"
    assert entries[0].to_json()["analysis_id"] == 8 and entries[0].to_json()["status"] == "analysing"
    assert entries[1].to_json()["status"] is None and entries[0].short == "e" * 10


def test_history_compares_the_oldest_commit_with_its_parent() -> None:
    commits = [commit("b", "1.1.0", 20, "bump"), commit("a", "1.0.0", 10, "bump")]
    assert [e.version for e in history("chat", commits, ("1.0.0", None), Known({}), PULLS)] == ["1.1.0"]
    assert history("chat", [commit("a", None, 1, "removed the key")], ("1.0.0", None), Known({}), PULLS) == []


def test_a_new_digest_of_the_same_tag_is_a_change() -> None:
    newer = Commit("b" * 40, "ci", AT, "repush", "", "1.1.0", "sha256:" + "2" * 64)
    older = Commit("a" * 40, "ci", AT, "push", "", "1.1.0", "sha256:" + "1" * 64)
    entries = history("chat", [newer, older], (None, None), Known({}), PULLS)
    assert [(e.previous_version, e.version) for e in entries] == [("1.1.0", "1.1.0"), (None, "1.1.0")]


def newest(name: str, version: str, status: str = "passed", id: int = 1) -> Newest:
    return Newest(id, REPO, name, version, None, status, AT + timedelta(minutes=id))


def chain(facts: dict[str, Facts]) -> list:
    configured = [
        Configured(REPO, "chat-staging", "chat-canary", 0),
        Configured(REPO, "chat-canary", "chat-prod", 1),
        Configured(REPO, "chat-prod", None, 2),
    ]
    (group,) = groups(configured, [f.newest for f in facts.values() if f.newest])
    return group_rows(group, {(REPO, name): item for name, item in facts.items()})


@pytest.mark.parametrize(
    ("staging", "canary", "prod", "notes"),
    [
        (
            Facts(newest("chat-staging", "1.2.0", id=3)),
            Facts(newest("chat-canary", "1.2.0", id=2)),
            Facts(newest("chat-prod", "1.1.0", id=1)),
            [("first", "first stage"), ("same", "runs what chat-staging runs"),
             ("differs", "chat-canary runs 1.2.0")],
        ),
        (
            Facts(newest("chat-staging", "1.3.0", id=3)),
            Facts(newest("chat-canary", "1.2.0", id=2), pulls=(OpenPull(21, None, "1.3.0", "promotion"),)),
            Facts(),
            [("first", "first stage"), ("waiting", "promotion of 1.3.0 from chat-staging open as #21"),
             ("differs", "chat-canary runs 1.2.0")],
        ),
        (
            Facts(),
            Facts(),
            Facts(),
            [("first", "first stage"), ("empty", "nothing deployed yet; promoted from chat-staging"),
             ("empty", "nothing deployed yet; promoted from chat-canary")],
        ),
        (
            Facts(),
            Facts(newest("chat-canary", "1.0.0", id=2)),
            Facts(),
            [("first", "first stage"), ("differs", "chat-staging runs nothing yet"),
             ("differs", "chat-canary runs 1.0.0")],
        ),
    ],
)  # fmt: skip
def test_the_chain_as_a_timeline(staging: Facts, canary: Facts, prod: Facts, notes: list) -> None:
    rows = chain({"chat-staging": staging, "chat-canary": canary, "chat-prod": prod})
    stages = timeline(rows, "chat-canary")
    assert [(stage.relation, stage.note) for stage in stages] == notes
    assert [stage.current for stage in stages] == [False, True, False]
    assert stage_json(stages[1])["href"] == "/deployments/acme/gitops/chat-canary"
