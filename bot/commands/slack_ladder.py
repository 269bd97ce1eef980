"""Slack's buttons on a canary climbing traffic steps: Pause, Resume and "Skip to 100%" (the
Promote button while steps are left) act on the current step, through the same rules as the pull
request comments (:mod:`bot.deployments.ladder_control`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.deployments.ladder_control import Action, Climbing, act, climbing_canary

if TYPE_CHECKING:
    from bot.services import Services

LADDER_COMMANDS = frozenset({"pause", "resume", "promote"})


@dataclass(frozen=True)
class LadderOutcome:
    """What pause, resume or a step promote answered, in the shape a Slack answer is worded from."""

    status: str
    message: str
    pr_url: str | None = None
    pr_number: int | None = None


def climbing_for(
    services: Services, command: str, repo: str, deployment: str, version: str
) -> Climbing | None:
    """The canary the button is about, when it is climbing traffic steps at that version."""
    if command not in LADDER_COMMANDS:
        return None
    found = climbing_canary(services, repo=repo, deployment=deployment)
    return found if found is not None and found.version == version else None


def press_ladder(services: Services, climbing: Climbing, command: str, login: str) -> LadderOutcome:
    """Act on the ladder; the ladder's own rules refuse a repeat ("already paused"), so these
    buttons stay usable and need no press-once claim."""
    action: Action = "pause" if command == "pause" else "resume" if command == "resume" else "promote"
    answer = act(services, climbing, action, actor=login, from_comment=False)
    return LadderOutcome("done" if answer.done else "refused", answer.message)


__all__ = ["LADDER_COMMANDS", "LadderOutcome", "climbing_for", "press_ladder"]
