"""Drift detection's decisions: which projects are due a check, and what a check means for the issue."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.terraform.drift_schedule import (
    DueCheck,
    check_schedule,
    drift_status,
    due_checks,
    is_due,
    issue_action,
    issue_title,
    schedule_slot,
)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("schedule", "now", "slot"),
    [
        ("0 */6 * * *", "2026-03-01T07:30:00", "2026-03-01T06:00:00"),
        ("0 */6 * * *", "2026-03-01T06:00:00", "2026-03-01T06:00:00"),  # on the slot: that slot
        ("0 */6 * * *", "2026-03-01T05:59:59", "2026-03-01T00:00:00"),
        ("0 */6 * * *", "2026-03-01T00:00:30", "2026-03-01T00:00:00"),
        ("*/15 * * * *", "2026-03-01T10:44:59", "2026-03-01T10:30:00"),
        ("30 2 * * 1", "2026-03-04T12:00:00", "2026-03-02T02:30:00"),  # weekly, Mondays
        ("@daily", "2026-03-01T23:59:00", "2026-03-01T00:00:00"),
        ("0 0 1 * *", "2026-03-01T00:00:00", "2026-03-01T00:00:00"),
    ],
)
def test_the_slot_is_the_latest_firing_at_or_before_now(schedule: str, now: str, slot: str) -> None:
    assert schedule_slot(schedule, at(now)) == at(slot)


def test_the_slot_is_utc_whatever_the_clock_zone() -> None:
    from datetime import timedelta, timezone

    paris = datetime(2026, 3, 1, 8, 30, tzinfo=timezone(timedelta(hours=1)))  # 07:30 UTC
    assert schedule_slot("0 */6 * * *", paris) == at("2026-03-01T06:00:00")


@pytest.mark.parametrize(
    ("now", "last_checked", "due"),
    [
        ("2026-03-01T07:30:00", None, "2026-03-01T06:00:00"),  # never checked: the current slot
        ("2026-03-01T07:30:00", "2026-03-01T05:00:00", "2026-03-01T06:00:00"),  # checked last slot
        ("2026-03-01T07:30:00", "2026-03-01T06:00:05", None),  # this slot is done
        ("2026-03-01T07:30:00", "2026-03-01T06:00:00", None),  # checked at the very slot
        ("2026-03-01T12:00:00", "2026-03-01T06:00:05", "2026-03-01T12:00:00"),  # the next slot
        ("2026-03-02T01:00:00", "2026-02-20T06:00:00", "2026-03-02T00:00:00"),  # missed slots: one check
    ],
)
def test_due_when_the_current_slot_was_not_checked(
    now: str, last_checked: str | None, due: str | None
) -> None:
    checked = at(last_checked) if last_checked else None
    assert is_due("0 */6 * * *", at(now), checked) == (at(due) if due else None)


def test_due_checks_per_scheduled_project() -> None:
    projects = {"staging": "0 */6 * * *", "prod": "0 * * * *"}
    now = at("2026-03-01T07:30:00")
    checked = {"staging": at("2026-03-01T06:10:00"), "prod": at("2026-03-01T06:10:00")}
    assert due_checks("acme/infra", projects, now, checked) == [
        DueCheck("acme/infra", "prod", at("2026-03-01T07:00:00"))
    ]
    assert [check.project for check in due_checks("acme/infra", projects, now, {})] == ["staging", "prod"]


def test_the_dedupe_key_names_repo_project_and_slot() -> None:
    check = DueCheck("acme/infra", "staging", at("2026-03-01T06:00:00"))
    assert check.dedupe_key == "drift:acme/infra:staging:2026-03-01T06:00Z"


@pytest.mark.parametrize(
    ("ok", "has_changes", "issue_open", "status", "action"),
    [
        (True, True, False, "drift", "open_or_update"),
        (True, True, True, "drift", "open_or_update"),
        (True, False, True, "no_drift", "close"),
        (True, False, False, "no_drift", "keep"),
        (False, False, True, "failed", "keep"),  # a failed plan says nothing about drift
        (False, True, False, "failed", "keep"),
    ],
)
def test_what_a_check_means_for_the_issue(
    ok: bool, has_changes: bool, issue_open: bool, status: str, action: str
) -> None:
    assert drift_status(ok=ok, has_changes=has_changes) == status
    assert issue_action(drift_status(ok=ok, has_changes=has_changes), issue_open=issue_open) == action


def test_the_issue_title() -> None:
    assert issue_title("serving-staging") == "Drift in serving-staging"


@pytest.mark.parametrize("schedule", ["0 */6 * * *", "@hourly", " 15 3 * * 1-5 ", " @daily "])
def test_a_valid_schedule_is_accepted(schedule: str) -> None:
    assert check_schedule(schedule) == schedule.strip()


@pytest.mark.parametrize("schedule", ["61 * * * *", "* * * *", "0 0 * * * *", "every hour", ""])
def test_an_invalid_schedule_is_refused(schedule: str) -> None:
    with pytest.raises(ValueError, match="is not a cron schedule"):
        check_schedule(schedule)
