"""How /updates files a deployment's updates: pure, over plain rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.console.overview_view import Configured, Newest
from bot.console.updates_view import (
    Refusal,
    UpdateRow,
    dashboard,
    entry_json,
    page_of,
    refusal_target,
)
from bot.pagination import PageRequest

T0 = datetime(2026, 12, 1, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def update(row_id: int, name: str, version: str, status: str, minute: int, **more: object) -> UpdateRow:
    return UpdateRow(row_id, "acme/gitops", name, version, status, at(minute), **more)  # type: ignore[arg-type]


def refusal(row_id: int, name: str, version: str, code: str, minute: int) -> Refusal:
    return Refusal(row_id, "acme/gitops", name, version, at(minute), code, f"why {version}", "ci")


CONFIGURED = [Configured("acme/gitops", "chat", index=0), Configured("acme/gitops", "chat-prod", index=1),
              Configured("acme/gitops", "idle", index=2)]  # fmt: skip


def test_each_update_is_filed_under_its_state_newest_first() -> None:
    newest = [Newest(1, "acme/gitops", "chat", "1.1.0", "1.0.0", "passed", at(0))]
    updates = [
        update(1, "chat", "1.1.0", "merged", 1, pr_number=1, pr_url="https://x/1"),
        update(2, "chat", "1.2.0", "superseded", 2, superseded_by=3),
        update(3, "chat", "1.3.0", "open", 3, pr_number=3),
    ]
    refusals = [
        refusal(10, "chat", "0.9.0", "older_than_current", 4),
        refusal(11, "chat-prod", "1.3.0", "no_match", 5),
    ]
    entries = dashboard(CONFIGURED, newest, updates, refusals)
    assert [entry.name for entry in entries] == ["chat-prod", "chat", "idle"]  # activity, then config order
    chat = entry_json(entries[1], {row.id: row.version for row in updates})
    assert (chat["current_version"], chat["previous_version"]) == ("1.1.0", "1.0.0")
    assert [row["version"] for row in chat["proposed"]] == ["1.3.0"]
    assert [(row["version"], row["superseded_by"]) for row in chat["superseded"]] == [("1.2.0", "1.3.0")]
    assert [row["pull_request"] for row in chat["merged"]] == [{"number": 1, "url": "https://x/1"}]
    assert [(row["category"], row["reason"]) for row in chat["refused"]] == [("backwards", "why 0.9.0")]
    idle = entry_json(entries[2], {})
    assert idle["proposed"] == idle["refused"] == [] and idle["last_activity"] is None


@pytest.mark.parametrize(
    ("code", "category"),
    [("no_match", "policy"), ("quarantined", "quarantine"), ("not_newer_than_quarantined", "quarantine"),
     ("older_than_current", "backwards"), ("newer_pending", "pending"), ("missing_file", "target"),
     ("invalid_version", "invalid"), ("something_new", "other")],
)  # fmt: skip
def test_refusals_are_filed_in_a_word(code: str, category: str) -> None:
    assert refusal(1, "chat", "1.0.0", code, 0).category == category


def test_earlier_states_are_capped_but_open_pull_requests_never_are() -> None:
    updates = [update(n, "chat", f"1.{n}.0", "closed", n) for n in range(1, 30)]
    updates += [update(100 + n, "chat", f"2.{n}.0", "open", 100 + n) for n in range(12)]
    (chat,) = [e for e in dashboard(CONFIGURED[:1], [], updates, [], keep=5) if e.name == "chat"]
    assert len(chat.history["closed"]) == 5 and chat.history["closed"][0].version == "1.29.0"
    assert len(chat.proposed) == 12


def test_pages_walk_the_order_once() -> None:
    entries = dashboard(CONFIGURED, [], [update(1, "idle", "1.0.0", "open", 1)], [])
    first, last = page_of(entries, PageRequest(2))
    assert [e.name for e in first] == ["idle", "chat"] and last is not None
    rest, end = page_of(entries, PageRequest(2, last))
    assert [e.name for e in rest] == ["chat-prod"] and end is None


def test_refusal_targets() -> None:
    assert refusal_target("chat@1.4.0") == ("chat", "1.4.0")
    assert refusal_target("chat") is None and refusal_target(None) is None and refusal_target("@1") is None
