"""A deployment's whole story in one Slack thread, and the buttons on its top message."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from bot.notify import CanaryInterval
from bot.notify.render import PROMOTE_ACTION, ROLLBACK_ACTION
from bot.storage.models import Deployment, SlackThread
from tests.integration.slack.conftest import ALICE, BOB, REPO, SlackEnv
from tests.support.botenv import distribution_push

CHANNEL = "C0MLDEPLOY"


def top_message(env: SlackEnv, deployment: str = "chat") -> dict[str, Any]:
    (top,) = [
        m for m in env.slack.messages.values() if "thread_ts" not in m and f"*{deployment}* " in m["text"]
    ]
    return top


def buttons(message: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        element["action_id"]: element
        for block in message.get("blocks") or []
        if block["type"] == "actions"
        for element in block["elements"]
    }


def replies(env: SlackEnv, thread_ts: str) -> list[str]:
    return [
        c.body["text"] for c in env.slack.calls_to("chat.postMessage") if c.body.get("thread_ts") == thread_ts
    ]


def merged_update(env: SlackEnv, version: str) -> int:
    bot = env.bot
    assert bot.post_registry(distribution_push("serving/chat", version, "sha256:" + "c" * 64)) == 202
    bot.run_jobs()
    pull = next(p for p in bot.standin.pulls(REPO) if p.head_ref == f"gitops-bot/chat/{version}")
    bot.standin.merge_pull_request(REPO, pull.number, user="alice")
    bot.run_jobs()
    with bot.services.database.sessions() as session:
        return session.scalars(select(Deployment.id).where(Deployment.version == version)).one()


def failing_interval(env: SlackEnv, deployment_id: int, index: int) -> None:
    """What the canary analysis notifies for a failing interval (issue 6 sends it the same way)."""
    env.bot.services.notifier.notify(
        CanaryInterval(
            repo=REPO,
            channel="#ml-deploys",
            deployment="chat",
            version="1.1.0",
            deployment_id=deployment_id,
            index=index,
            verdict="fail",
            evidence={
                "request_count": 120,
                "measurements": [
                    {
                        "metric": "error_rate",
                        "value": 0.31,
                        "threshold": "max 0.05",
                        "status": "fail",
                        "sample_count": 12,
                    }
                ],
            },
        )
    )
    env.bot.run_jobs()


def test_one_thread_follows_a_deployment_from_its_pull_request_to_its_rollback(any_db_env: SlackEnv) -> None:
    env = any_db_env
    deployment_id = merged_update(env, "1.1.0")
    top = top_message(env)
    thread_ts = top["ts"]
    assert "*chat* `1.0.0` → `1.1.0`" in top["text"] and "Canary running" in top["text"], top["text"]
    assert set(buttons(top)) == {ROLLBACK_ACTION, PROMOTE_ACTION}
    rollback_button = buttons(top)[ROLLBACK_ACTION]
    assert rollback_button["style"] == "danger" and rollback_button["confirm"]["style"] == "danger"
    assert rollback_button["text"]["text"] == "Roll back now"

    failing_interval(env, deployment_id, 0)
    failing_interval(env, deployment_id, 0)  # delivered twice: counted once
    assert "1 failed" in top_message(env)["text"]

    # Bob may only read; Alice presses twice: one revert pull request.
    env.press(rollback_button, user=BOB, message_ts=thread_ts)
    assert "may not run `rollback`" in env.last_answer()
    env.press(rollback_button, user=ALICE, message_ts=thread_ts)
    env.press(rollback_button, user=ALICE, message_ts=thread_ts)
    env.bot.run_jobs()
    first, second = env.answers()[-2:]
    assert "revert" in first.lower() or "pull request" in first, first
    assert "Already done" in second, second
    reverts = [p for p in env.bot.standin.pulls(REPO) if p.head_ref.startswith("gitops-bot/revert/")]
    assert len(reverts) == 1
    assert "Rolling back" in top_message(env)["text"]
    assert buttons(top_message(env)) == {}  # decided: no buttons left

    env.bot.standin.merge_pull_request(REPO, reverts[0].number, user="alice")
    env.bot.run_jobs()
    final = top_message(env)
    assert "Rolled back" in final["text"] and "`1.0.0`" in final["text"], final["text"]

    # Everything else is a reply in that one thread, in order.
    texts = replies(env, thread_ts)
    kinds = ["Update PR opened", "Canary analysis started", "Interval 1", "Rollback of", "Rollback merged"]
    positions = [next(i for i, text in enumerate(texts) if kind in text) for kind in kinds]
    assert positions == sorted(positions), texts
    assert len([t for t in texts if "Interval 1" in t]) == 1
    assert "`error_rate` = 0.31" in next(t for t in texts if "Interval 1" in t)
    top_level = [c for c in env.slack.calls_to("chat.postMessage") if "thread_ts" not in c.body]
    assert len(top_level) == 1
    assert env.slack.calls_to("chat.update")
    with env.bot.services.database.sessions() as session:
        (row,) = session.scalars(select(SlackThread)).all()
        assert (row.channel, row.thread_ts) == (CHANNEL, thread_ts)
        assert row.state["stage"] == "rolled_back"
    (pressed,) = [a for a in env.bot.actions("slack.button") if a["outcome"] == "done"]
    assert pressed["actor"].startswith(f"slack:{ALICE}")


def test_promote_button(env: SlackEnv) -> None:
    merged_update(env, "1.1.0")
    promote = buttons(top_message(env))[PROMOTE_ACTION]
    assert "confirm" in promote and "style" not in promote["confirm"]
    env.press(promote)
    env.press(promote)
    env.bot.run_jobs()
    assert "Already done" in env.answers()[-1]
    promoted = [p for p in env.bot.standin.pulls(REPO) if p.head_ref == "gitops-bot/chat-prod/1.1.0"]
    assert len(promoted) == 1
    assert "Promoting" in top_message(env)["text"]
    assert "Update PR opened" in " ".join(replies(env, top_message(env, "chat-prod")["ts"]))  # its own thread


def test_a_slack_outage_delays_the_message_and_never_fails_the_work(env: SlackEnv) -> None:
    env.slack.fail_next("chat.postMessage", status=503, error="service_unavailable")
    bot = env.bot
    assert bot.post_registry(distribution_push("serving/chat", "1.1.0", "sha256:" + "c" * 64)) == 202
    ran = bot.run_jobs(allow_failures=True)
    # The update pull request is open; only the delivery job waits for its retry.
    assert [p for p in bot.standin.pulls(REPO) if p.head_ref == "gitops-bot/chat/1.1.0"]
    assert [outcome for handler, outcome in ran if handler == "notify.deliver"] == ["retry"]
    assert all(outcome == "done" for handler, outcome in ran if handler != "notify.deliver")
    from sqlalchemy import update

    from bot.storage.models import Job
    from bot.storage.types import utcnow

    with bot.services.database.transaction() as session:  # the backoff has passed
        session.execute(update(Job).where(Job.status == "queued").values(run_after=utcnow()))
    bot.run_jobs()
    assert "Update PR opened" in " ".join(replies(env, top_message(env)["ts"]))


def test_a_rate_limit_is_waited_out_with_retry_after(env: SlackEnv) -> None:
    env.slack.fail_next("chat.postMessage", status=429, retry_after=1)
    bot = env.bot
    assert bot.post_registry(distribution_push("serving/chat", "1.1.0", "sha256:" + "c" * 64)) == 202
    bot.run_jobs()
    posts = env.slack.calls_to("chat.postMessage")
    assert len(posts) == 3  # the refused one, the top message again, the reply
    assert top_message(env)["ts"]


def test_a_button_that_did_nothing_stays_usable(env: SlackEnv) -> None:
    value = '{"deployment":"chat","key":"acme/gitops:chat:9.9.9","repo":"acme/gitops","version":"9.9.9"}'
    value = value.replace("acme/gitops", env.bot.repo)
    button = {"action_id": ROLLBACK_ACTION, "value": value}
    env.press(button)
    assert "Nothing to roll back" in env.last_answer()
    env.press(button)
    answer = env.last_answer()
    assert "Already done" not in answer and "Nothing to roll back" in answer
    forged = {"action_id": ROLLBACK_ACTION, "value": value.replace(env.bot.repo, "evil/repo")}
    env.press(forged)
    assert "not a configured GitOps repository" in env.last_answer()
