"""The rows of Terraform Job runs (``terraform_job_runs``): every write of them is made here.

A run holds the work tree its pod fetches (the bundle) and, once the pod has sent it, its result.
The pod proves which run it is with a one-time token: random, handed to the pod in its Job's
environment, and stored only as its SHA-256 (compared in constant time), so the database alone
never lets anyone fetch a bundle or forge a result. A run expires after the time its Job may
take; :meth:`TerraformJobRuns.purge` deletes expired runs and those the bot is done with.

Blocking (SQLAlchemy sessions): async callers run it in a thread.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Literal

from sqlalchemy import delete, or_, select, update

from bot.storage.db import Database
from bot.storage.models import TerraformJobRun, TerraformJobRunStatus
from bot.storage.types import utcnow

_JOB_NAME_LENGTH = 63  # a DNS-1123 label
_LIVE = (TerraformJobRunStatus.CREATED, TerraformJobRunStatus.FINISHED)
_DONE = (TerraformJobRunStatus.CONSUMED, TerraformJobRunStatus.ABANDONED)


class Refusal(StrEnum):
    """Why a pod's request for a run is refused (the route answers with ``status_code``)."""

    NOT_FOUND = "not_found"  # no such run
    UNAUTHORIZED = "unauthorized"  # a missing or wrong token
    EXPIRED = "expired"  # past its time, or the bot gave up on it
    ALREADY_STORED = "already_stored"  # a result was stored before

    @property
    def status_code(self) -> int:
        return {"not_found": 404, "unauthorized": 401, "expired": 410, "already_stored": 409}[self.value]


Stored = Literal["stored"]


@dataclass(frozen=True)
class JobRunRow:
    """A run as the runner reads it (never the bundle or the result: those are read on their own)."""

    id: int
    run_key: str
    operation: str
    namespace: str
    job_name: str
    status: TerraformJobRunStatus
    spec: dict[str, Any]
    created_at: datetime
    expires_at: datetime


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def job_name(prefix: str, run_id: int) -> str:
    """``<prefix>-<id>``, cut so that it stays a DNS-1123 label of at most 63 characters."""
    suffix = f"-{run_id}"
    head = prefix[: _JOB_NAME_LENGTH - len(suffix)].rstrip("-") or "tf"
    return head + suffix


def _row(run: TerraformJobRun) -> JobRunRow:
    return JobRunRow(
        id=run.id,
        run_key=run.run_key,
        operation=run.operation,
        namespace=run.namespace,
        job_name=run.job_name,
        status=TerraformJobRunStatus(run.status),
        spec=dict(run.spec),
        created_at=run.created_at,
        expires_at=run.expires_at,
    )


