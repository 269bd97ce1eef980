"""Commands: ``/gitops …`` on pull requests (and ``atlantis …``) and in Slack, with its buttons.

Thin: each handler turns its event into a call of the one command runner
(``bot.commands.execute``, through ``bot.commands.comments`` and ``bot.commands.slack_commands``).
Every comment is looked at by two jobs, ``terraform.comment`` (``plan``, ``apply``, ``unlock``,
``approve_policies``, ``cancel``, and every help, usage and mistyped invocation) and
``deployments.comment`` (``rollback``, ``promote``, ``pause``, ``resume``, ``status``): their
names are stored in job rows, so both stay.

Slack: the intake checked the v0 signature, stored the event (Slack's retries carry the same
``trigger_id``, so a retry with ``X-Slack-Retry-Num`` is a duplicate and queues nothing) and
answered within 3 s with an ephemeral "Working on it…". Here, in a worker, the command runs and
its answer goes to the asker alone (``bot.commands.execute.SlackReply``).
"""

from __future__ import annotations

from bot import reasons
from bot.commands import parse_slack_text
from bot.commands.comments import addressed_to_us, run_deployment_comment, run_terraform_comment
from bot.commands.execute import Asker, SlackReply
from bot.commands.slack_commands import SlackCommands
from bot.events.model import SlackCommand, SlackInteraction
from bot.jobs import HandlerContext
from bot.reasons import Ignored
from bot.routing import Router

router = Router()


@router.register("github", "issue_comment", "created", name="terraform.comment")
def comment(ctx: HandlerContext) -> Ignored | None:
    event = addressed_to_us(ctx.services, ctx.domain)
    if isinstance(event, Ignored):
        return event
    return run_terraform_comment(ctx.services, event)


@router.register("github", "issue_comment", "created", name="deployments.comment")
def deployment_comment(ctx: HandlerContext) -> Ignored | None:
    event = addressed_to_us(ctx.services, ctx.domain)
    if isinstance(event, Ignored):
        return event
    return run_deployment_comment(ctx.services, event)


@router.register("slack", "command", name="slack.command")
def command(ctx: HandlerContext) -> Ignored | None:
    event = ctx.domain
    if not isinstance(event, SlackCommand):
        return reasons.not_this_kind("a Slack command", getattr(event, "kind", None))
    asker = Asker(event.user_id, event.user_name, ctx.event.id if ctx.event else None)
    reply = SlackReply(ctx.services, asker, event.response_url, event.channel_id, ctx.log)
    SlackCommands(ctx.services, reply).run(parse_slack_text(event.text))
    return None


@router.register("slack", "interaction", "block_actions", name="slack.button")
def button(ctx: HandlerContext) -> Ignored | None:
    event = ctx.domain
    if not isinstance(event, SlackInteraction):
        return reasons.not_this_kind("a Slack button press", getattr(event, "kind", None))
    asker = Asker(event.user_id, event.user_name, ctx.event.id if ctx.event else None)
    commands = SlackCommands(
        ctx.services, SlackReply(ctx.services, asker, event.response_url, event.channel_id, ctx.log)
    )
    for action in event.actions:
        commands.press(action.action_id, action.value)
    return None
