"""The traffic ladder (pure): canary steps, each weight a commit of its own, each rung judged alone.

``canary.steps: [{weight: 10, duration: 10m}, {weight: 50, duration: 10m}, {weight: 100}]`` with a
``weight_target`` makes a canary climb through git:

* the update pull request writes the new version **and the first rung's weight** in one commit, so
  a merge always starts at the first rung, never at 100 (:func:`write_weight` is the edit);
* each rung waits for the rollout (the readiness gate) and is judged for its ``duration`` on its own
  intervals (:func:`rung_config`); a pass moves to the next rung (:func:`after_pass`), whose weight
  the bot commits (a pull request it merges, or a push with ``steps_via: push``);
* a rung without a duration (only the last may lack one) passes once its rollout is done;
* a failure on any rung ends the analysis like any failure: the revert takes back the update's
  merge and every rung's commit in one pull request (:mod:`bot.deployments.rollback`), so the files
  are byte-identical to before the update;
* ``/gitops promote`` skips to the last rung (:func:`promote_to_last`); ``pause``/``resume`` hold
  the ladder where it is (:func:`may_pause`, :func:`may_resume`).

At every moment the weight in the default branch's ``HEAD`` is the weight the cluster should run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

from bot.edits import EditError, apply_edit

StepStatus = Literal[
    "pending", "writing", "rolling_out", "judging", "passed", "failed", "stopped", "cancelled", "skipped"
]
"""A rung's status: waiting its turn, its commit being made, waiting for the rollout, being
judged, passed, failed (the analysis failed on it), stopped (the analysis ended without a verdict
on it), cancelled (a newer version merged), skipped (``/gitops promote`` jumped past it)."""

STEP_BRANCH_PREFIX = "gitops-bot/step/"
PAUSABLE = ("waiting_rollout", "running")
PAUSED = "paused"
STEPPING = "stepping"
"""Analysis.status while the next rung's commit is being made (no interval is measured)."""


@dataclass(frozen=True)
class Rung:
    weight: int
    """Percent of the users' traffic the new version answers (0 on the shadow rung)."""
    duration_seconds: int | None
    mirror: int = 0
    """Percent of requests mirrored to the new version, whose answers nobody sees (shadow rung)."""

    @property
    def judged(self) -> bool:
        return self.duration_seconds is not None

    @property
    def shadow(self) -> bool:
        return self.mirror > 0


@dataclass(frozen=True)
class WeightLocation:
    """Where a weight is written: ``location`` gets the weight, ``stable_location`` (if any)
    ``100 - weight``."""

    file: str
    location: str
    stable_location: str | None = None


@dataclass(frozen=True)
class LadderPlan:
    """The ladder as an analysis keeps it (in ``analyses.config``), fixed when the analysis starts.

    With a shadow stage the first rung mirrors requests to the new version (``mirror``) while the
    users' weight stays 0; every later rung writes the mirror back to 0.
    """

    rungs: tuple[Rung, ...]
    target: WeightLocation
    via: Literal["pull_request", "push"] = "pull_request"
    mirror_target: WeightLocation | None = None
    shadow_skipped: str | None = None
    """Why a configured shadow stage is not part of this ladder (its target cannot mirror)."""

    @property
    def last(self) -> int:
        return len(self.rungs) - 1

    @property
    def total_seconds(self) -> int:
        """The judged time of every rung together."""
        return sum(rung.duration_seconds or 0 for rung in self.rungs)

    @property
    def has_shadow(self) -> bool:
        return bool(self.rungs) and self.rungs[0].shadow

    def weight(self, index: int) -> int:
        return self.rungs[index].weight

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LadderPlan:
        mirror = data.get("mirror_target")
        return cls(
            rungs=tuple(
                Rung(int(r["weight"]), r.get("duration_seconds"), int(r.get("mirror") or 0))
                for r in data["rungs"]
            ),
            target=WeightLocation(**data["target"]),
            via=data.get("via", "pull_request"),
            mirror_target=WeightLocation(**mirror) if mirror else None,
            shadow_skipped=data.get("shadow_skipped"),
        )

    def label(self, index: int) -> str:
        """``step 2/3 (50%)``, or ``shadow (20% mirrored)``: how people read a rung."""
        rung = self.rungs[index]
        if rung.shadow:
            return f"shadow ({rung.mirror}% mirrored)"
        offset = 1 if self.has_shadow else 0
        return f"step {index + 1 - offset}/{len(self.rungs) - offset} ({rung.weight}%)"

    def writes(self, index: int) -> tuple[tuple[WeightLocation, int], ...]:
        """What rung ``index``'s commit writes: the users' weight, and the mirror (0 after the shadow)."""
        rung = self.rungs[index]
        found: list[tuple[WeightLocation, int]] = [(self.target, rung.weight)]
        if self.mirror_target is not None:
            found.append((self.mirror_target, rung.mirror))
        return tuple(found)

    def files(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(location.file for location, _ in self.writes(0)))


