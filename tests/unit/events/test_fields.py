"""The strict field readers behind every parser's error messages."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from bot.events import MalformedEvent, parse_slack_command, parse_slack_interaction
from bot.events.fields import (
    load_json,
    optional_bool,
    optional_int,
    optional_list,
    optional_object,
    optional_str,
    parse_time,
    require_int,
    require_str,
    require_version_str,
    string_map,
)


@pytest.mark.parametrize(
    ("read", "value", "message"),
    [
        (require_str, "", "thing: 'k' is empty"),
        (require_str, 1, "thing: 'k' must be a string, got an integer"),
        (optional_str, ["x"], "thing: 'k' must be a string, got a list"),
        (require_int, None, "thing has no 'k' integer"),
        (require_int, True, "thing: 'k' must be an integer, got a boolean"),
        (optional_int, 1.5, "thing: 'k' must be an integer, got a number"),
        (optional_bool, "yes", "thing: 'k' must be true or false, got a string"),
        (optional_object, "x", "thing: 'k' must be an object, got a string"),
        (optional_list, "x", "thing: 'k' must be a list, got a string"),
        (require_version_str, 1.5, "thing: 'k' must be a string or an integer, got a number"),
        (require_version_str, "", "thing: 'k' must be a string or an integer, got a string"),
        (string_map, {"a": None}, "thing: 'k.a' must be a string, got null"),
    ],
)
def test_readers_refuse_wrong_values(read: Any, value: object, message: str) -> None:
    with pytest.raises(MalformedEvent) as caught:
        read({"k": value}, "k", "thing")

    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("read", "expected"),
    [
        (optional_str, None),
        (optional_int, None),
        (optional_bool, False),
        (optional_object, None),
        (optional_list, []),
        (string_map, {}),
    ],
)
def test_optional_readers_accept_absence(read: Any, expected: object) -> None:
    assert read({}, "k", "thing") == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("0001-01-01T00:00:00Z", None),
        ("2024-05-02T10:00:00", datetime(2024, 5, 2, 10, tzinfo=UTC)),  # naive is taken as UTC
        ("2024-05-02T10:00:00.123456789+02:00", datetime(2024, 5, 2, 8, 0, 0, 123456, tzinfo=UTC)),
        (1714644000, datetime(2024, 5, 2, 10, tzinfo=UTC)),
    ],
)
def test_parse_time(value: object, expected: datetime | None) -> None:
    assert parse_time(value, "t") == expected


def test_parse_time_refuses_other_kinds() -> None:
    with pytest.raises(MalformedEvent, match="t must be a timestamp, got an object"):
        parse_time({}, "t")


def test_load_json_refuses_bytes_that_are_not_utf8() -> None:
    with pytest.raises(MalformedEvent, match="body is not"):
        load_json(b'{"a": "\xff"}', "body")


def test_slack_form_values_must_be_text() -> None:
    with pytest.raises(MalformedEvent, match="Slack command field 'text' must be text, got a list"):
        parse_slack_command({"text": ["a"]})  # type: ignore[dict-item]


def test_interaction_without_trigger_id_or_action_ts_gets_a_content_id() -> None:
    payload = (
        '{"type": "block_actions", "user": {"id": "U1"}, '
        '"actions": [{"action_id": "a", "value": "v"}], "message": {"ts": "1.2"}}'
    )

    (first,) = parse_slack_interaction({"payload": payload})
    (again,) = parse_slack_interaction({"payload": payload})

    assert first.dedupe_key.startswith("slack-")
    assert first.dedupe_key == again.dedupe_key
    assert first.domain is not None
    assert first.domain.message_ts == "1.2"  # type: ignore[union-attr]
