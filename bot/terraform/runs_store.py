"""The Terraform runs the console shows: their ``terraform_runs`` rows and output lines.

Every read and write of a run goes through :class:`TerraformRuns`. A run is one project's plan or
apply on a pull request: created ``running`` when it starts, its output appended in small
batches (already redacted: the store never sees a secret Terraform printed), finished once with
the project's result. Reads hand out :class:`RunInfo` and :class:`RunLine` values, never rows.
Storage stays bounded: the writer stops at a line cap (the run is marked truncated) and
:meth:`TerraformRuns.purge` drops old runs with their lines.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, delete, insert, or_, select, update

from bot.storage.db import Database
from bot.storage.models import TerraformRun, TerraformRunLine, TerraformRunStatus
from bot.storage.types import utcnow


@dataclass(frozen=True)
class NewRun:
    """What a run is of, as it starts."""

    repo: str
    pr_number: int
    pr_url: str | None
    project: str  # "" when unnamed
    dir: str
    workspace: str
    command: str  # plan | apply
    head_sha: str
    requested_by: str


@dataclass(frozen=True)
class RunInfo:
    id: int
    repo: str
    pr_number: int
    pr_url: str | None
    project: str
    dir: str
    workspace: str
    command: str
    head_sha: str
    status: str
    requested_by: str
    started_at: datetime
    finished_at: datetime | None
    outcome: str | None  # the project's result once finished: planned, no_changes, applied …
    headline: str
    line_count: int
    truncated: bool

    @property
    def running(self) -> bool:
        return self.status == TerraformRunStatus.RUNNING

    @property
    def label(self) -> str:
        return self.project or self.dir


@dataclass(frozen=True)
class RunLine:
    seq: int
    step: str
    line: str


def _info(row: TerraformRun) -> RunInfo:
    return RunInfo(
        id=row.id,
        repo=row.repo,
        pr_number=row.pr_number,
        pr_url=row.pr_url,
        project=row.project,
        dir=row.dir,
        workspace=row.workspace,
        command=row.command,
        head_sha=row.head_sha,
        status=row.status,
        requested_by=row.requested_by,
        started_at=row.started_at,
        finished_at=row.finished_at,
        outcome=row.outcome,
        headline=row.headline,
        line_count=row.line_count,
        truncated=row.truncated,
    )


class TerraformRuns:
    def __init__(self, database: Database, *, clock: Callable[[], datetime] = utcnow) -> None:
        self.database = database
        self.clock = clock

    def start(self, new: NewRun) -> RunInfo:
        with self.database.transaction() as session:
            row = TerraformRun(
                repo=new.repo,
                pr_number=new.pr_number,
                pr_url=new.pr_url,
                project=new.project,
                dir=new.dir,
                workspace=new.workspace,
                command=new.command,
                head_sha=new.head_sha,
                status=TerraformRunStatus.RUNNING,
                requested_by=new.requested_by,
                started_at=self.clock(),
                headline="",
                line_count=0,
                truncated=False,
            )
            session.add(row)
            session.flush()
            return _info(row)

    def append(self, run_id: int, lines: Sequence[RunLine], *, truncated: bool = False) -> None:
        """Add lines (numbered by the run's one writer, from 1, in order) in one transaction."""
        if not lines and not truncated:
            return
        with self.database.transaction() as session:
            if lines:
                session.execute(
                    insert(TerraformRunLine),
                    [{"run_id": run_id, "seq": x.seq, "step": x.step, "line": x.line} for x in lines],
                )
            values: dict[str, object] = {}
            if lines:
                values["line_count"] = lines[-1].seq
            if truncated:
                values["truncated"] = True
            session.execute(update(TerraformRun).where(TerraformRun.id == run_id).values(**values))

    def finish(self, run_id: int, status: TerraformRunStatus, *, outcome: str | None, headline: str) -> bool:
        """End a running run (False when it had already ended: the first end stands)."""
        with self.database.transaction() as session:
            result = session.execute(
                update(TerraformRun)
                .where(TerraformRun.id == run_id, TerraformRun.status == TerraformRunStatus.RUNNING)
                .values(status=status, outcome=outcome, headline=headline, finished_at=self.clock())
            )
            return bool(getattr(result, "rowcount", 0))

    def get(self, run_id: int) -> RunInfo | None:
        with self.database.sessions() as session:
            row = session.get(TerraformRun, run_id)
            return _info(row) if row is not None else None

    def lines(self, run_id: int, *, after: int = 0, limit: int = 1000) -> list[RunLine]:
        """The run's lines numbered above ``after``, at most ``limit``, in order."""
        statement = (
            select(TerraformRunLine)
            .where(TerraformRunLine.run_id == run_id, TerraformRunLine.seq > after)
            .order_by(TerraformRunLine.seq)
            .limit(limit)
        )
        with self.database.sessions() as session:
            return [RunLine(row.seq, row.step, row.line) for row in session.scalars(statement)]

    def since(self, run_id: int, *, after: int, limit: int) -> tuple[RunInfo | None, list[RunLine]]:
        """The run as it stands, then its lines numbered above ``after`` (one read, for a live page:
        a run already ended when read has all its lines written)."""
        with self.database.sessions() as session:
            row = session.get(TerraformRun, run_id)
            if row is None:
                return None, []
            run = _info(row)
        return run, self.lines(run_id, after=after, limit=limit)

    def newest(
        self,
        limit: int,
        *,
        repo: str | None = None,
        pr_number: int | None = None,
        before: tuple[datetime, int] | None = None,
    ) -> list[RunInfo]:
        """At most ``limit`` runs, newest first; ``before`` (started at, id) continues a listing."""
        statement = select(TerraformRun).order_by(TerraformRun.started_at.desc(), TerraformRun.id.desc())
        if repo is not None:
            statement = statement.where(TerraformRun.repo == repo)
        if pr_number is not None:
            statement = statement.where(TerraformRun.pr_number == pr_number)
        if before is not None:
            at, last_id = before
            statement = statement.where(
                or_(
                    TerraformRun.started_at < at,
                    and_(TerraformRun.started_at == at, TerraformRun.id < last_id),
                )
            )
        with self.database.sessions() as session:
            return [_info(row) for row in session.scalars(statement.limit(limit))]

    def end_stale(self, started_before: datetime, headline: str) -> int:
        """End as failed the runs still running that started before ``started_before``: their
        process went away (a restart, a lost node) before it could end them; how many."""
        with self.database.transaction() as session:
            result = session.execute(
                update(TerraformRun)
                .where(
                    TerraformRun.status == TerraformRunStatus.RUNNING,
                    TerraformRun.started_at < started_before,
                )
                .values(status=TerraformRunStatus.FAILED, headline=headline, finished_at=self.clock())
            )
            return int(getattr(result, "rowcount", 0) or 0)

    def purge(self, started_before: datetime) -> int:
        """Drop the runs (and their lines) started before ``started_before``; how many went."""
        with self.database.transaction() as session:
            old = select(TerraformRun.id).where(TerraformRun.started_at < started_before)
            # Lines first: the foreign key cascades too, but not every SQLite connection enforces it.
            session.execute(delete(TerraformRunLine).where(TerraformRunLine.run_id.in_(old)))
            result = session.execute(delete(TerraformRun).where(TerraformRun.started_at < started_before))
            return int(getattr(result, "rowcount", 0) or 0)
