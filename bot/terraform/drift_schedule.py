"""Drift detection's decisions, pure: which projects are due a check, and what a check's plan
means for the project's drift issue.

A schedule is a cron expression in UTC. Its *slot* at a moment is the latest time the schedule
fired at or before that moment; a project is due when it was never checked, or last checked before
the current slot. The slot is also in the job's dedupe key, so two leaders offering the same slot
(a paused old leader and its successor) enqueue one check.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from croniter import croniter

CHECK_HANDLER = "terraform.drift_check"

DriftStatus = Literal["drift", "no_drift", "failed"]
IssueAction = Literal["open_or_update", "close", "keep"]


@dataclass(frozen=True)
class DueCheck:
    """A drift check to enqueue: one project of one repository, for one schedule slot."""

    repo: str
    project: str
    slot: datetime

    @property
    def dedupe_key(self) -> str:
        return f"drift:{self.repo}:{self.project}:{self.slot.strftime('%Y-%m-%dT%H:%MZ')}"


def check_schedule(value: str) -> str:
    """The schedule, stripped; ValueError unless it is a five-field cron expression (or a nickname
    such as ``@daily``): croniter would read a sixth field as seconds, which a drift check has no
    use for."""
    schedule = value.strip()
    five_fields = len(schedule.split()) == 5 or schedule.startswith("@")
    if not five_fields or not croniter.is_valid(schedule):
        raise ValueError(f'{value!r} is not a cron schedule such as "0 */6 * * *" (five fields, UTC)')
    return schedule


def schedule_slot(schedule: str, now: datetime) -> datetime:
    """The latest time ``schedule`` fired at or before ``now`` (UTC, whole minutes)."""
    moment = now.astimezone(UTC).replace(microsecond=0)
    # croniter's get_prev is strictly before its start: one second later includes ``now`` itself.
    previous: datetime = croniter(schedule, moment + timedelta(seconds=1)).get_prev(datetime)
    return previous.astimezone(UTC)


def is_due(schedule: str, now: datetime, last_checked_at: datetime | None) -> datetime | None:
    """The slot to check now, or None when the current slot was already checked."""
    slot = schedule_slot(schedule, now)
    if last_checked_at is not None and last_checked_at.astimezone(UTC) >= slot:
        return None
    return slot


def due_checks(
    repo: str,
    schedules: Mapping[str, str],
    now: datetime,
    last_checked: Mapping[str, datetime],
) -> list[DueCheck]:
    """The checks due now for ``repo``, from each scheduled project's cron expression and when it
    was last checked (both by project name)."""
    due: list[DueCheck] = []
    for project, schedule in schedules.items():
        slot = is_due(schedule, now, last_checked.get(project))
        if slot is not None:
            due.append(DueCheck(repo, project, slot))
    return due


def drift_status(*, ok: bool, has_changes: bool) -> DriftStatus:
    """A plan that failed says nothing about drift; one with changes is drift."""
    if not ok:
        return "failed"
    return "drift" if has_changes else "no_drift"


def issue_action(status: DriftStatus, *, issue_open: bool) -> IssueAction:
    """Drift opens (or brings up to date) the project's issue; a clean plan closes it; a failed
    plan leaves it as it is (the drift it reports may still be there)."""
    if status == "drift":
        return "open_or_update"
    if status == "no_drift" and issue_open:
        return "close"
    return "keep"


def issue_title(project: str) -> str:
    """The drift issue's title: also how the one open issue per project is found again."""
    return f"Drift in {project}"
