"""Slack under test: the bot (real app, handlers, database, git, GitHub stand-in) and the Slack stand-in."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from bot.intake.signatures import slack_signature
from tests.support.botenv import FORGES, SLACK_SECRET, BotEnv, bot_env
from tests.support.slack_standin import SlackStandIn

REPO = "acme/gitops"
ALICE, BOB, MALLORY = "U0ALICE", "U0BOB", "U0MALLORY"  # maintainer, reader, unmapped
CONFIG = f"""\
version: 1
deployments:
  - name: chat
    trigger: {{image: {{repository: registry.example.com/serving/chat}}}}
    targets: [{{file: apps/chat/values.yaml, key: image.tag}}]
    canary:  # analysed only when the scheduler runs its steps; the tests send its notes themselves
      interval: 60s
      duration: 300s
      metrics:
        - {{name: error_rate, query: 'vector(0)', max: 0.05}}
    promote: {{to: chat-prod}}
  - name: chat-prod
    trigger: {{image: {{repository: registry.example.com/serving/chat, tags: "regex:^promoted-only$"}}}}
    targets: [{{file: apps/chat/values-prod.yaml, key: image.tag}}]
notify:
  slack: {{channel: "#ml-deploys"}}
users:
  {ALICE}: alice
  {BOB}: bob
"""
FILES = {
    ".gitops-bot.yaml": CONFIG,
    "apps/chat/values.yaml": "image:\n  tag: 1.0.0  # stable\n",
    "apps/chat/values-prod.yaml": "image:\n  tag: 1.0.0\n",
}


@dataclass
class SlackEnv:
    bot: BotEnv
    slack: SlackStandIn
    count: int = 0

    def _post(self, path: str, body: bytes, headers: dict[str, str] | None = None) -> Any:
        stamp = str(int(time.time()))
        return self.bot.client.post(
            path,
            content=body,
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Slack-Request-Timestamp": stamp,
                "X-Slack-Signature": slack_signature(SLACK_SECRET, stamp, body),
                **(headers or {}),
            },
        )

    def command_body(self, text: str, user: str = ALICE, *, trigger_id: str | None = None) -> bytes:
        self.count += 1
        return urlencode(
            {
                "token": "legacy",
                "team_id": "T1",
                "team_domain": "acme",
                "channel_id": "C0MLDEPLOY",
                "channel_name": "ml-deploys",
                "user_id": user,
                "user_name": user.lower(),
                "command": "/gitops",
                "text": text,
                "api_app_id": "A1",
                "response_url": self.slack.response_url(f"cmd{self.count}"),
                "trigger_id": trigger_id or f"{self.count}.1.{user}",
            }
        ).encode()

    def command(self, text: str, user: str = ALICE, **headers: str) -> Any:
        return self._post("/slack/commands", self.command_body(text, user), headers)

    def press(self, button: dict[str, Any], user: str = ALICE, *, message_ts: str = "1.0") -> Any:
        self.count += 1
        payload = {
            "type": "block_actions",
            "user": {"id": user, "username": user.lower(), "team_id": "T1"},
            "team": {"id": "T1"},
            "channel": {"id": "C0MLDEPLOY"},
            "container": {"type": "message", "message_ts": message_ts, "channel_id": "C0MLDEPLOY"},
            "trigger_id": f"{self.count}.2.{user}",
            "response_url": self.slack.response_url(f"act{self.count}"),
            "actions": [
                {
                    "type": "button",
                    "action_id": button["action_id"],
                    "block_id": "decide",
                    "value": button["value"],
                    "action_ts": f"{time.time():.6f}",
                }
            ],
        }
        return self._post("/slack/interactions", urlencode({"payload": json.dumps(payload)}).encode())

    def answers(self) -> list[str]:
        return [call.body["text"] for call in self.slack.calls_to("respond")]

    def last_answer(self) -> str:
        self.bot.run_jobs()
        answers = self.answers()
        assert answers, "no answer through response_url"
        return answers[-1]


@contextmanager
def slack_env(tmp_path: Path, url: str, forge: str = "github") -> Iterator[SlackEnv]:
    with (
        SlackStandIn() as slack,
        bot_env(
            tmp_path,
            url,
            repo=REPO,
            files=FILES,
            slack_bot_token=slack.token,
            slack_api_url=slack.base_url,
            forge=forge,
        ) as bot,
    ):
        bot.standin.set_permission(REPO, "alice", "maintain")
        bot.standin.set_permission(REPO, "bob", "read")
        yield SlackEnv(bot, slack)


# The Slack commands on both forges and both databases: one suite, not a copy.
@pytest.fixture(params=FORGES)
def env(request: pytest.FixtureRequest, tmp_path: Path, database_url: str) -> Iterator[SlackEnv]:
    with slack_env(tmp_path, database_url, request.param) as built:
        yield built


@pytest.fixture
def any_db_env(tmp_path: Path, database_url: str) -> Iterator[SlackEnv]:
    """On SQLite and on PostgreSQL (where the button's row lock is a real ``FOR UPDATE``)."""
    with slack_env(tmp_path, database_url) as built:
        yield built
