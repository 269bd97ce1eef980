"""``notify.deliver`` (handlers/notifications.py): one Slack thread per deployment story.

Slack is the loopback Slack stand-in (tests/support/slack_standin.py, a local HTTP server in
this process); the forge is never asked anything by a delivery.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from bot.notify import DELIVER_HANDLER, RollbackFailed
from bot.storage.models import SlackThread
from bot.worker import PermanentJobError
from tests.support.slack_standin import SlackStandIn
from tests.unit.handlers.conftest import MakeDriver
from tests.unit.handlers.driver import REPO, HandlerDriver

NOTE = RollbackFailed(
    repo=REPO,
    channel="#ml-deploys",
    deployment="chat-llm-staging",
    version="1.2.3",
    reason="the revert conflicts with a later change",
)


def job(note: RollbackFailed = NOTE) -> dict[str, Any]:
    """The payload ``Notifier.notify`` enqueues."""
    return {"notification": note.model_dump(mode="json")}


def threads(driver: HandlerDriver) -> list[tuple[str, str, str]]:
    with driver.services.database.sessions() as session:
        return [(row.key, row.channel, row.thread_ts) for row in session.scalars(select(SlackThread))]


@pytest.fixture(scope="module")
def slack_server() -> Iterator[SlackStandIn]:
    # One server for the module: stopping one waits out its half-second poll.
    with SlackStandIn() as standin:
        yield standin


@pytest.fixture
def slack(slack_server: SlackStandIn) -> SlackStandIn:
    slack_server.calls.clear()
    return slack_server


@pytest.fixture
def with_slack(make_driver: MakeDriver, slack: SlackStandIn) -> HandlerDriver:
    return make_driver(slack_bot_token=slack.token, slack_api_url=slack.base_url)


def test_without_a_slack_token_nothing_is_delivered(driver: HandlerDriver) -> None:
    driver.run(DELIVER_HANDLER, payload=job())

    assert threads(driver) == [] and driver.forge.calls == []


def test_a_note_without_a_channel_is_not_delivered(with_slack: HandlerDriver, slack: SlackStandIn) -> None:
    with_slack.run(DELIVER_HANDLER, payload=job(NOTE.model_copy(update={"channel": None})))

    assert slack.calls == [] and threads(with_slack) == []


def test_the_first_note_opens_the_thread_and_a_redelivery_does_not_reply_twice(
    with_slack: HandlerDriver, slack: SlackStandIn
) -> None:
    with_slack.run(DELIVER_HANDLER, payload=job())
    with_slack.run(DELIVER_HANDLER, payload=job())  # a retried job, a redelivered webhook

    top, reply = slack.calls_to("chat.postMessage")
    assert "thread_ts" not in top.body and "the revert conflicts with a later change" in reply.body["text"]
    (thread,) = threads(with_slack)
    assert thread == (f"{REPO}:chat-llm-staging:1.2.3", "C0MLDEPLOY", reply.body["thread_ts"])
    assert with_slack.forge.calls == []


def test_a_refusal_is_permanent_and_posts_nothing(with_slack: HandlerDriver, slack: SlackStandIn) -> None:
    slack.fail_next("chat.postMessage", error="channel_not_found")
    with pytest.raises(PermanentJobError, match="channel_not_found"):
        with_slack.run(DELIVER_HANDLER, payload=job())

    (thread,) = threads(with_slack)
    assert thread[2] == ""  # no top message yet: a later note posts it
