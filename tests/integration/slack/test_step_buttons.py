"""The Slack thread of a canary that climbs traffic steps: it shows the step, and its buttons pause,
resume and skip to 100% (through the same rules as the pull request comments)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.notify.render import PAUSE_ACTION, PROMOTE_ACTION, RESUME_ACTION
from tests.integration.slack.conftest import ALICE, BOB, REPO, SlackEnv
from tests.integration.slack.test_thread import buttons, merged_update, top_message
from tests.support.botenv import bot_env
from tests.support.github_standin_git import git
from tests.support.slack_standin import SlackStandIn

CONFIG = f"""\
version: 1
deployments:
  - name: chat
    trigger: {{image: {{repository: registry.example.com/serving/chat}}}}
    targets: [{{file: apps/chat/values.yaml, key: image.tag}}]
    canary:
      interval: 60s
      metrics:
        - {{name: error_rate, query: 'vector(0)', max: 0.05}}
      steps: [{{weight: 5, duration: 5m}}, {{weight: 25, duration: 5m}}, {{weight: 100}}]
      weight_target: {{file: apps/chat/values.yaml, key: canaryTrafficPercent}}
      steps_via: push
notify:
  slack: {{channel: "#ml-deploys"}}
users:
  {ALICE}: alice
  {BOB}: bob
"""
VALUES = "image:\n  tag: 1.0.0\ncanaryTrafficPercent: 100\n"


@pytest.fixture
def env(tmp_path: Path, sqlite_database_url: str) -> Iterator[SlackEnv]:
    files = {".gitops-bot.yaml": CONFIG, "apps/chat/values.yaml": VALUES}
    with (
        SlackStandIn() as slack,
        bot_env(
            tmp_path, sqlite_database_url, repo=REPO, files=files, slack_bot_token=slack.token,
            slack_api_url=slack.base_url,
        ) as bot,
    ):  # fmt: skip
        bot.standin.set_permission(REPO, "alice", "maintain")
        bot.standin.set_permission(REPO, "bob", "read")
        yield SlackEnv(bot, slack)


def on_main(env: SlackEnv) -> str:
    return git(env.bot.standin.repo_path(REPO), "show", "main:apps/chat/values.yaml").stdout.decode()


def test_the_thread_pauses_resumes_and_skips_a_climbing_canary(env: SlackEnv) -> None:
    merged_update(env, "1.1.0")
    env.bot.run_jobs()
    top = top_message(env)
    assert "Traffic: *step 1/3 (5%)*" in top["text"]
    shown = buttons(top)
    assert shown[PROMOTE_ACTION]["text"]["text"] == "Skip to 100%"

    env.press(shown[PAUSE_ACTION], user=BOB)  # may only read
    assert "may not run" in env.last_answer() or "not allowed" in env.last_answer()
    env.press(shown[PAUSE_ACTION])
    assert "Paused the canary of chat 1.1.0 at step 1/3 (5%)" in env.last_answer()
    env.bot.run_jobs()
    assert "paused" in top_message(env)["text"]
    env.press(buttons(top_message(env))[RESUME_ACTION])
    assert "Resumed the canary of chat 1.1.0" in env.last_answer()

    env.press(buttons(top_message(env))[PROMOTE_ACTION])
    assert "Promoting the canary of chat 1.1.0 to step 3/3 (100%)" in env.last_answer()
    env.bot.run_jobs()  # the step job commits 100 and the canary passes
    assert on_main(env) == "image:\n  tag: 1.1.0\ncanaryTrafficPercent: 100\n"
    assert "Canary passed" in top_message(env)["text"]
    kinds = [a["kind"] for a in env.bot.actions() if a["kind"].startswith("slack.")]
    assert {"slack.pause", "slack.resume", "slack.promote"} <= set(kinds)
