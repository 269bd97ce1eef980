"""The audit log: what the bot did or decided, for whom, and whether it was a dry run."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from bot.storage.models import Action


def record_action(
    session: Session,
    *,
    kind: str,
    actor: str,
    summary: str,
    repo: str | None = None,
    target: str | None = None,
    outcome: str = "done",
    dry_run: bool = False,
    details: Mapping[str, Any] | None = None,
    event_id: int | None = None,
    job_id: int | None = None,
) -> Action:
    """Add an audit row inside the caller's transaction, so it commits with the work it records."""
    action = Action(
        kind=kind,
        actor=actor,
        summary=summary,
        repo=repo,
        target=target,
        outcome=outcome,
        dry_run=dry_run,
        details=dict(details) if details is not None else None,
        event_id=event_id,
        job_id=job_id,
    )
    session.add(action)
    return action
