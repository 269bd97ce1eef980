"""With canary steps, the update's commit writes the first step's traffic too (pure): so a merge
starts the canary at its first step, never at 100 (see :mod:`bot.deployments.ladder`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from bot.config import Deployment
from bot.deployments.ladder import (
    LadderPlan,
    RungWrite,
    ladder_from_config,
    shadow_location,
    weight_problem,
    write_rung,
)
from bot.edits import EditError


@dataclass(frozen=True)
class TrafficEdit:
    """With canary steps: the traffic the merge starts at (see bot.deployments.ladder), written in
    the update's commit, so a merge starts at the first rung, never at 100."""

    writes: tuple[RungWrite, ...]
    first: str
    """The first rung, as people read it: ``step 1/3 (10%)``, ``shadow (20% mirrored)``."""
    later: tuple[str, ...]
    """The rungs that follow, each its own commit after the one before passes."""
    shadow_skipped: str | None = None


def first_ladder(
    deployment: Deployment, texts: Mapping[str, str], files: Mapping[str, str | None]
) -> LadderPlan | None:
    """The deployment's ladder as the update starts it; None without steps. A shadow stage whose
    mirror cannot be written (the router cannot mirror) is left out, saying why."""
    canary = deployment.canary
    if canary is None:
        return None
    mirror = shadow_location(canary)
    shadow_problem = None
    if mirror is not None:
        text = texts.get(mirror.file, files.get(mirror.file))
        shadow_problem = weight_problem(text, mirror, "the shadow's weight_target")
    return ladder_from_config(canary, shadow_problem=shadow_problem)


def write_first_rung(texts: dict[str, str], ladder: LadderPlan) -> TrafficEdit | str:
    """Write the first rung's weights into ``texts`` (every file of ``ladder.files()`` present);
    what was written, or why it cannot be."""
    try:
        writes = write_rung(texts, ladder, 0)
    except EditError as exc:
        return f"{exc} (the canary's weight_target)"
    later = tuple(ladder.label(index) for index in range(1, len(ladder.rungs)))
    return TrafficEdit(tuple(writes), ladder.label(0), later, ladder.shadow_skipped)


__all__ = ["TrafficEdit", "first_ladder", "write_first_rung"]