class TerraformJobRuns:
    def __init__(self, database: Database) -> None:
        self.database = database

    def create(
        self,
        run_key: str,
        operation: str,
        namespace: str,
        job_name_prefix: str,
        spec: str | Mapping[str, Any],
        bundle: bytes,
        ttl_seconds: float,
        *,
        now: datetime | None = None,
    ) -> tuple[JobRunRow, str]:
        """A new run (status ``created``) and its token, which only the pod gets.

        ``spec`` is the spec's JSON (or the object itself); the Job's name is the prefix and the
        run's id. The run expires ``ttl_seconds`` from ``now``.
        """
        token = secrets.token_urlsafe(32)
        created = now or utcnow()
        document = json.loads(spec) if isinstance(spec, str) else dict(spec)
        with self.database.transaction() as session:
            run = TerraformJobRun(
                run_key=run_key,
                operation=operation,
                namespace=namespace,
                job_name="",
                token_sha256=token_digest(token),
                spec=document,
                bundle=bundle,
                status=TerraformJobRunStatus.CREATED,
                created_at=created,
                expires_at=created + timedelta(seconds=ttl_seconds),
            )
            session.add(run)
            session.flush()  # assigns the id the Job's name ends with
            run.job_name = job_name(job_name_prefix, run.id)
            row = _row(run)
        return row, token

    def get(self, run_id: int) -> JobRunRow | None:
        with self.database.sessions() as session:
            run = session.get(TerraformJobRun, run_id)
            return None if run is None else _row(run)

    def reattachable(self, run_key: str) -> JobRunRow | None:
        """The newest run of ``run_key`` still going (``created``) or done but not taken (``finished``)."""
        query = (
            select(TerraformJobRun)
            .where(TerraformJobRun.run_key == run_key)
            .order_by(TerraformJobRun.id.desc())
            .limit(1)
        )
        with self.database.sessions() as session:
            run = session.scalars(query).first()
            return None if run is None or run.status not in _LIVE else _row(run)

    def authorize(self, run_id: int, token: str | None, now: datetime) -> JobRunRow | Refusal:
        """The run when ``token`` is its token and the run may still send a result, else why not."""
        with self.database.sessions() as session:
            run = session.get(TerraformJobRun, run_id)
            if run is None:
                return Refusal.NOT_FOUND
            refusal = _check(run, token, now)
            return refusal if refusal is not None else _row(run)

    def bundle(self, run_id: int, token: str | None, now: datetime) -> bytes | Refusal:
        """The run's work tree for its pod (only while no result is stored and it has not expired)."""
        with self.database.sessions() as session:
            run = session.get(TerraformJobRun, run_id)
            if run is None:
                return Refusal.NOT_FOUND
            refusal = _check(run, token, now)
            if refusal is not None:
                return Refusal.EXPIRED if refusal is Refusal.ALREADY_STORED else refusal
            return run.bundle

    def store_result(self, run_id: int, token: str | None, body: bytes, now: datetime) -> Stored | Refusal:
        """Keep the pod's result (once): the run becomes ``finished``."""
        with self.database.transaction() as session:
            run = session.get(TerraformJobRun, run_id)
            if run is None:
                return Refusal.NOT_FOUND
            refusal = _check(run, token, now)
            if refusal is not None:
                return refusal
            # Conditional, so that of two results sent at once exactly one is stored.
            stored = session.execute(
                update(TerraformJobRun)
                .where(
                    TerraformJobRun.id == run_id,
                    TerraformJobRun.status == TerraformJobRunStatus.CREATED,
                    TerraformJobRun.result.is_(None),
                )
                .values(result=body, status=TerraformJobRunStatus.FINISHED, finished_at=now)
                .execution_options(synchronize_session=False)
            )
            return "stored" if stored.rowcount == 1 else Refusal.ALREADY_STORED

    def result(self, run_id: int) -> bytes | None:
        """The result the pod sent, or None (none yet, or the run is gone)."""
        with self.database.sessions() as session:
            return session.scalars(select(TerraformJobRun.result).where(TerraformJobRun.id == run_id)).first()

    def mark(self, run_id: int, status: TerraformJobRunStatus | str) -> None:
        """Set the run's status; a run the bot is done with (consumed, abandoned) drops its bundle
        and result at once (the row itself goes at the next :meth:`purge`)."""
        status = TerraformJobRunStatus(status)
        values: dict[str, Any] = {"status": status}
        if status in _DONE:
            values.update(bundle=b"", result=None)
        with self.database.transaction() as session:
            session.execute(
                update(TerraformJobRun)
                .where(TerraformJobRun.id == run_id)
                .values(**values)
                .execution_options(synchronize_session=False)
            )

    def purge(self, now: datetime) -> int:
        """Delete the runs that expired before ``now`` and those the bot is done with; how many."""
        with self.database.transaction() as session:
            deleted = session.execute(
                delete(TerraformJobRun)
                .where(or_(TerraformJobRun.expires_at < now, TerraformJobRun.status.in_(_DONE)))
                .execution_options(synchronize_session=False)
            )
            return int(deleted.rowcount or 0)


def _check(run: TerraformJobRun, token: str | None, now: datetime) -> Refusal | None:
    """The token first (nothing about a run is told without it), then whether it may still report."""
    if not token or not hmac.compare_digest(token_digest(token), run.token_sha256):
        return Refusal.UNAUTHORIZED
    status = TerraformJobRunStatus(run.status)
    if status in (TerraformJobRunStatus.FINISHED, TerraformJobRunStatus.CONSUMED):
        return Refusal.ALREADY_STORED
    if status is TerraformJobRunStatus.ABANDONED or now >= run.expires_at:
        return Refusal.EXPIRED
    return None
