"""Delivering a note: one Slack thread per deployment, its top message kept current.

The first note of a story posts the top message and stores its ``thread_ts`` (a
``SlackThread`` row); later ones update the top message with ``chat.update`` and reply in the
thread. Delivery runs in its own job, apart from the work that notified, so a Slack outage only
delays the message: ``SlackUnavailable`` propagates and the queue retries with backoff; a refusal
(``channel_not_found``, ``invalid_auth``) is ``SlackRefused``, which the handler does not retry.
Replies already posted are remembered in the story, so a retried job does not post twice.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bot.adapters.slack_api import SlackClient, SlackError
from bot.notify.notes import Notification
from bot.notify.render import render_note, render_top
from bot.notify.story import StoryState, apply, story_key, wants_reply
from bot.storage.models import SlackThread
from bot.storage.types import utcnow

if TYPE_CHECKING:
    from bot.services import Services


def delivery_id(note: Notification) -> str:
    """The same note sent twice (a redelivered webhook, a retried job) is one reply."""
    return hashlib.sha256(json.dumps(note.model_dump(mode="json"), sort_keys=True).encode()).hexdigest()[:24]


def deliver_note(services: Services, client: SlackClient, note: Notification) -> None:
    """Post or update the story's top message and reply in its thread; raises ``SlackError``."""
    assert note.channel is not None
    key = story_key(note)
    _ensure_thread(services, key, note.channel)
    failure: SlackError | None = None
    with services.database.transaction() as session:
        row = session.scalars(select(SlackThread).where(SlackThread.key == key).with_for_update()).one()
        before = StoryState.from_json(row.state) if row.state else None
        state = apply(before, note)
        top_done = False
        try:
            _show_top(services, client, row, before, state)
            top_done = True
            state = _reply(services, client, row, state, note)
        except SlackError as exc:
            failure = exc
        saved = state if top_done else before  # the top message shows ``saved``; a retry redoes the rest
        row.state = saved.to_json() if saved is not None else None
        row.updated_at = utcnow()
    if failure is not None:
        raise failure


def _ensure_thread(services: Services, key: str, channel: str) -> None:
    """The row exists before any message is posted, so concurrent deliveries share one thread."""
    try:
        with services.database.transaction() as session:
            if session.scalar(select(SlackThread.id).where(SlackThread.key == key)) is None:
                session.add(SlackThread(key=key, channel=channel, thread_ts="", state=None))
    except IntegrityError:
        pass  # another delivery created it first


def _show_top(
    services: Services, client: SlackClient, row: SlackThread, before: StoryState | None, state: StoryState
) -> None:
    text, blocks = render_top(services.templates, state)
    if not row.thread_ts:
        posted = client.post_message(row.channel, text=text, blocks=blocks)
        row.channel, row.thread_ts = posted.channel, posted.ts
    elif before is None or state.revision != before.revision:
        client.update_message(row.channel, row.thread_ts, text=text, blocks=blocks)


def _reply(
    services: Services, client: SlackClient, row: SlackThread, state: StoryState, note: Notification
) -> StoryState:
    reply = delivery_id(note)
    if not wants_reply(note) or reply in state.replied:
        return state
    client.post_message(row.channel, text=render_note(services.templates, note), thread_ts=row.thread_ts)
    return state.with_reply(reply)
