"""The reads behind ``/updates``: the configured deployments, what runs, the bot's update pull
requests and its refusals, for :func:`bot.console.updates_view.dashboard` to file.

Bounded: the newest ``SCAN`` update rows and refusals (an index walk each); older ones are in the
audit log. Filters by repository and deployment go into the queries.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from sqlalchemy import select

from bot.console.deployments_read import configured, gitops_repos, load_configs, newest_rows
from bot.console.updates_view import DeploymentUpdates, Refusal, UpdateRow, dashboard, page_of, refusal_target
from bot.pagination import Cursor, PageRequest
from bot.storage.db import Database
from bot.storage.models import Action, UpdateRequest

if TYPE_CHECKING:
    from bot.services import Services

SCAN = 5_000


@dataclass(frozen=True)
class UpdatesPage:
    entries: list[DeploymentUpdates]
    last: Cursor | None
    versions: dict[int, str]  # update row id → its version, for "superseded by"
    problems: list[str]
    total: int


def update_rows(database: Database, repo: str | None, deployment: str | None) -> list[UpdateRow]:
    statement = select(
        UpdateRequest.id, UpdateRequest.repo, UpdateRequest.deployment, UpdateRequest.version,
        UpdateRequest.status, UpdateRequest.updated_at, UpdateRequest.digest, UpdateRequest.pr_number,
        UpdateRequest.pr_url, UpdateRequest.requested_by, UpdateRequest.superseded_by,
    ).order_by(UpdateRequest.updated_at.desc(), UpdateRequest.id.desc()).limit(SCAN)  # fmt: skip
    if repo:
        statement = statement.where(UpdateRequest.repo == repo)
    if deployment:
        statement = statement.where(UpdateRequest.deployment == deployment)
    with database.reads() as session:
        return [UpdateRow(*row) for row in session.execute(statement)]


def refusals(database: Database, repo: str | None, deployment: str | None) -> list[Refusal]:
    """The newest refusals, without their reasons yet (:func:`with_reasons` reads those for the
    deployments a page shows: their details are most of what a refusal costs to read)."""
    statement = (
        select(Action.id, Action.repo, Action.target, Action.at, Action.actor)
        .where(Action.kind == "update.propose", Action.outcome == "refused")
        .order_by(Action.at.desc(), Action.id.desc())
        .limit(SCAN)
    )
    if repo:
        statement = statement.where(Action.repo == repo)
    if deployment:
        statement = statement.where(Action.target.startswith(f"{deployment}@", autoescape=True))
    found: list[Refusal] = []
    with database.reads() as session:
        for action_id, action_repo, target, at, actor in session.execute(statement):
            named = refusal_target(target)
            if named is not None and action_repo is not None:
                found.append(Refusal(action_id, action_repo, *named, at, "", "", actor))
    return found


def with_reasons(database: Database, entries: list[DeploymentUpdates]) -> None:
    """Fill in the code and reason of every refusal ``entries`` show (one query)."""
    wanted = [refusal.id for entry in entries for refusal in entry.refused]
    if not wanted:
        return
    with database.reads() as session:
        rows = session.execute(select(Action.id, Action.details, Action.summary).where(Action.id.in_(wanted)))
        facts = {
            action_id: (details if isinstance(details, dict) else {}, summary)
            for action_id, details, summary in rows
        }
    for entry in entries:
        entry.refused = [
            replace(
                refusal,
                code=str(facts[refusal.id][0].get("code") or ""),
                reason=str(facts[refusal.id][0].get("reason") or facts[refusal.id][1]),
            )
            for refusal in entry.refused
            if refusal.id in facts
        ]


def load_updates(
    services: Services, page: PageRequest, repo: str | None, deployment: str | None
) -> UpdatesPage:
    repos = [name for name in gitops_repos(services) if repo is None or name == repo]
    configs, problems = load_configs(services, repos)
    wanted = [item for item in configured(configs) if deployment is None or item.name == deployment]
    newest = [
        row for row in newest_rows(services.database, repo) if deployment is None or row.name == deployment
    ]
    updates = update_rows(services.database, repo, deployment)
    entries = dashboard(wanted, newest, updates, refusals(services.database, repo, deployment))
    shown, last = page_of(entries, page)
    with_reasons(services.database, shown)
    versions = {row.id: row.version for row in updates}
    return UpdatesPage(shown, last, versions, problems, len(entries))
