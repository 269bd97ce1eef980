"""Drift notes' decisions: what a check tells the Slack channel, and what it has heard of after."""

from __future__ import annotations

import json

import pytest

from bot.terraform.drift_notes import DriftNote, missing_channel, note_kind, noted_after
from bot.terraform.drift_schedule import DriftStatus

ONE = "Plan: 1 to add, 0 to change, 0 to destroy."
TWO = "Plan: 2 to add, 0 to change, 0 to destroy."


@pytest.mark.parametrize(
    ("noted", "status", "headline", "kind", "after"),
    [
        (None, "drift", ONE, "detected", ONE),  # first found
        (ONE, "drift", ONE, None, ONE),  # the same drift again: quiet
        (ONE, "drift", TWO, "changed", TWO),  # its summary changed
        (ONE, "no_drift", "No changes.", "resolved", None),  # gone
        (None, "no_drift", "No changes.", None, None),  # clean and was clean
        (ONE, "failed", "terraform plan failed", None, ONE),  # says nothing; the drift stays heard of
        (None, "failed", "terraform plan failed", None, None),
    ],
)
def test_the_channel_hears_only_news(
    noted: str | None, status: str, headline: str, kind: str | None, after: str | None
) -> None:
    assert note_kind(noted, status, headline) == kind  # type: ignore[arg-type]
    assert noted_after(noted, status, headline) == after  # type: ignore[arg-type]


def test_a_drift_seen_through_a_failed_plan_is_not_news_again() -> None:
    checks: list[tuple[DriftStatus, str]] = [
        ("drift", ONE),
        ("failed", "boom"),
        ("drift", ONE),
        ("drift", TWO),
        ("no_drift", ""),
    ]
    noted: str | None = None
    told = []
    for status, headline in checks:
        told.append(note_kind(noted, status, headline))
        noted = noted_after(noted, status, headline)
    assert told == ["detected", None, None, "changed", "resolved"]


def test_why_a_note_cannot_be_sent() -> None:
    assert missing_channel("#infra", slack_configured=True) is None
    assert "notify.slack.channel" in (missing_channel(None, slack_configured=True) or "")
    assert "GITOPS_BOT_SLACK_BOT_TOKEN" in (missing_channel("#infra", slack_configured=False) or "")


def test_a_note_travels_as_json() -> None:
    note = DriftNote("changed", "acme/infra", "staging", "#infra", TWO, ONE, "a" * 40, 7, "https://x/7", True)
    assert DriftNote.from_payload(json.loads(json.dumps(note.payload()))) == note
