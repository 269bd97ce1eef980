"""What reaches the database: escapes for what PostgreSQL refuses, refusals for identities that do not fit."""

from __future__ import annotations

import json
import math

import pytest

from bot import fast_json
from bot.events import ParsedEvent, PullRequestComment
from bot.intake.errors import IntakeError
from bot.intake.storable import escape_text, storable_event, storable_json


def _event(**changes: object) -> ParsedEvent:
    values: dict[str, object] = {
        "source": "github",
        "event": "star",
        "action": "created",
        "delivery_id": "d-1",
        "dedupe_key": "d-1",
        "payload": {"a": 1},
        "domain": None,
        "ignored_reason": "not acted on",
    }
    values.update(changes)
    return ParsedEvent(**values)  # type: ignore[arg-type]


def test_escape_text_writes_nul_and_lone_surrogates_as_json_escapes() -> None:
    assert escape_text("a\x00b") == "a\\u0000b"
    assert escape_text("\ud800x\udfff") == "\\ud800x\\udfff"
    assert escape_text("plain ✓ 🚀") == "plain ✓ 🚀"


def test_storable_json_reuses_what_needs_no_change() -> None:
    payload = {"a": ["x", {"b": 1.5}], "c": None}
    assert storable_json(payload) is payload


def test_storable_json_escapes_keys_values_and_non_finite_numbers() -> None:
    payload = {"k\x00": ["v\ud800", math.nan, math.inf, -math.inf, 3], "ok": "fine"}
    assert storable_json(payload) == {
        "k\\u0000": ["v\\ud800", "NaN", "Infinity", "-Infinity", 3],
        "ok": "fine",
    }


def test_domain_strings_are_escaped_too() -> None:
    comment = PullRequestComment(
        repo="acme/gitops",
        pr_number=7,
        comment_id=1,
        comment_url="u",
        html_url="h",
        author="alice",
        author_association="MEMBER",
        body="/gitops plan\x00",
    )
    stored = storable_event(_event(domain=comment, ignored_reason=None))
    assert isinstance(stored.domain, PullRequestComment)
    assert stored.domain.body == "/gitops plan\\u0000"


def test_a_dedupe_key_that_does_not_fit_is_replaced_by_its_digest() -> None:
    long_key = storable_event(_event(dedupe_key="k" * 513)).dedupe_key
    nul_key = storable_event(_event(dedupe_key="trigger\x00")).dedupe_key
    assert long_key.startswith("sha256:") and len(long_key) == 71
    assert nul_key.startswith("sha256:") and nul_key != long_key
    assert storable_event(_event(dedupe_key="k" * 512)).dedupe_key == "k" * 512


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"event": "e" * 65}, "the event name (X-GitHub-Event header) is 65 characters long; at most 64"),
        ({"action": "a" * 65}, "the 'action' field is 65 characters long; at most 64"),
        ({"delivery_id": "d" * 256}, "the delivery id (X-GitHub-Delivery header) is 256 characters long"),
        ({"delivery_id": "d\x00"}, "the delivery id (X-GitHub-Delivery header) holds a NUL character"),
        ({"source": "mlflow", "event": "\ud800"}, "the 'entity' field holds a NUL character or a lone"),
        ({"source": "slack", "action": "c" * 65}, "the command or interaction type is 65 characters"),
    ],
)
def test_identities_that_do_not_fit_are_400(changes: dict[str, object], message: str) -> None:
    with pytest.raises(IntakeError) as refused:
        storable_event(_event(**changes))
    assert refused.value.status_code == 400
    assert message in refused.value.message


def test_limits_at_the_column_size_are_accepted() -> None:
    stored = storable_event(_event(event="e" * 64, action="a" * 64, delivery_id="d" * 255))
    assert (len(stored.event), len(stored.action or ""), len(stored.delivery_id)) == (64, 64, 255)


def test_a_payload_stored_as_it_is_carries_its_json_text_for_the_database() -> None:
    clean = storable_event(_event(payload={"a": [1, "é"], "b": None}))
    assert clean.payload_json is not None
    assert json.loads(clean.payload_json) == {"a": [1, "é"], "b": None}
    assert json.loads(fast_json.dumps(fast_json.Written(clean.payload_json))) == clean.payload
    escaped = storable_event(_event(payload={"a": "x\x00"}))
    assert escaped.payload == {"a": "x\\u0000"} and escaped.payload_json is None  # written at insert
