"""``notify.deliver``: one Slack thread per deployment, its top message kept current.

The first notification of a story posts the top message and stores its ``thread_ts`` (a
``SlackThread`` row); later ones update the top message with ``chat.update`` and reply in
the thread. The job runs apart from the work that notified, so a Slack outage only delays
the message: ``SlackUnavailable`` fails the job, and the queue retries it with backoff up to
its attempt limit. A refusal (``channel_not_found``, ``invalid_auth``) is not retried.
Replies already posted are remembered in the story, so a retried job does not post twice.
"""

from __future__ import annotations

import hashlib
import json

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bot.adapters.slack_api import SlackError, SlackRefused, client_from_settings
from bot.jobs import HandlerContext
from bot.notify import DELIVER_HANDLER, notification_from_json
from bot.notify.render import render_note, render_top
from bot.notify.story import StoryState, apply, story_key, wants_reply
from bot.routing import Router
from bot.storage.models import SlackThread
from bot.storage.types import utcnow
from bot.worker import PermanentJobError

router = Router()


@router.register("bot", "notification", name=DELIVER_HANDLER)
def deliver(ctx: HandlerContext) -> None:
    services = ctx.services
    note = notification_from_json(dict(ctx.payload["notification"]))
    client = client_from_settings(services.settings)
    if client is None or note.channel is None:
        return
    key = story_key(note)
    # The same notification sent twice (a redelivered webhook, a retried job) is one reply.
    delivery_id = hashlib.sha256(
        json.dumps(note.model_dump(mode="json"), sort_keys=True).encode()
    ).hexdigest()[:24]
    # The row exists before any message is posted, so concurrent deliveries share one thread.
    try:
        with services.database.transaction() as session:
            if session.scalar(select(SlackThread.id).where(SlackThread.key == key)) is None:
                session.add(SlackThread(key=key, channel=note.channel, thread_ts="", state=None))
    except IntegrityError:
        pass

    failure: SlackError | None = None
    with services.database.transaction() as session:
        row = session.scalars(select(SlackThread).where(SlackThread.key == key).with_for_update()).one()
        before = StoryState.from_json(row.state) if row.state else None
        state = apply(before, note)
        top_done = False
        try:
            text, blocks = render_top(services.templates, state)
            if not row.thread_ts:
                posted = client.post_message(row.channel, text=text, blocks=blocks)
                row.channel, row.thread_ts = posted.channel, posted.ts
            elif before is None or state.revision != before.revision:
                client.update_message(row.channel, row.thread_ts, text=text, blocks=blocks)
            top_done = True
            if wants_reply(note) and delivery_id not in state.replied:
                client.post_message(
                    row.channel, text=render_note(services.templates, note), thread_ts=row.thread_ts
                )
                state = state.with_reply(delivery_id)
        except SlackError as exc:
            failure = exc
        saved = state if top_done else before  # the top message shows ``saved``; a retry redoes the rest
        row.state = saved.to_json() if saved is not None else None
        row.updated_at = utcnow()
    if failure is not None:
        ctx.log.warning("slack_delivery_failed", key=key, error=failure.message)
        if isinstance(failure, SlackRefused):
            raise PermanentJobError(failure.message) from failure
        raise failure
