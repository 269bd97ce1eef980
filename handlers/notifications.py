"""``notify.deliver``: a note becomes a message in its deployment's Slack thread (bot/notify/deliver.py)."""

from __future__ import annotations

from bot.adapters.slack_api import SlackError, SlackRefused, client_from_settings
from bot.jobs import HandlerContext
from bot.notify import DELIVER_HANDLER, notification_from_json
from bot.notify.deliver import deliver_note
from bot.notify.story import story_key
from bot.routing import Router
from bot.worker import PermanentJobError

router = Router()


@router.register("bot", "notification", name=DELIVER_HANDLER)
def deliver(ctx: HandlerContext) -> None:
    note = notification_from_json(dict(ctx.payload["notification"]))
    client = client_from_settings(ctx.services.settings)
    if client is None or note.channel is None:
        return
    try:
        deliver_note(ctx.services, client, note)
    except SlackError as failure:
        ctx.log.warning("slack_delivery_failed", key=story_key(note), error=failure.message)
        if isinstance(failure, SlackRefused):
            raise PermanentJobError(failure.message) from failure
        raise
