"""``/gitops`` in Slack through signed requests: each command, refusals, retries, audit."""

from __future__ import annotations

from bot.terraform.locks import LockKey
from tests.integration.slack.conftest import ALICE, BOB, MALLORY, REPO, SlackEnv
from tests.support.botenv import distribution_push


def test_the_intake_acknowledges_with_an_ephemeral_working_on_it(env: SlackEnv) -> None:
    response = env.command("help")
    assert response.status_code == 200
    assert response.json() == {"response_type": "ephemeral", "text": "Working on it…"}
    assert not env.slack.calls  # the answer comes from the worker
    assert "/gitops deploy" in env.last_answer()


def test_a_wrong_signature_is_refused(env: SlackEnv) -> None:
    body = env.command_body("status")
    response = env.bot.client.post(
        "/slack/commands",
        content=body,
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": "1531420618",
            "X-Slack-Signature": "v0=" + "0" * 64,
        },
    )
    assert response.status_code == 401
    assert env.bot.run_jobs() == []


def test_deploy_opens_the_update_pull_request(env: SlackEnv) -> None:
    env.command("deploy chat 1.2.0")
    answer = env.last_answer()
    assert "deploy chat 1.2.0" in answer and "pull request" in answer, answer
    (pull,) = [p for p in env.bot.standin.pulls(REPO) if p.state == "open"]
    assert pull.head_ref == "gitops-bot/chat/1.2.0"
    (action,) = env.bot.actions("slack.deploy")
    assert action["actor"] == f"slack:{ALICE} (@{ALICE.lower()})"
    assert "as alice" in action["summary"]


def test_slack_retries_do_not_run_a_command_twice(env: SlackEnv) -> None:
    body = env.command_body("deploy chat 1.3.0")
    first = env._post("/slack/commands", body)
    retry = env._post(
        "/slack/commands", body, {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    )
    assert first.status_code == retry.status_code == 200
    ran = env.bot.run_jobs()
    assert [handler for handler, _ in ran].count("slack.command") == 1
    assert len(env.bot.actions("slack.deploy")) == 1
    assert len([p for p in env.bot.standin.pulls(REPO) if p.head_ref == "gitops-bot/chat/1.3.0"]) == 1
    assert len(env.answers()) == 1


def test_unknown_and_unauthorised_users_are_refused_and_audited(env: SlackEnv) -> None:
    env.command("deploy chat 1.2.0", user=MALLORY)
    assert "not in `users:`" in env.last_answer()
    env.command("deploy chat 1.2.0", user=BOB)
    answer = env.last_answer()
    assert "bob" in answer and "may not run `deploy`" in answer and "maintain" in answer
    env.command("rollback chat", user=BOB)
    assert "may not run `rollback`" in env.last_answer()
    assert not env.bot.standin.pulls(REPO)
    refused = [a for a in env.bot.actions() if a["kind"].startswith("slack.") and a["outcome"] == "refused"]
    assert {a["actor"].split()[0] for a in refused} == {f"slack:{MALLORY}", f"slack:{BOB}"}
    # Reading is allowed to readers.
    env.command("status", user=BOB)
    assert "No deployment" in env.last_answer()


def test_status_after_a_merge_and_rollback_command(env: SlackEnv) -> None:
    bot = env.bot
    assert bot.post_registry(distribution_push("serving/chat", "1.1.0", "sha256:" + "c" * 64)) == 202
    bot.run_jobs()
    pull = next(p for p in bot.standin.pulls(REPO) if p.head_ref == "gitops-bot/chat/1.1.0")
    bot.standin.merge_pull_request(REPO, pull.number, user="alice")
    bot.run_jobs()
    env.command("status chat", user=BOB)
    answer = env.last_answer()
    assert f"*chat* ({bot.repo}): `1.1.0` (was `1.0.0`)" in answer, answer

    env.command("rollback chat")
    answer = env.last_answer()
    assert "rollback chat" in answer and "pull request" in answer, answer
    revert = next(p for p in bot.standin.pulls(REPO) if p.head_ref == "gitops-bot/revert/chat/1.1.0")
    assert revert.state == "open"
    env.command("rollback chat")
    assert "already open" in env.last_answer()
    assert len([p for p in bot.standin.pulls(REPO) if p.head_ref.startswith("gitops-bot/revert/")]) == 1


def test_locks_and_unlock(env: SlackEnv) -> None:
    env.command("locks", user=BOB)
    assert "No Terraform locks" in env.last_answer()
    held = env.bot.services.locks.acquire(
        LockKey(env.bot.repo, "terraform/prod"), pr_number=7, pr_url=None, owner="carol"
    )
    env.command("locks", user=BOB)
    assert f"`#{held.lock.id}`" in env.last_answer()
    env.command(f"unlock {held.lock.id}", user=BOB)
    assert "may not run `unlock`" in env.last_answer()
    env.command(f"unlock {held.lock.id}")
    assert f"Released lock `#{held.lock.id}`" in env.last_answer()
    assert env.bot.services.locks.get(held.lock.id) is None
    env.command("unlock 999")
    assert "no lock `#999`" in env.last_answer()
    assert sorted(a["outcome"] for a in env.bot.actions("slack.unlock")) == ["done", "refused", "refused"]


def test_usage_errors_answer_with_the_usage(env: SlackEnv) -> None:
    env.command("deploy chat")
    assert "version" in env.last_answer()
    env.command("frobnicate")
    assert "unknown command" in env.last_answer()


def test_an_expired_response_url_falls_back_to_an_ephemeral_message(env: SlackEnv) -> None:
    env.slack.fail_next("respond", status=404, error="expired_url")
    env.command("help")
    env.bot.run_jobs()
    (ephemeral,) = env.slack.calls_to("chat.postEphemeral")
    assert ephemeral.body["user"] == ALICE and "/gitops deploy" in ephemeral.body["text"]
