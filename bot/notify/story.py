"""A deployment's story: what its Slack thread's top message shows, folded from notifications.

Pure. Every notification about one ``repo:deployment:version`` (or one Terraform pull
request) is applied to the story's state, and the top message is rendered from the state.
Delivery jobs can run late or twice (a retry after a Slack outage), so ``apply`` is
idempotent and never moves a story backwards: a late "canary interval" after "rollback
merged" adds its count but leaves the headline at "rolled back".
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from bot.notify import (
    CanaryFinished,
    CanaryInterval,
    CanaryStarted,
    CanaryStep,
    Notification,
    PromotionOpened,
    RollbackFailed,
    RollbackMerged,
    RollbackOpened,
    TerraformResult,
    UpdateProposed,
    UpdateSuperseded,
)

# How far along a story is; a notification only moves the headline forward.
STAGE_RANK: dict[str, int] = {
    "terraform": 0,
    "proposed": 10,
    "superseded": 20,
    "canary": 30,
    "passed": 50,
    "inconclusive": 50,
    "cancelled": 50,
    "failed": 55,
    "promoting": 60,
    "rolling_back": 70,
    "rollback_failed": 75,
    "rolled_back": 80,
}

_FINISHED_STAGE = {
    "passed": "passed",
    "failed": "failed",
    "stopped_inconclusive": "inconclusive",
    "cancelled": "cancelled",
}

MAX_REPLIED = 200


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class CanaryProgress(_Model):
    interval_seconds: int | None = None
    duration_seconds: int | None = None
    metrics: tuple[str, ...] = ()
    passed: int = 0
    failed: int = 0
    inconclusive: int = 0
    counted: tuple[int, ...] = ()  # interval indexes already counted (a redelivery counts once)
    last_index: int | None = None
    last_verdict: str | None = None
    consecutive_failures: int = 0

    @property
    def planned_intervals(self) -> int | None:
        if self.interval_seconds and self.duration_seconds:
            return max(1, self.duration_seconds // self.interval_seconds)
        return None

    @property
    def seen(self) -> int:
        return self.passed + self.failed + self.inconclusive


class TerraformLine(_Model):
    command: str
    ok: bool
    headline: str
    requested_by: str | None = None


class StoryState(_Model):
    key: str
    repo: str
    deployment: str | None = None
    version: str | None = None
    previous_version: str | None = None
    stage: str = "proposed"
    dry_run: bool = False
    pr_number: int | None = None
    pr_url: str | None = None
    source: str | None = None
    requested_by: str | None = None
    deployment_id: int | None = None
    canary: CanaryProgress | None = None
    outcome: str | None = None  # the last finish or rollback reason
    next_step: str | None = None
    rollback_pr_url: str | None = None
    rollback_requested_by: str | None = None
    restored_version: str | None = None
    promoted_to: str | None = None
    promotion_pr_url: str | None = None
    superseded_by_version: str | None = None
    superseded_by_url: str | None = None
    step_label: str | None = None  # a canary with traffic steps: where it stands ("step 2/3 (50%)")
    step_last: bool = False
    step_paused: bool = False
    terraform: dict[str, TerraformLine] = Field(default_factory=dict)
    revision: int = 0
    replied: tuple[str, ...] = ()  # delivery ids whose thread reply was posted

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StoryState:
        return cls.model_validate(data)

    def with_reply(self, delivery_id: str) -> StoryState:
        if delivery_id in self.replied:
            return self
        replied = (*self.replied, delivery_id)[-MAX_REPLIED:]
        return self.model_copy(update={"replied": replied})


def story_key(note: Notification) -> str:
    """One thread per deployment version, and one per pull request for Terraform results."""
    if isinstance(note, TerraformResult):
        return f"{note.repo}:pr:{note.pr_number}"
    return note.story_key


def wants_reply(note: Notification) -> bool:
    """A passing or inconclusive interval only updates the top message; the rest get a reply."""
    if isinstance(note, CanaryInterval):
        return note.verdict == "fail"
    return True


def new_story(note: Notification) -> StoryState:
    if isinstance(note, TerraformResult):
        return StoryState(
            key=story_key(note),
            repo=note.repo,
            stage="terraform",
            pr_number=note.pr_number,
            pr_url=note.pr_url,
            dry_run=note.dry_run,
        )
    return StoryState(key=story_key(note), repo=note.repo, deployment=note.deployment, version=note.version)


def _advance(state: StoryState, stage: str) -> str:
    return stage if STAGE_RANK.get(stage, 0) >= STAGE_RANK.get(state.stage, 0) else state.stage


def apply(state: StoryState | None, note: Notification) -> StoryState:
    """The story after ``note``. Applying the same notification twice changes nothing more."""
    current = state if state is not None else new_story(note)
    changes = (
        _update_changes(current, note)
        or _canary_changes(current, note)
        or _rollback_changes(current, note)
        or _other_changes(current, note)
    )
    updated = current.model_copy(update={"dry_run": current.dry_run or note.dry_run, **changes})
    if updated == current:
        return current
    return updated.model_copy(update={"revision": current.revision + 1})


# Each rule below returns the fields ``note`` changes, or an empty dict when the note is not its kind.


def _update_changes(current: StoryState, note: Notification) -> dict[str, Any]:
    if isinstance(note, UpdateProposed):
        return {
            "stage": _advance(current, "proposed"),
            "previous_version": note.previous_version or current.previous_version,
            "pr_number": note.pr_number or current.pr_number,
            "pr_url": note.pr_url or current.pr_url,
            "source": note.source or current.source,
            "requested_by": note.requested_by or current.requested_by,
        }
    if isinstance(note, UpdateSuperseded):
        return {
            "stage": _advance(current, "superseded"),
            "pr_url": current.pr_url or note.pr_url,
            "superseded_by_version": note.superseded_by_version,
            "superseded_by_url": note.superseded_by_url,
        }
    return {}


def _canary_changes(current: StoryState, note: Notification) -> dict[str, Any]:
    if isinstance(note, CanaryStarted):
        canary = current.canary or CanaryProgress()
        timing = {
            "interval_seconds": note.interval_seconds,
            "duration_seconds": note.duration_seconds,
            "metrics": tuple(note.metrics),
        }
        return {
            "stage": _advance(current, "canary"),
            "deployment_id": note.deployment_id,
            "pr_url": current.pr_url or note.pr_url,
            "canary": canary.model_copy(update=timing),
            "step_label": current.step_label or note.step_label,
        }
    if isinstance(note, CanaryInterval):
        return {
            "stage": _advance(current, "canary"),
            "deployment_id": note.deployment_id,
            "canary": _count_interval(current.canary or CanaryProgress(), note),
        }
    if isinstance(note, CanaryStep):
        return {
            "stage": _advance(current, "canary"),
            "step_label": note.label,
            "step_last": note.step == note.steps,
            "step_paused": note.event in ("paused", "stuck"),
        }
    if isinstance(note, CanaryFinished):
        return {
            "stage": _advance(current, _FINISHED_STAGE[note.status]),
            "deployment_id": note.deployment_id,
            "outcome": note.reason,
            "next_step": note.next_step,
        }
    return {}


def _rollback_changes(current: StoryState, note: Notification) -> dict[str, Any]:
    if isinstance(note, RollbackOpened):
        return {
            "stage": _advance(current, "rolling_back"),
            "rollback_pr_url": note.pr_url or current.rollback_pr_url,
            "rollback_requested_by": note.requested_by or current.rollback_requested_by,
            "outcome": note.reason,
        }
    if isinstance(note, RollbackMerged):
        restored = note.restored_version or current.restored_version or current.previous_version
        return {
            "stage": _advance(current, "rolled_back"),
            "rollback_pr_url": note.pr_url or current.rollback_pr_url,
            "restored_version": restored,
        }
    if isinstance(note, RollbackFailed):
        return {"stage": _advance(current, "rollback_failed"), "outcome": note.reason}
    return {}


def _other_changes(current: StoryState, note: Notification) -> dict[str, Any]:
    if isinstance(note, PromotionOpened):
        return {
            "stage": _advance(current, "promoting"),
            "promoted_to": note.to_deployment,
            "promotion_pr_url": note.pr_url,
        }
    if isinstance(note, TerraformResult):
        lines = dict(current.terraform)
        lines[note.project] = TerraformLine(
            command=note.command, ok=note.ok, headline=note.headline, requested_by=note.requested_by
        )
        return {"terraform": lines, "pr_url": current.pr_url or note.pr_url}
    # The union is closed; a new kind must be given a rule above.
    raise TypeError(f"no story rule for notification kind {note.kind!r}")  # pragma: no cover


def _count_interval(canary: CanaryProgress, note: CanaryInterval) -> CanaryProgress:
    if note.index in canary.counted:
        return canary
    counts = {
        "passed": canary.passed + (note.verdict == "pass"),
        "failed": canary.failed + (note.verdict == "fail"),
        "inconclusive": canary.inconclusive + (note.verdict == "inconclusive"),
    }
    latest = canary.last_index is None or note.index >= canary.last_index
    update: dict[str, Any] = {**counts, "counted": tuple(sorted((*canary.counted, note.index)))}
    if latest:
        update["last_index"] = note.index
        update["last_verdict"] = note.verdict
        # Inconclusive intervals neither break nor extend a run of failures (as the verdict logic).
        if note.verdict == "fail":
            update["consecutive_failures"] = canary.consecutive_failures + 1
        elif note.verdict == "pass":
            update["consecutive_failures"] = 0
    return canary.model_copy(update=update)
