"""Replies rendered from templates/commands with the app's Jinja2 environment."""

from __future__ import annotations

import pytest

from bot.commands import (
    DidYouMean,
    Usage,
    parse_comment,
    parse_slack_text,
    render_comment_reply,
    render_slack_reply,
)
from bot.templating import template_environment


@pytest.fixture(scope="module")
def templates():
    return template_environment()


def test_help_lists_every_command_with_the_executable_typed(templates) -> None:
    reply = parse_comment("atlantis help")
    assert isinstance(reply, Usage)
    text = render_comment_reply(reply, templates)
    assert text.startswith("```cmake\n") and text.rstrip().endswith("```")
    for name in ("plan", "apply", "unlock", "cancel", "rollback", "promote", "status", "help"):
        assert f"\n  {name} " in text
    assert "atlantis plan -d . -- -target=resource" in text
    assert "/gitops plan" not in text


def test_error_shows_the_message_and_the_command_usage(templates) -> None:
    reply = parse_comment("/gitops plan -e")
    assert isinstance(reply, Usage)
    text = render_comment_reply(reply, templates)
    assert "Error: unknown shorthand flag: 'e' in -e.\nUsage of plan:\n" in text
    assert "  /gitops plan [-p project | -d dir [-w workspace]] [--verbose] [-- terraform args]" in text
    for synopsis in ("-w, --workspace string", "-d, --dir string", "-p, --project string", "    --verbose"):
        assert synopsis in text


def test_command_help_has_no_error_line(templates) -> None:
    reply = parse_comment("atlantis apply --help")
    assert isinstance(reply, Usage)
    text = render_comment_reply(reply, templates)
    assert "Usage of apply:" in text and "Error:" not in text


def test_unknown_command_lists_the_commands(templates) -> None:
    reply = parse_comment("atlantis paln")
    assert isinstance(reply, Usage)
    text = render_comment_reply(reply, templates)
    assert 'Error: unknown command "paln".' in text
    assert "Run 'atlantis --help' for usage." in text
    listed = "plan, apply, unlock, approve_policies, cancel, rollback, promote, pause, resume, status, help"
    assert f"Available commands: {listed}" in text


def test_flagless_command_usage(templates) -> None:
    reply = parse_comment("/gitops unlock -d .")
    assert isinstance(reply, Usage)
    text = render_comment_reply(reply, templates)
    assert "Usage of unlock:\n  /gitops unlock\n" in text and "Flags:" not in text


def test_cancel_usage_says_what_it_stops_and_keeps(templates) -> None:
    reply = parse_comment("atlantis cancel -p staging")
    assert isinstance(reply, Usage)
    text = render_comment_reply(reply, templates)
    assert "Error: unknown shorthand flag: 'p' in -p.\nUsage of cancel:\n  atlantis cancel\n" in text
    assert "Stops this pull request's queued and running plans and applies." in text
    assert "Its locks and saved plans are kept; unlock releases them." in text and "Flags:" not in text


def test_did_you_mean(templates) -> None:
    reply = parse_comment("terraform plan")
    assert isinstance(reply, DidYouMean)
    assert render_comment_reply(reply, templates).strip() == (
        "Did you mean to use `/gitops` (or `atlantis`) instead of `terraform`?"
    )


def test_slack_help_and_usage(templates) -> None:
    help_text = render_slack_reply(parse_slack_text("help"), templates)  # type: ignore[arg-type]
    for synopsis in (
        "deploy <deployment> <version>",
        "rollback <deployment>",
        "status [deployment]",
        "locks",
        "unlock <lock-id>",
    ):
        assert f"/gitops {synopsis}" in help_text
    usage = render_slack_reply(parse_slack_text("deploy chat"), templates)  # type: ignore[arg-type]
    assert (
        usage.strip() == ":warning: deploy needs <version>.\nUsage: `/gitops deploy <deployment> <version>`"
    )
    unknown = render_slack_reply(parse_slack_text("frob"), templates)  # type: ignore[arg-type]
    assert "Commands: deploy, rollback, status, locks, unlock, help." in unknown