def ladder_from_config(canary: Any, *, shadow_problem: str | None = None) -> LadderPlan | None:
    """The ladder of a ``bot.config.Canary``; None when it has no steps. ``shadow_problem``: why the
    configured shadow stage cannot run (its target cannot mirror), which leaves it out."""
    if not canary.steps or canary.weight_target is None:
        return None
    target = canary.weight_target
    rungs = [Rung(step.weight, step.duration) for step in canary.steps]
    mirror_target = None
    shadow = canary.shadow
    if shadow is not None and shadow_problem is None:
        rungs.insert(0, Rung(0, shadow.duration, mirror=shadow.weight))
        mirror_target = WeightLocation(shadow.weight_target.file, shadow.weight_target.location)
    return LadderPlan(
        rungs=tuple(rungs),
        target=WeightLocation(target.file, target.location, target.stable),
        via=canary.steps_via,
        mirror_target=mirror_target,
        shadow_skipped=shadow_problem if shadow is not None else None,
    )


def shadow_location(canary: Any) -> WeightLocation | None:
    """Where a configured shadow stage writes its mirror percentage (None: no shadow stage)."""
    shadow = getattr(canary, "shadow", None)
    if shadow is None or not canary.steps:
        return None
    return WeightLocation(shadow.weight_target.file, shadow.weight_target.location)


# --------------------------------------------------------------------------- writing a weight


@dataclass(frozen=True)
class WeightWrite:
    text: str
    changed: bool
    old_weight: str | None


def write_weight(text: str, target: WeightLocation, weight: int) -> WeightWrite:
    """``text`` (the weight file) with ``weight`` written, and ``100 - weight`` at the stable location.

    Raises :class:`bot.edits.EditError` (message starting with the path) when the key is missing or
    holds something that is not a plain value: the edit never creates keys.
    """
    result = apply_edit(target.file, text, target.location, str(weight), number=True)
    new_text, changed = result.text, result.changed
    if target.stable_location is not None:
        stable = apply_edit(target.file, new_text, target.stable_location, str(100 - weight), number=True)
        new_text, changed = stable.text, changed or stable.changed
    return WeightWrite(new_text, changed, result.old_value)


@dataclass(frozen=True)
class RungWrite:
    """One weight a rung's commit writes: where, from what, to what."""

    file: str
    location: str
    old_value: str | None
    weight: int


def write_rung(texts: dict[str, str], ladder: LadderPlan, index: int) -> list[RungWrite]:
    """Write rung ``index``'s weights into ``texts`` (path → text, every file of :meth:`LadderPlan.files`
    present); what changed. Raises :class:`bot.edits.EditError` like :func:`write_weight`."""
    written: list[RungWrite] = []
    for location, weight in ladder.writes(index):
        result = write_weight(texts[location.file], location, weight)
        texts[location.file] = result.text
        if result.changed:
            written.append(RungWrite(location.file, location.location, result.old_weight, weight))
    return written


