"""Rolled-back versions stay rolled back.

After the bot reverts version X of a deployment, X is quarantined: registry and MLflow
events for X (and, through ``bot.versions.decide_update``, anything not newer than X)
open no pull request. Only an explicit deploy of X by someone with ``deploy``
permission lifts it (or "Lift" in the console, with the same permission), and the audit
log says who did.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update

from bot.audit import record_action
from bot.storage.db import Database
from bot.storage.models import Quarantine
from bot.storage.statements import upsert
from bot.storage.types import utcnow


@dataclass(frozen=True)
class QuarantinedVersion:
    repo: str
    deployment: str
    version: str
    reason: str
    created_at: datetime
    created_by: str


class QuarantineStore:
    def __init__(self, database: Database) -> None:
        self.database = database

    def add(self, *, repo: str, deployment: str, version: str, reason: str, by: str) -> None:
        """Quarantine ``version`` (again, if it had been lifted)."""
        now = utcnow()
        statement = upsert(
            self.database.dialect,
            Quarantine,
            conflict=["repo", "deployment", "version"],
            update={
                "reason": reason,
                "created_by": by,
                "created_at": now,
                "lifted_at": None,
                "lifted_by": None,
            },
        ).values(
            repo=repo,
            deployment=deployment,
            version=version,
            reason=reason,
            created_by=by,
            created_at=now,
        )
        with self.database.transaction() as session:
            session.execute(statement)
            record_action(
                session,
                kind="quarantine.add",
                actor=by,
                repo=repo,
                target=f"{deployment}@{version}",
                summary=f"{deployment} {version} quarantined: {reason}",
            )

    def lift(
        self, *, repo: str, deployment: str, version: str, by: str, how: str = "by deploying it"
    ) -> bool:
        """Lift a quarantine; True when there was one. Recorded in the audit log with who, and
        ``how`` (an explicit deploy, or the console's "Lift")."""
        with self.database.transaction() as session:
            result = session.execute(
                update(Quarantine)
                .where(
                    Quarantine.repo == repo,
                    Quarantine.deployment == deployment,
                    Quarantine.version == version,
                    Quarantine.lifted_at.is_(None),
                )
                .values(lifted_at=utcnow(), lifted_by=by)
                .execution_options(synchronize_session=False)
            )
            if result.rowcount:
                record_action(
                    session,
                    kind="quarantine.lift",
                    actor=by,
                    repo=repo,
                    target=f"{deployment}@{version}",
                    summary=f"{by} lifted the quarantine of {deployment} {version} {how}",
                )
            return bool(result.rowcount)

    def active(self, *, repo: str, deployment: str) -> list[QuarantinedVersion]:
        with self.database.sessions() as session:
            rows = session.execute(
                select(Quarantine)
                .where(
                    Quarantine.repo == repo,
                    Quarantine.deployment == deployment,
                    Quarantine.lifted_at.is_(None),
                )
                .order_by(Quarantine.created_at)
            ).scalars()
            return [
                QuarantinedVersion(
                    row.repo, row.deployment, row.version, row.reason, row.created_at, row.created_by
                )
                for row in rows
            ]

    def versions(self, *, repo: str, deployment: str) -> frozenset[str]:
        return frozenset(item.version for item in self.active(repo=repo, deployment=deployment))
