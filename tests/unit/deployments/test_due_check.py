"""The due-analysis check's rules, one row each (bot.deployments.due_check): when it must read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.deployments.due_check import SAFETY_READ_SECONDS, DueCheckState, LastRead, ReadReason, read_reason

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
TOKEN = (4096, 1, 8192, 2)
LATER = NOW + timedelta(seconds=20)


def last(
    earliest: datetime | None = LATER, token: tuple[int, ...] | None = TOKEN, at: float = 100.0
) -> LastRead:
    return LastRead(earliest=earliest, token=token, at=at)


# (rule, last read, monotonic now, token now, listening, signalled, expected)
CASES: list[tuple[str, LastRead | None, float, tuple[int, ...] | None, bool, bool, ReadReason | None]] = [
    ("1 first read", None, 100.0, TOKEN, False, False, "first"),
    ("1 first read, PostgreSQL", None, 100.0, None, True, False, "first"),
    ("2 PostgreSQL, nobody listening", last(token=None), 101.0, None, False, False, "unwatched"),
    ("2 in-memory SQLite", last(token=None), 101.0, None, False, False, "unwatched"),
    ("3 PostgreSQL said an analysis changed", last(token=None), 101.0, None, True, True, "signalled"),
    ("3 a signal wins over an unchanged file", last(), 101.0, TOKEN, False, True, "signalled"),
    ("4 the SQLite file changed", last(), 101.0, (4096, 1, 8200, 3), False, False, "written"),
    ("5 the earliest due time has come", last(earliest=NOW), 101.0, TOKEN, False, False, "due"),
    ("5 and on PostgreSQL", last(earliest=NOW - timedelta(1), token=None), 101.0, None, True, False, "due"),
    ("6 safety net", last(), 100.0 + SAFETY_READ_SECONDS, TOKEN, False, False, "safety"),
    ("7 nothing changed, nothing due yet", last(), 101.0, TOKEN, False, False, None),
    ("7 no active analysis at all", last(earliest=None), 129.0, TOKEN, False, False, None),
    ("7 PostgreSQL listening, nothing said", last(token=None), 129.0, None, True, False, None),
]


@pytest.mark.parametrize(
    ("rule", "previous", "monotonic", "token", "listening", "signalled", "expected"),
    CASES,
    ids=[case[0] for case in CASES],
)
def test_read_reason(
    rule: str,
    previous: LastRead | None,
    monotonic: float,
    token: tuple[int, ...] | None,
    listening: bool,
    signalled: bool,
    expected: ReadReason | None,
) -> None:
    reason = read_reason(
        previous, now=NOW, monotonic=monotonic, token=token, listening=listening, signalled=signalled
    )
    assert reason == expected, rule


def test_a_signal_is_taken_once() -> None:
    state = DueCheckState()
    assert not state.take_signal()
    state.changed()
    state.changed()
    assert state.take_signal()
    assert not state.take_signal()


def test_listening_follows_the_listener() -> None:
    state = DueCheckState()
    assert not state.listening
    up = [True]
    state.watch(lambda: up[0])
    assert state.listening
    up[0] = False
    assert not state.listening