def weight_problem(
    text: str | None, target: WeightLocation, what: str = "the canary's weight_target"
) -> str | None:
    """Why the weight cannot be written into ``text`` (None: it can)."""
    if text is None:
        return f"{target.file} ({what}) does not exist"
    try:
        write_weight(text, target, 1)
    except EditError as exc:
        return str(exc)
    return None


def is_step_branch(head_ref: str) -> bool:
    return head_ref.startswith(STEP_BRANCH_PREFIX)


# --------------------------------------------------------------------------- moving on the ladder


@dataclass(frozen=True)
class RungConfig:
    """What :func:`bot.canary.decide` reads, for one rung: its duration and the analysis' limits."""

    duration: int
    failure_limit: int
    inconclusive_limit: int


def rung_config(ladder: LadderPlan, index: int, *, failure_limit: int, inconclusive_limit: int) -> RungConfig:
    duration = ladder.rungs[index].duration_seconds or 0
    return RungConfig(duration, failure_limit, inconclusive_limit)


@dataclass(frozen=True)
class Advance:
    """Write rung ``to`` next (``skipped``: the rungs jumped over)."""

    to: int
    skipped: tuple[int, ...] = ()


@dataclass(frozen=True)
class Complete:
    """The last rung passed: the analysis passed."""


def after_pass(ladder: LadderPlan, index: int) -> Advance | Complete:
    """What follows a rung that passed."""
    if index >= ladder.last:
        return Complete()
    return Advance(index + 1)


def promote_to_last(ladder: LadderPlan, index: int | None, status: str) -> Advance | str:
    """``/gitops promote`` on a climbing canary: straight to the last rung, or why not."""
    if index is None:
        return "this canary has no traffic steps"
    if status == STEPPING:
        return f"the commit for {ladder.label(index)} is being made; try again in a moment"
    if index >= ladder.last:
        return f"the canary is already on its last step, {ladder.label(index)}"
    return Advance(ladder.last, skipped=tuple(range(index + 1, ladder.last)))


def may_pause(status: str) -> str | None:
    """None when an analysis in ``status`` can be paused; else why not."""
    if status == PAUSED:
        return "the canary is already paused"
    if status == STEPPING:
        return "the next step's commit is being made; pause once it has landed"
    if status not in PAUSABLE:
        return f"the canary is not in progress (it is {status})"
    return None


def may_resume(status: str) -> str | None:
    return None if status == PAUSED else f"the canary is not paused (it is {status})"


def step_label(config: Mapping[str, Any] | None, step: int | None) -> str | None:
    """Where an analysis with traffic steps stands (its stored plan and rung), as people read it."""
    ladder = (config or {}).get("ladder")
    if step is None or not ladder:
        return None
    return LadderPlan.from_json(ladder).label(step)


def ladder_rows(ladder: LadderPlan, steps: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The ladder as shown (PR, Slack, console): every rung, with its stored row when it has one."""
    by_index = {int(step["index"]): step for step in steps}
    rows = []
    for index, rung in enumerate(ladder.rungs):
        stored = by_index.get(index, {})
        rows.append(
            {
                "index": index,
                "number": index + 1,
                "label": ladder.label(index),
                "shadow": rung.shadow,
                "mirror": rung.mirror,
                "weight": rung.weight,
                "duration_seconds": rung.duration_seconds,
                "status": stored.get("status", "pending"),
                "commit_sha": stored.get("commit_sha"),
                "pr_number": stored.get("pr_number"),
                "pr_url": stored.get("pr_url"),
                "reason": stored.get("reason"),
            }
        )
    return rows


__all__ = [
    "PAUSED",
    "STEPPING",
    "STEP_BRANCH_PREFIX",
    "Advance",
    "Complete",
    "LadderPlan",
    "Rung",
    "RungWrite",
    "StepStatus",
    "WeightLocation",
    "WeightWrite",
    "after_pass",
    "is_step_branch",
    "ladder_from_config",
    "ladder_rows",
    "may_pause",
    "may_resume",
    "promote_to_last",
    "rung_config",
    "shadow_location",
    "step_label",
    "weight_problem",
    "write_rung",
    "write_weight",
]
