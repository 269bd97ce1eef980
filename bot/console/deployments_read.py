"""What the overview and deployment pages read: the GitOps repositories' configs, and the rows of the
deployments, analyses, update requests, quarantines and audit log (read only: each store owns its
rows). Blocking: the pages call these from a thread pool. The decisions are in
:mod:`bot.console.overview_view` and :mod:`bot.console.deployment_view`.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from bot.config import RepoConfig
from bot.console import analysis_view
from bot.console.deployment_view import Known, Recorded
from bot.console.overview_view import (
    Change,
    Configured,
    Facts,
    Group,
    Newest,
    OpenPull,
    Progress,
    Quarantined,
    Row,
    group_rows,
    groups,
    page_of,
)
from bot.deployments import plan as plans
from bot.deployments.ladder import step_label
from bot.pagination import Cursor, PageRequest
from bot.storage.db import Database
from bot.storage.models import (
    Action,
    Analysis,
    AnalysisInterval,
    Deployment,
    Quarantine,
    UpdateRequest,
    UpdateStatus,
)
from bot.updates.triggers import allowed_repos

if TYPE_CHECKING:
    from bot.services import Services

log = structlog.get_logger("gitops_bot.console")

Key = tuple[str, str]  # (repo, deployment name)

# Audit kinds that change a deployment or say what became of it ("last change, and who").
CHANGE_KINDS = (
    "deployment.recorded",
    "rollback.request",
    "rollback.merged",
    "quarantine.add",
    "quarantine.lift",
)


def gitops_repos(services: Services) -> list[str]:
    settings = services.settings
    return allowed_repos(settings.gitops_repos, settings.repo_allowed)


def load_configs(services: Services, repos: Iterable[str]) -> tuple[dict[str, RepoConfig], list[str]]:
    """Each repository's ``.gitops-bot.yaml`` (default branch, cached briefly), and why any is missing."""
    configs: dict[str, RepoConfig] = {}
    problems: list[str] = []
    for repo in repos:
        try:
            loaded = services.repo_config(repo)
        except Exception as error:  # GitHub away, no credentials: the rows still show
            log.warning("console.config_unreadable", repo=repo, error=str(error))
            problems.append(f"{repo}: .gitops-bot.yaml could not be read ({error})")
            continue
        if loaded.config is None:
            problems.append(loaded.problem() or f"{repo} has no usable .gitops-bot.yaml")
        else:
            configs[repo] = loaded.config
    return configs, problems


def configured(configs: Mapping[str, RepoConfig]) -> list[Configured]:
    return [
        Configured(
            repo,
            item.name,
            item.promote.to if item.promote else None,
            index,
            item.canary is not None,
        )
        for repo, config in configs.items()
        for index, item in enumerate(config.deployments)
    ]


_NEWEST_COLUMNS = (
    Deployment.id,
    Deployment.repo,
    Deployment.name,
    Deployment.version,
    Deployment.previous_version,
    Deployment.status,
    Deployment.merged_at,
    Deployment.pr_number,
    Deployment.pr_url,
    Deployment.rollback_pr_number,
    Deployment.rollback_pr_url,
    Deployment.rolled_back_at,
)


def newest_rows(database: Database, repo: str | None = None) -> list[Newest]:
    """The newest ``deployments`` row of every deployment (of one repository). Columns, not
    entities: the overview reads every deployment's on each visit."""
    per_name = select(func.max(Deployment.id)).group_by(Deployment.repo, Deployment.name)
    if repo is not None:
        per_name = per_name.where(Deployment.repo == repo)
    with database.reads() as session:
        rows = session.execute(
            select(*_NEWEST_COLUMNS).where(Deployment.id.in_(per_name.scalar_subquery()))
        ).all()
    return [Newest(*row) for row in rows]


