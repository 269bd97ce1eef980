"""What reverting a commit in a work tree came to (see :meth:`bot.adapters.git.worktree.WorkTree.revert`)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class RevertOutcome(StrEnum):
    REVERTED = "reverted"
    CONFLICT = "conflict"
    # The commit's changes are already undone on this base: reverting would be an empty commit.
    NOTHING_TO_REVERT = "nothing_to_revert"


@dataclass(frozen=True)
class RevertResult:
    """What :meth:`WorkTree.revert` did; a conflict is an outcome, not an exception."""

    outcome: RevertOutcome
    reverted: str  # full sha of the commit that was (or could not be) reverted
    mainline: int | None  # 1 when ``reverted`` is a merge commit, else None
    sha: str | None = None  # the new revert commit, when ``outcome`` is REVERTED
    conflicts: tuple[str, ...] = ()  # conflicting paths, when ``outcome`` is CONFLICT

    @property
    def ok(self) -> bool:
        return self.outcome is RevertOutcome.REVERTED
