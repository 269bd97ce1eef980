"""The filters of /events and /actions and how a stored document is shown: pure."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.console.activity_view import (
    ActionFilters,
    EventFilters,
    parse_action_filters,
    parse_event_filters,
    redacted_document,
    shown_document,
    shown_preview,
    split_kind,
)
from bot.pagination import BadRequest


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, EventFilters()),
        (
            {"source": "github", "status": "", "repo": " acme/gitops "},
            EventFilters(source="github", repo="acme/gitops"),
        ),
        (
            {"kind": "pull_request.opened", "status": "ignored"},
            EventFilters(kind="pull_request.opened", status="ignored"),
        ),
        ({"deployment": "chat"}, EventFilters(deployment="chat")),
    ],
)
def test_event_filters(query: dict[str, str], expected: EventFilters) -> None:
    assert parse_event_filters(query) == expected


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"source": "ftp"}, "source must be one of github"),
        ({"status": "finished"}, "status must be one of queued"),
        ({"kind": "two words"}, "kind is a name"),
        ({"repo": "x" * 300}, "repo is at most 255 characters"),
    ],
)
def test_event_filters_refused_say_why(query: dict[str, str], message: str) -> None:
    with pytest.raises(BadRequest, match=message):
        parse_event_filters(query)


def test_action_filters_and_what_was_given() -> None:
    filters = parse_action_filters({"outcome": "refused", "actor": "alice", "kind": ""})
    assert filters == ActionFilters(outcome="refused", actor="alice")
    assert filters.given() == {"outcome": "refused", "actor": "alice"}
    with pytest.raises(BadRequest, match="outcome is a word"):
        parse_action_filters({"outcome": "refused; drop"})


def test_kinds_split_as_the_events_table_keeps_them() -> None:
    assert split_kind("pull_request.opened") == ("pull_request", "opened")
    assert split_kind("push") == ("push", None)


def test_secret_looking_keys_are_scrubbed_at_any_depth() -> None:
    document: dict[str, Any] = {
        "token": "t",
        "user": {"name": "a", "api_key": "k", "Authorization": "Bearer x"},
        "items": [{"response_url": "https://hooks.slack.com/x", "text": "hello"}],
        "password": "",  # nothing to hide: left as it is
    }
    assert redacted_document(document, str) == {
        "token": "[redacted]",
        "user": {"name": "a", "api_key": "[redacted]", "Authorization": "[redacted]"},
        "items": [{"response_url": "[redacted]", "text": "hello"}],
        "password": "",
    }


def test_a_document_is_scrubbed_then_redacted_by_the_bots_redactor() -> None:
    def redact(text: str) -> str:
        return text.replace("s3cret", "[redacted]")

    shown = shown_document({"note": "the value s3cret leaked", "signature": "sha256=1"}, redact)
    assert "s3cret" not in shown and "sha256=1" not in shown and '"note"' in shown
    assert redacted_document({"note": "s3cret"}, redact) == {"note": "[redacted]"}
    assert shown_document(None, redact) == "" and redacted_document(None, redact) is None


def test_the_shown_text_is_json_dumps_indented_and_a_preview_is_its_start() -> None:
    document: dict[str, Any] = {
        "lines": [f"line {n}" for n in range(1000)],
        "empty": {},
        "none": [],
        "n": 1.5,
    }
    whole = shown_document(document, str)
    assert whole == json.dumps(document, indent=2, ensure_ascii=False)
    start, cut = shown_preview(document, str, limit=100)
    assert cut and len(start) <= 100 and whole.startswith(start + "\n")
    assert shown_preview({"a": 1}, str, limit=100) == (whole_of({"a": 1}), False)


def whole_of(document: Any) -> str:
    return shown_document(document, str)


def test_a_preview_is_redacted_after_the_cut_and_never_splits_a_value() -> None:
    def redact(text: str) -> str:
        return text.replace("s3cret-value", "[redacted]")

    document = {"items": [{"n": n, "note": f"item {n} holds s3cret-value"} for n in range(400)]}
    start, cut = shown_preview(document, redact, limit=1_000)
    assert cut and len(start) <= 1_000 and "s3cret" not in start
    assert all(
        line.strip().endswith(("{", "}", "},", "[", ",", '"')) or line.strip() == ""
        for line in start.splitlines()
    )
    whole, cut_whole = shown_preview({"a": "s3cret-value"}, redact)
    assert (whole, cut_whole) == ('{\n  "a": "[redacted]"\n}', False)
    assert shown_preview(None, redact) == ("", False)
