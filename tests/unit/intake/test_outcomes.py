"""What a stored delivery is answered with, and how it is counted: tables, no HTTP."""

from __future__ import annotations

import pytest

from bot.intake.pipeline import slack_outcome, webhook_outcome
from bot.intake.store import StoredEvent


def stored(status: str, event: str = "push") -> StoredEvent:
    return StoredEvent(
        id=None if status == "duplicate" else 1,
        source="github",
        event=event,
        action=None,
        delivery_id="d",
        status=status,
    )


@pytest.mark.parametrize(
    ("outcomes", "webhook", "slack"),
    [
        ([stored("queued")], (202, "accepted"), "accepted"),
        ([stored("ignored")], (202, "ignored"), "accepted"),
        ([stored("ignored"), stored("queued")], (202, "accepted"), "accepted"),
        ([stored("duplicate")], (200, "duplicate"), "duplicate"),
        ([stored("duplicate"), stored("queued")], (202, "accepted"), "accepted"),
        ([stored("ignored", "ping")], (200, "ping"), "accepted"),
        ([stored("duplicate", "ping")], (200, "duplicate"), "duplicate"),  # a duplicate first
    ],
)
def test_outcomes(outcomes: list[StoredEvent], webhook: tuple[int, str], slack: str) -> None:
    assert webhook_outcome(outcomes) == webhook
    assert slack_outcome(outcomes) == slack
