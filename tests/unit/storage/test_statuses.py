"""Status values as the database and the JSON API hold them: renaming a member must not change a value."""

from __future__ import annotations

from enum import StrEnum

import pytest

from bot.storage.models import (
    AnalysisStatus,
    DeploymentStatus,
    EventStatus,
    JobStatus,
    PlanStatus,
    TerraformJobRunStatus,
    TerraformRunStatus,
    UpdateStatus,
)


@pytest.mark.parametrize(
    ("enum", "stored"),
    [
        (EventStatus, ["queued", "ignored", "done", "failed"]),
        (JobStatus, ["queued", "running", "done", "dead", "cancelled"]),
        (UpdateStatus, ["open", "merged", "closed", "superseded", "dry_run"]),
        (
            DeploymentStatus,
            [
                "analysing",
                "passed",
                "failed",
                "inconclusive",
                "rolling_back",
                "rolled_back",
                "superseded",
                "recorded",
            ],
        ),
        (
            AnalysisStatus,
            ["waiting_rollout", "running", "passed", "failed", "stopped_inconclusive", "cancelled"],
        ),
        (PlanStatus, ["planned", "no_changes", "failed", "applied", "apply_failed"]),
        (TerraformJobRunStatus, ["created", "finished", "consumed", "abandoned"]),
        (TerraformRunStatus, ["running", "succeeded", "failed", "cancelled"]),
    ],
)
def test_values_are_the_stored_strings(enum: type[StrEnum], stored: list[str]) -> None:
    assert [member.value for member in enum] == stored
    # A member is its value: comparing, formatting and JSON see the plain string.
    for member in enum:
        assert member == member.value and f"{member}" == member.value
