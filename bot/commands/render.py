"""Turn the parsers' structured replies into text, from ``templates/commands/``.

Kept apart from the parsers so they stay pure functions over strings; the caller passes the
app's ``jinja2.Environment`` (``bot.services.template_environment``).
"""

from __future__ import annotations

import jinja2

from bot.commands.grammar import COMMAND_FLAGS, COMMENT_COMMANDS, DidYouMean, Usage
from bot.commands.slack import SLACK_ARGUMENTS, SlackUsage


def render_comment_reply(reply: Usage | DidYouMean, templates: jinja2.Environment) -> str:
    """The Markdown comment answering a ``Usage`` or ``DidYouMean`` parse result."""
    if isinstance(reply, DidYouMean):
        return templates.get_template("commands/did_you_mean.md.j2").render(message=reply.message)
    commands = list(COMMAND_FLAGS)
    if reply.kind == "help":
        return templates.get_template("commands/comment_help.md.j2").render(
            executable=reply.executable, commands=commands
        )
    return templates.get_template("commands/comment_usage.md.j2").render(
        kind=reply.kind,
        message=reply.message,
        command=reply.command,
        executable=reply.executable,
        commands=list(COMMENT_COMMANDS),
        flags=COMMAND_FLAGS.get(reply.command, ()) if reply.command else (),
    )


def render_slack_reply(reply: SlackUsage, templates: jinja2.Environment) -> str:
    """The Slack mrkdwn text answering a ``SlackUsage`` parse result."""
    if reply.kind == "help":
        return templates.get_template("commands/slack_help.txt.j2").render()
    return templates.get_template("commands/slack_usage.txt.j2").render(
        message=reply.message, command=reply.command, commands=list(SLACK_ARGUMENTS)
    )