def facts_for(database: Database, keys: Collection[Key], newest: Mapping[Key, Newest]) -> dict[Key, Facts]:
    """What the rows say about these deployments: progress, open pull requests, quarantines, the
    last change. A handful of queries for a whole page, however many rows it shows."""
    if not keys:
        return {}
    repos = sorted({repo for repo, _name in keys})
    mine = {key: row for key, row in newest.items() if key in keys}
    with database.reads() as session:
        progress = _progress(session, mine)
        pulls = _open_pulls(session, repos, keys, mine)
        quarantined = _quarantined(session, repos, keys)
        changes = _changes(session, repos, keys)
    return {
        key: Facts(
            newest=mine.get(key),
            progress=progress.get(key),
            pulls=tuple(pulls.get(key, ())),
            quarantined=tuple(quarantined.get(key, ())),
            change=changes.get(key),
        )
        for key in keys
    }


def _progress(session: Session, newest: Mapping[Key, Newest]) -> dict[Key, Progress]:
    analysing = {row.id: key for key, row in newest.items() if row.status == plans.ANALYSING}
    if not analysing:
        return {}
    latest = session.execute(
        select(func.max(Analysis.id))
        .where(Analysis.deployment_id.in_(analysing))
        .group_by(Analysis.deployment_id)
    ).scalars()
    analyses = list(session.scalars(select(Analysis).where(Analysis.id.in_(list(latest)))))
    verdicts: dict[int, list[analysis_view.IntervalRecord]] = {item.id: [] for item in analyses}
    for analysis_id, index, at, verdict in session.execute(
        select(
            AnalysisInterval.analysis_id,
            AnalysisInterval.index,
            AnalysisInterval.at,
            AnalysisInterval.verdict,
        )
        .where(AnalysisInterval.analysis_id.in_(verdicts))
        .order_by(AnalysisInterval.analysis_id, AnalysisInterval.index)
    ):
        verdicts[analysis_id].append(analysis_view.IntervalRecord(index, at, verdict, None, {}))
    found: dict[Key, Progress] = {}
    for item in analyses:
        # The analysis page's own reading of how far it is (expected intervals, failures).
        decided = analysis_view.decision(item.config or {}, item.status, item.reason, verdicts[item.id])
        found[analysing[item.deployment_id]] = Progress(
            item.id, item.status, decided.measured, decided.expected, decided.failed, decided.inconclusive,
            step_label(item.config, item.step),
        )  # fmt: skip
    return found


def _source_kind(details: Any) -> str:
    source = details.get("source") if isinstance(details, Mapping) else None
    kind = source.get("kind") if isinstance(source, Mapping) else None
    return "promotion" if kind == "promotion" else "update"


def _open_pulls(
    session: Session, repos: Sequence[str], keys: Collection[Key], newest: Mapping[Key, Newest]
) -> dict[Key, list[OpenPull]]:
    found: dict[Key, list[OpenPull]] = {}
    rows = session.scalars(
        select(UpdateRequest)
        .where(
            UpdateRequest.repo.in_(repos),
            UpdateRequest.status == UpdateStatus.OPEN,
            UpdateRequest.pr_number.is_not(None),
        )
        .order_by(UpdateRequest.updated_at.desc(), UpdateRequest.id.desc())
    )
    for row in rows:
        key = (row.repo, row.deployment)
        if key in keys and row.pr_number is not None:
            pull = OpenPull(row.pr_number, row.pr_url, row.version, _source_kind(row.details))
            found.setdefault(key, []).append(pull)
    for key, item in newest.items():
        if item.status == plans.ROLLING_BACK and item.rollback_pr_number is not None:
            revert = OpenPull(item.rollback_pr_number, item.rollback_pr_url, item.version, "revert")
            found.setdefault(key, []).insert(0, revert)
    return found


def _quarantined(
    session: Session, repos: Sequence[str], keys: Collection[Key]
) -> dict[Key, list[Quarantined]]:
    found: dict[Key, list[Quarantined]] = {}
    rows = session.scalars(
        select(Quarantine)
        .where(Quarantine.repo.in_(repos), Quarantine.lifted_at.is_(None))
        .order_by(Quarantine.created_at.desc(), Quarantine.id.desc())
    )
    for row in rows:
        key = (row.repo, row.deployment)
        if key in keys:
            found.setdefault(key, []).append(
                Quarantined(row.version, row.reason, row.created_at, row.created_by)
            )
    return found


