"""Slack: ``/gitops deploy|rollback|status|locks|unlock|help`` and the thread buttons.

The intake checked the v0 signature, stored the event (Slack's retries carry the same
``trigger_id``, so a retry with ``X-Slack-Retry-Num`` is a duplicate and queues nothing) and
answered within 3 s with an ephemeral "Working on it…". Here, in a worker, the command runs
and the answer goes to the command's ``response_url`` (one use of the five Slack allows in
30 minutes), or, when that URL is refused or expired, to ``chat.postEphemeral``. The work is
never redone to deliver an answer: a failed answer is logged and audited, not retried.
"""

from __future__ import annotations

from bot.adapters.slack_api import SlackError, client_from_settings
from bot.commands import parse_slack_text
from bot.commands.slack_commands import Asker, SlackCommands
from bot.events.model import SlackCommand, SlackInteraction
from bot.jobs import HandlerContext
from bot.routing import Router
from bot.services import Services

router = Router()


@router.register("slack", "command", name="slack.command")
def command(ctx: HandlerContext) -> None:
    event = ctx.domain
    if not isinstance(event, SlackCommand):
        return
    asker = Asker(event.user_id, event.user_name, ctx.event.id if ctx.event else None)
    reply = SlackCommands(ctx.services).run(asker, parse_slack_text(event.text))
    answer(ctx, asker, reply, response_url=event.response_url, channel=event.channel_id)


@router.register("slack", "interaction", "block_actions", name="slack.button")
def button(ctx: HandlerContext) -> None:
    event = ctx.domain
    if not isinstance(event, SlackInteraction):
        return
    asker = Asker(event.user_id, event.user_name, ctx.event.id if ctx.event else None)
    commands = SlackCommands(ctx.services)
    for action in event.actions:
        reply = commands.press(asker, action.action_id, action.value)
        answer(ctx, asker, reply, response_url=event.response_url, channel=event.channel_id)


def answer(
    ctx: HandlerContext, asker: Asker, text: str, *, response_url: str | None, channel: str | None
) -> None:
    services: Services = ctx.services
    client = client_from_settings(services.settings)
    if client is None:
        ctx.log.warning("slack_answer_dropped", reason="no GITOPS_BOT_SLACK_BOT_TOKEN", user=asker.user_id)
        return
    try:
        if response_url:
            try:
                client.respond(response_url, text=text, response_type="ephemeral", replace_original=False)
                return
            except SlackError as exc:
                if channel is None:
                    raise
                ctx.log.info("slack_response_url_failed", error=exc.message)
        if channel is not None:
            client.post_ephemeral(channel, asker.user_id, text=text)
    except SlackError as exc:
        ctx.log.warning("slack_answer_failed", error=exc.message, user=asker.user_id)
        services.audit(
            kind="slack.answer",
            actor=asker.actor,
            summary=f"the answer could not be delivered: {exc.message}",
            outcome="failed",
            event_id=asker.event_id,
        )
