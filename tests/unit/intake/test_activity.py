"""Workers in the intake's process give way to it, boundedly (bot.intake.activity)."""

from __future__ import annotations

import pytest

from bot.intake.activity import MOST_SECONDS, QUIET_SECONDS, IntakeActivity, give_way_seconds


@pytest.mark.parametrize(
    ("in_flight", "quiet_for", "waited", "expected"),
    [
        # 1. waited the bound already: claim, however busy
        (3, 0.0, MOST_SECONDS, 0.0),
        (0, 0.0, MOST_SECONDS + 0.01, 0.0),
        # 2. requests in flight: a quiet period, never past the bound
        (1, 10.0, 0.0, QUIET_SECONDS),
        (1, 0.0, MOST_SECONDS - 0.001, pytest.approx(0.001)),
        # 3. the last request just ended: the rest of the quiet period
        (0, 0.002, 0.0, pytest.approx(QUIET_SECONDS - 0.002)),
        # 4. quiet: claim now
        (0, QUIET_SECONDS, 0.0, 0.0),
        (0, float("inf"), 0.0, 0.0),
    ],
)
def test_give_way_seconds(in_flight: int, quiet_for: float, waited: float, expected: float) -> None:
    assert give_way_seconds(in_flight, quiet_for, waited) == expected


def test_activity_counts_requests_in_flight_and_when_the_last_one_ended() -> None:
    now = [100.0]
    activity = IntakeActivity(clock=lambda: now[0])
    assert activity.give_way_seconds(0.0) == 0.0  # no request yet
    activity.started()
    activity.started()
    activity.finished()
    assert activity.give_way_seconds(0.0) == QUIET_SECONDS  # one still in flight
    activity.finished()
    now[0] += 0.001
    assert activity.give_way_seconds(0.0) == pytest.approx(QUIET_SECONDS - 0.001)
    now[0] += QUIET_SECONDS
    assert activity.give_way_seconds(0.0) == 0.0