def _changes(session: Session, repos: Sequence[str], keys: Collection[Key]) -> dict[Key, Change]:
    """The newest change-like audit row per deployment (targets are ``<name>@<version>``)."""
    names = sorted({name for _repo, name in keys})
    newest_per_target = (
        select(func.max(Action.id))
        .where(
            Action.repo.in_(repos),
            or_(Action.kind.in_(CHANGE_KINDS), Action.kind.like("canary.%")),
            or_(*(Action.target.startswith(f"{name}@", autoescape=True) for name in names)),
        )
        .group_by(Action.repo, Action.target)
    )
    found: dict[Key, Change] = {}
    rows = session.execute(
        select(
            Action.repo, Action.target, Action.at, Action.kind, Action.actor, Action.summary, Action.outcome
        )
        .where(Action.id.in_(newest_per_target.scalar_subquery()))
        .order_by(Action.id)
    )
    for repo, target, at, kind, actor, summary, outcome in rows:
        if repo is None or not target or "@" not in target:
            continue
        key = (repo, target.split("@", 1)[0])
        if key in keys:  # in id order: the newest wins
            found[key] = Change(at, kind, actor, summary, outcome)
    return found


# --------------------------------------------------------------------------- the pages' reads


@dataclass(frozen=True)
class Overview:
    """One page of the overview."""

    groups: list[tuple[Group, list[Row]]]
    last: Cursor | None  # the key of the page's last group, when more follow
    problems: list[str]
    total: int


def load_overview(services: Services, page: PageRequest) -> Overview:
    configs, problems = load_configs(services, gitops_repos(services))
    newest = {(row.repo, row.name): row for row in newest_rows(services.database)}
    every = groups(configured(configs), newest.values())
    shown, last = page_of(every, page)
    keys = {(group.repo, name) for group in shown for name in group.names()}
    facts = facts_for(services.database, keys, newest)
    return Overview([(group, group_rows(group, facts)) for group in shown], last, problems, len(every))


def known_commits(database: Database, repo: str, name: str) -> Known:
    """What the bot recorded about a deployment's merges and pull requests, for its history."""
    recorded: dict[str, Recorded] = {}
    urls: dict[int, str] = {}
    promotions: set[int] = set()
    with database.reads() as session:
        rows = list(
            session.scalars(
                select(Deployment)
                .where(Deployment.repo == repo, Deployment.name == name)
                .order_by(Deployment.id.desc())
                .limit(500)
            )
        )
        analyses = dict(
            session.execute(
                select(Analysis.deployment_id, func.max(Analysis.id))
                .where(Analysis.deployment_id.in_([row.id for row in rows]))
                .group_by(Analysis.deployment_id)
            ).all()
        )
        for row in rows:
            recorded[row.merge_commit_sha] = Recorded(row.id, row.status, analyses.get(row.id), row.pr_url)
            if row.rollback_pr_number is not None and row.rollback_pr_url:
                urls[row.rollback_pr_number] = row.rollback_pr_url
        for number, url, details in session.execute(
            select(UpdateRequest.pr_number, UpdateRequest.pr_url, UpdateRequest.details).where(
                UpdateRequest.repo == repo,
                UpdateRequest.deployment == name,
                UpdateRequest.pr_number.is_not(None),
            )
        ):
            if url:
                urls[number] = url
            if _source_kind(details) == "promotion":
                promotions.add(number)
    return Known(recorded, frozenset(promotions), urls)


__all__ = [
    "CHANGE_KINDS",
    "Overview",
    "configured",
    "facts_for",
    "gitops_repos",
    "known_commits",
    "load_configs",
    "load_overview",
    "newest_rows",
]
