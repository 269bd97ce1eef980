"""A Slack thread button acts once: the story's thread row is the mutex, the audit log the memory.

Two people pressing "Roll back now" together, or one person twice, must not revert twice. A
press locks the thread's row (``FOR UPDATE``; on SQLite its write transaction does) and looks
in the audit log for an earlier press of the same button that acted; if there is none, it
records its own claim (``outcome="done"``) before it works. A press whose work did nothing
(refused, nothing to revert, a conflict) releases its claim, so a later press may still act.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select

from bot.storage.models import Action, SlackThread

if TYPE_CHECKING:
    from bot.commands.execute import Asker
    from bot.storage.db import Database

BUTTON_KIND = "slack.button"
# Outcomes after which the button did nothing, so pressing it again may act.
NOT_DONE = frozenset({"refused", "nothing_to_revert", "conflict"})


@dataclass(frozen=True)
class Press:
    """A decoded thread button: what it asks for, on which deployment version."""

    command: str
    repo: str
    deployment: str
    version: str
    key: str

    @property
    def label(self) -> str:
        return {"rollback": "Roll back now", "pause": "Pause", "resume": "Resume"}.get(
            self.command, "Promote"
        )

    @property
    def target(self) -> str:
        return f"{self.key}:{self.command}"


def claim_press(
    database: Database, pressed: Press, asker: Asker, login: str
) -> tuple[Action | None, int | None]:
    """(the earlier press that acted, None) or (None, the id of this press's claim)."""
    with database.transaction() as session:
        session.scalars(select(SlackThread).where(SlackThread.key == pressed.key).with_for_update()).first()
        earlier = session.scalars(
            select(Action)
            .where(Action.kind == BUTTON_KIND, Action.target == pressed.target, Action.outcome == "done")
            .order_by(Action.id)
        ).first()
        if earlier is not None:
            return earlier, None
        claim = Action(
            kind=BUTTON_KIND,
            actor=asker.actor,
            repo=pressed.repo,
            target=pressed.target,
            summary=f"{pressed.label} pressed by {login}",
            outcome="done",
            details={"github_login": login, "slack_user_id": asker.user_id},
            event_id=asker.event_id,
        )
        session.add(claim)
        session.flush()
        return None, claim.id


def release_press(database: Database, claim_id: int, status: str, reason: str) -> None:
    """Nothing happened: the button stays usable (a later press may succeed)."""
    with database.transaction() as session:
        row = session.get(Action, claim_id)
        if row is not None:
            row.outcome = "refused"
            row.summary = f"{row.summary}: {status}: {reason}"
            row.details = {**(row.details or {}), "reason": reason}
