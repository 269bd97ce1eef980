"""The Slack adapter's pure parts and its client against the Web API stand-in."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from slack_sdk.signature import Clock, SignatureVerifier

from bot.adapters.slack_api import SlackClient, SlackRefused, SlackUnavailable
from bot.intake.signatures import slack_signature
from bot.notify import CanaryInterval, CanaryStep, RollbackMerged, RollbackOpened, UpdateProposed
from bot.notify import blocks as bk
from bot.notify.render import (
    PAUSE_ACTION,
    PROMOTE_ACTION,
    RESUME_ACTION,
    ROLLBACK_ACTION,
    decision_buttons,
    render_note,
    render_top,
)
from bot.notify.story import apply
from bot.templating import template_environment
from tests.support.slack_standin import SlackStandIn
from tests.unit.intake.test_signatures import SLACK_BODY, SLACK_SECRET, SLACK_SIGNATURE, SLACK_TIMESTAMP

STORY = {"repo": "acme/gitops", "channel": "#ml-deploys", "deployment": "chat", "version": "1.1.0"}


class _FixedClock(Clock):
    def now(self) -> float:
        return float(SLACK_TIMESTAMP) + 10


def test_the_official_signing_vector_agrees_with_slack_sdk() -> None:
    verifier = SignatureVerifier(SLACK_SECRET, clock=_FixedClock())
    assert verifier.is_valid(SLACK_BODY, SLACK_TIMESTAMP, SLACK_SIGNATURE)
    assert slack_signature(SLACK_SECRET, SLACK_TIMESTAMP, SLACK_BODY) == SLACK_SIGNATURE
    assert verifier.generate_signature(timestamp=SLACK_TIMESTAMP, body=SLACK_BODY) == SLACK_SIGNATURE


def interval(index: int, verdict: str = "fail") -> CanaryInterval:
    return CanaryInterval(**STORY, deployment_id=1, index=index, verdict=verdict, evidence={})  # type: ignore[arg-type]


def test_a_story_counts_each_interval_once_and_never_moves_back() -> None:
    state = apply(None, UpdateProposed(**STORY, previous_version="1.0.0", pr_number=3, pr_url="http://pr/3"))
    state = apply(state, interval(0))
    again = apply(state, interval(0))
    assert again is state and state.canary is not None and state.canary.failed == 1
    state = apply(state, RollbackOpened(**STORY, reason="canary failed", pr_url="http://pr/4"))
    state = apply(state, RollbackMerged(**STORY, restored_version="1.0.0"))
    late = apply(state, interval(1))
    assert late.stage == "rolled_back" and late.canary is not None and late.canary.failed == 2


def test_buttons_only_while_a_decision_is_open() -> None:
    templates = template_environment()
    state = apply(None, interval(0))
    assert {b["action_id"] for b in decision_buttons(templates, state)} == {ROLLBACK_ACTION, PROMOTE_ACTION}
    text, blocks = render_top(templates, state)
    assert blocks[-1]["type"] == "actions" and "Canary running" in text
    rolled = apply(state, RollbackMerged(**STORY, restored_version="1.0.0"))
    assert decision_buttons(templates, rolled) == []
    dry = apply(
        None,
        CanaryInterval(**{**STORY, "dry_run": True}, deployment_id=1, index=0, verdict="fail", evidence={}),
    )
    assert decision_buttons(templates, dry) == []


def step(number: int, event: str, label: str) -> CanaryStep:
    return CanaryStep(**STORY, step=number, steps=3, label=label, weight=10, event=event, by="alice")  # type: ignore[arg-type]


def test_a_climbing_canary_shows_its_step_and_can_be_paused_resumed_or_skipped() -> None:
    templates = template_environment()
    state = apply(apply(None, interval(0, "pass")), step(2, "committed", "step 2/3 (50%)"))
    labels = {b["action_id"]: b["text"]["text"] for b in decision_buttons(templates, state)}
    assert labels == {ROLLBACK_ACTION: "Roll back now", PAUSE_ACTION: "Pause", PROMOTE_ACTION: "Skip to 100%"}
    text, _ = render_top(templates, state)
    assert "Traffic: *step 2/3 (50%)*" in text
    paused = apply(state, step(2, "paused", "step 2/3 (50%)"))
    assert RESUME_ACTION in {b["action_id"] for b in decision_buttons(templates, paused)}
    assert "paused" in render_top(templates, paused)[0]
    last = apply(paused, step(3, "promoted", "step 3/3 (100%)"))
    labels = {b["action_id"]: b["text"]["text"] for b in decision_buttons(templates, last)}
    assert labels[PROMOTE_ACTION] == "Promote" and PAUSE_ACTION in labels
    note = render_note(templates, step(3, "promoted", "step 3/3 (100%)"))
    assert note.startswith(":fast_forward: *chat* `1.1.0`: canary promoted to *step 3/3 (100%)* by alice")


def test_user_text_is_escaped_in_messages() -> None:
    note = RollbackOpened(**STORY, reason="<!channel> & <http://evil|click>")
    text = render_note(template_environment(), note)
    assert "&lt;!channel&gt; &amp; &lt;http://evil|click&gt;" in text


def test_block_builders_respect_slack_limits() -> None:
    value = bk.encode_value({"repo": "acme/gitops", "deployment": "chat"})
    assert bk.decode_value(value) == {"deployment": "chat", "repo": "acme/gitops"}
    with pytest.raises(ValueError):
        bk.decode_value("not json")
    with pytest.raises(ValueError):
        bk.button("x", action_id="a", value="v" * 2001)
    assert len(bk.button("x" * 200, action_id="a", value="v")["text"]["text"]) == 75
    assert all(len(b["text"]["text"]) <= 3000 for b in bk.sections("line\n" * 2000))


@pytest.fixture
def slack() -> Iterator[SlackStandIn]:
    with SlackStandIn() as standin:
        yield standin


def test_client_posts_updates_and_answers_response_urls(slack: SlackStandIn) -> None:
    client = SlackClient(slack.token, base_url=slack.base_url)
    posted = client.post_message("#ml-deploys", text="top", blocks=[bk.section("top")])
    assert posted.channel == "C0MLDEPLOY"
    reply = client.post_message(posted.channel, text="reply", thread_ts=posted.ts)
    client.update_message(posted.channel, posted.ts, text="top v2")
    assert slack.messages[(posted.channel, posted.ts)]["text"] == "top v2"
    assert slack.messages[(posted.channel, reply.ts)]["thread_ts"] == posted.ts
    client.respond(slack.response_url("x"), text="done")
    (respond,) = slack.calls_to("respond")
    assert respond.body == {"text": "done", "response_type": "ephemeral"}


def test_client_waits_out_a_short_retry_after_and_hands_back_a_long_one(slack: SlackStandIn) -> None:
    client = SlackClient(slack.token, base_url=slack.base_url, max_retry_after_seconds=2)
    slack.fail_next("chat.postMessage", status=429, retry_after=1)
    started = time.monotonic()
    client.post_message("#ml-deploys", text="hello")
    assert time.monotonic() - started >= 1.0
    assert len(slack.calls_to("chat.postMessage")) == 2
    slack.fail_next("chat.postMessage", status=429, retry_after=120)
    with pytest.raises(SlackUnavailable) as raised:
        client.post_message("#ml-deploys", text="hello")
    assert raised.value.retry_after == 120 and raised.value.status == 429


def test_client_classifies_refusals(slack: SlackStandIn) -> None:
    with pytest.raises(SlackRefused) as raised:
        SlackClient("xoxb-wrong", base_url=slack.base_url).post_message("#ml-deploys", text="x")
    assert raised.value.error == "invalid_auth"
    slack.fail_next("respond", status=404, error="expired_url")
    with pytest.raises(SlackRefused):
        SlackClient(slack.token, base_url=slack.base_url).respond(slack.response_url(), text="late")


def test_a_refused_model_version_says_which_gates_failed() -> None:
    from bot.notify import GatesFailed

    gates = {
        "run_url": "http://mlflow/#/experiments/1/runs/r2",
        "gates": [
            {"gate": "eval_accuracy", "wanted": ">= 0.82", "found": "0.7", "passed": False},
            {"gate": "tag validation_status", "wanted": "= approved", "found": "approved", "passed": True},
        ],
    }
    note = GatesFailed(**STORY, reason="1 of 2 gates failed: eval_accuracy: 0.7 < min 0.82", gates=gates)
    text = render_note(template_environment(), note)
    assert text.startswith(":no_entry: *chat* `1.1.0` failed its model gates, so no pull request was opened")
    assert (
        ":x: `eval_accuracy` &gt;= 0.82: 0.7" in text
        and "<http://mlflow/#/experiments/1/runs/r2|MLflow run>" in text
    )
