"""ChatOps grammars: PR comments (``/gitops ...``, ``atlantis ...``) and the Slack command.

Parsing is pure (``parse_comment``, ``parse_slack_text``); ``render_comment_reply`` and
``render_slack_reply`` turn help and error results into text from ``templates/commands/``.
Both surfaces run through one runner, ``bot.commands.execute`` (permission first, then the
acknowledgement, the work and the answer); ``comments`` and ``slack_commands`` feed it.
"""

from __future__ import annotations

from bot.commands.grammar import (
    ATLANTIS_EXECUTABLE,
    COMMAND_FLAGS,
    COMMENT_COMMANDS,
    GITOPS_EXECUTABLE,
    Command,
    CommentParse,
    DidYouMean,
    NotForUs,
    Usage,
    parse_comment,
    validate_dir,
    validate_workspace,
)
from bot.commands.render import render_comment_reply, render_slack_reply
from bot.commands.slack import SLACK_ARGUMENTS, SlackParse, SlackRequest, SlackUsage, parse_slack_text

__all__ = [
    "ATLANTIS_EXECUTABLE",
    "COMMAND_FLAGS",
    "COMMENT_COMMANDS",
    "GITOPS_EXECUTABLE",
    "SLACK_ARGUMENTS",
    "Command",
    "CommentParse",
    "DidYouMean",
    "NotForUs",
    "SlackParse",
    "SlackRequest",
    "SlackUsage",
    "Usage",
    "parse_comment",
    "parse_slack_text",
    "render_comment_reply",
    "render_slack_reply",
    "validate_dir",
    "validate_workspace",
]
