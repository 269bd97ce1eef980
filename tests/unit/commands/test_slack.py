"""Slack slash command grammar: the text after ``/gitops``."""

from __future__ import annotations

import pytest

from bot.commands import SlackRequest, SlackUsage, parse_slack_text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "deploy chat-llm-staging 1.2.3",
            SlackRequest("deploy", deployment="chat-llm-staging", version="1.2.3"),
        ),
        ("deploy chat-llm v1.4.0-rc.1", SlackRequest("deploy", deployment="chat-llm", version="v1.4.0-rc.1")),
        (
            "deploy reranker 7",
            SlackRequest("deploy", deployment="reranker", version="7"),
        ),  # an MLflow version
        ("  deploy   chat   1.2.3  ", SlackRequest("deploy", deployment="chat", version="1.2.3")),
        ("DEPLOY chat 1.2.3", SlackRequest("deploy", deployment="chat", version="1.2.3")),
        (
            "deploy Chat.LLM_2 1.0.0+build.5",
            SlackRequest("deploy", deployment="Chat.LLM_2", version="1.0.0+build.5"),
        ),
        ("rollback chat-llm-staging", SlackRequest("rollback", deployment="chat-llm-staging")),
        ("status", SlackRequest("status")),
        ("status chat-llm", SlackRequest("status", deployment="chat-llm")),
        ("locks", SlackRequest("locks")),
        ("unlock 12", SlackRequest("unlock", lock_id=12)),
        ("unlock #12", SlackRequest("unlock", lock_id=12)),
    ],
)
def test_requests(text: str, expected: SlackRequest) -> None:
    assert parse_slack_text(text) == expected


@pytest.mark.parametrize("text", ["", "   ", "help", "-h", "--help", "help deploy"])
def test_help(text: str) -> None:
    assert parse_slack_text(text) == SlackUsage("help", "", None)


@pytest.mark.parametrize(
    ("text", "command", "message"),
    [
        ("frobnicate", None, 'unknown command "frobnicate"'),
        ("plan", None, 'unknown command "plan"'),  # a PR comment command
        ("deploy", "deploy", "deploy needs <deployment>, <version>"),
        ("deploy chat", "deploy", "deploy needs <version>"),
        ("deploy chat 1.2.3 now", "deploy", "unexpected argument(s) \N{EN DASH} now"),
        ("rollback", "rollback", "rollback needs <deployment>"),
        ("rollback a b", "rollback", "unexpected argument(s) \N{EN DASH} b"),
        ("status a b", "status", "unexpected argument(s) \N{EN DASH} b"),
        ("locks all", "locks", "unexpected argument(s) \N{EN DASH} all"),
        ("unlock", "unlock", "unlock needs <lock-id>"),
        (
            "deploy -chat 1.2.3",
            "deploy",
            "invalid deployment name \"-chat\": use letters, digits, '.', '_' and '-'",
        ),
        (
            "deploy ../etc 1.2.3",
            "deploy",
            "invalid deployment name \"../etc\": use letters, digits, '.', '_' and '-'",
        ),
        (
            "deploy chat/llm 1.2.3",
            "deploy",
            "invalid deployment name \"chat/llm\": use letters, digits, '.', '_' and '-'",
        ),
        (
            "rollback .hidden",
            "rollback",
            "invalid deployment name \".hidden\": use letters, digits, '.', '_' and '-'",
        ),
        (
            "status <@U123>",
            "status",
            "invalid deployment name \"<@U123>\": use letters, digits, '.', '_' and '-'",
        ),
        ("deploy chat 1.2.3;rm", "deploy", 'invalid version "1.2.3;rm": expected a tag such as 1.4.2'),
        ("deploy chat -1", "deploy", 'invalid version "-1": expected a tag such as 1.4.2'),
        ("deploy chat .1", "deploy", 'invalid version ".1": expected a tag such as 1.4.2'),
        (
            "deploy chat " + "1" * 129,
            "deploy",
            f'invalid version "{"1" * 129}": expected a tag such as 1.4.2',
        ),
        ("unlock abc", "unlock", 'invalid lock id "abc": expected a number from `/gitops locks`'),
        ("unlock 0", "unlock", 'invalid lock id "0": expected a number from `/gitops locks`'),
        ("unlock -3", "unlock", 'invalid lock id "-3": expected a number from `/gitops locks`'),
        ("unlock 1.5", "unlock", 'invalid lock id "1.5": expected a number from `/gitops locks`'),
    ],
)
def test_errors(text: str, command: str | None, message: str) -> None:
    assert parse_slack_text(text) == SlackUsage("error", message, command)
