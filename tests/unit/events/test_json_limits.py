"""JSON the parsers refuse by name, JSON they keep as text, and what makes a PR comment new."""

from __future__ import annotations

import json

import pytest

from bot.events import MalformedEvent, parse_github
from bot.events.fields import load_json, optional_int, require_int
from bot.events.github import comment_dedupe_key
from tests.unit.events.samples import data, github_headers


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "body is nested deeper than 100 levels"),
        (b"[" * 101 + b"]" * 101, "body is nested deeper than 100 levels"),
        (b'{"a": ' + b"1" * 4301 + b"}", "body holds an integer literal longer than 4300 digits"),
        (b'{"a": [' + b"{}," * 10 + b'{"b": ' + b"[" * 99 + b"]" * 99 + b"}]}", "nested deeper than 100"),
    ],
    ids=["deep-1e5", "deep-101", "integer-4301-digits", "deep-inside-object"],
)
def test_unreadable_documents_are_refused_by_name(body: bytes, message: str) -> None:
    with pytest.raises(MalformedEvent, match=message):
        load_json(body, "body")


def test_depth_100_and_4300_digits_are_read() -> None:
    assert load_json(b"[" * 100 + b"]" * 100, "body") is not None
    assert load_json(b"1" * 4300, "body") == int("1" * 4300)


def test_non_finite_numbers_are_kept_as_their_source_text() -> None:
    assert load_json(b"[NaN, Infinity, -Infinity, 1e999, -1e999, 0.5]", "body") == [
        "NaN",
        "Infinity",
        "-Infinity",
        "1e999",
        "-1e999",
        0.5,
    ]


@pytest.mark.parametrize("read", [require_int, optional_int])
def test_integers_outside_64_bits_are_refused(read) -> None:
    assert read({"k": 2**63 - 1}, "k", "thing") == 2**63 - 1
    with pytest.raises(MalformedEvent, match="thing: 'k' is out of the 64-bit integer range"):
        read({"k": 2**63}, "k", "thing")


def _comment(action: str = "created", **comment: object) -> dict:
    payload = data("github/issue_comment.created.json")
    payload["action"] = action
    payload["comment"].update(comment)
    return payload


def test_a_pr_comment_is_keyed_on_its_comment_not_its_delivery() -> None:
    first = parse_github(github_headers("issue_comment", "d-1"), json.dumps(_comment()).encode())[0]
    replay = parse_github(github_headers("issue_comment", "d-2"), json.dumps(_comment()).encode())[0]
    assert first.dedupe_key == replay.dedupe_key == "issue_comment:acme/gitops:2090011223:created"
    assert (first.delivery_id, replay.delivery_id) == ("d-1", "d-2")


def test_edits_are_keyed_on_comment_and_updated_at() -> None:
    one = comment_dedupe_key("edited", _comment("edited", updated_at="2024-05-02T10:21:00Z"))
    two = comment_dedupe_key("edited", _comment("edited", updated_at="2024-05-02T10:22:00Z"))
    assert one == "issue_comment:acme/gitops:2090011223:edited:2024-05-02T10:21:00Z"
    assert two != one
    assert (
        comment_dedupe_key("deleted", _comment("deleted")) == "issue_comment:acme/gitops:2090011223:deleted"
    )


@pytest.mark.parametrize(
    "payload",
    [
        {"action": "created", "comment": {"id": "1"}},
        {"action": "created", "comment": {"id": True}},
        {"action": "created"},
        {"action": "edited", "comment": {"id": 1}},  # an edit without updated_at
    ],
)
def test_without_a_usable_comment_id_the_delivery_id_stays_the_key(payload: dict) -> None:
    assert comment_dedupe_key(payload["action"], payload) is None


def test_other_events_keep_the_delivery_id() -> None:
    parsed = parse_github(github_headers("push", "guid-9"), json.dumps(data("github/push.json")).encode())[0]
    assert parsed.dedupe_key == "guid-9"
