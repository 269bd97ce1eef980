"""``/deployments/{owner}/{repo}/{name}``: one deployment. Its version history from git (each
merge, revert and promotion with its pull request), its quarantined versions with who, when and
why, and "Lift"; its promotion chain (staging → prod) as a timeline. JSON twin:
``/api/deployments/{owner}/{repo}/{name}``.

The repository is two path segments (``acme/gitops``): ``/deployments/acme/gitops/chat-llm-prod``.
The history is read from the bot's git mirror (:mod:`bot.console.version_history`), what is shown
is decided in :mod:`bot.console.deployment_view`. "Lift" does what an explicit deploy does to a
quarantine (:meth:`bot.deployments.quarantine.QuarantineStore.lift`), after the same ``deploy``
permission, and is audited with the viewer's login.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from bot.adapters.forge.names import GITLAB_PREFIX, is_gitlab
from bot.api import answered
from bot.console.deployment_view import Entry, Stage, history, stage_json, timeline
from bot.console.deployments_read import (
    configured,
    facts_for,
    gitops_repos,
    known_commits,
    load_configs,
    newest_rows,
)
from bot.console.overview_view import Row, deployment_path, group_rows, groups, progress_text
from bot.console.pages.overview import unavailable
from bot.console.render import Console, console_of
from bot.console.security import Viewer, permission_refusal, require_action, require_viewer
from bot.console.terraform_view import age_text, safe_href
from bot.console.version_history import VersionHistory
from bot.storage.types import utcnow

if TYPE_CHECKING:
    from bot.services import Services

# GitHub's owner and repository names, and the config's deployment names: nothing else is looked up.
_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
LIFT_OUTCOMES = frozenset({"lifted", "gone", "dry_run"})
LIFT_PERMISSION = "deploy"  # what lifts a quarantine in a PR comment or Slack: an explicit deploy


@dataclass(frozen=True)
class DeploymentPage:
    repo: str
    name: str
    row: Row
    stages: list[Stage]
    entries: list[Entry]
    history_problem: str | None
    problems: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            **self.row.to_json(),
            "chain": [stage_json(stage) for stage in self.stages],
            "history": [entry.to_json() for entry in self.entries],
            "history_problem": self.history_problem,
        }


def load_deployment(
    services: Services, reader: VersionHistory, repo: str, name: str
) -> DeploymentPage | None:
    """The deployment's page, or None when no config names it and the bot never recorded it."""
    # Only the bot's own GitOps repositories are asked for a config: a path is no way to make the
    # bot read any repository its credentials reach.
    asked = [repo] if repo in gitops_repos(services) else []
    configs, problems = load_configs(services, asked)
    newest = {(row.repo, row.name): row for row in newest_rows(services.database, repo)}
    group = next((g for g in groups(configured(configs), newest.values()) if name in g.names()), None)
    if group is None:
        return None
    facts = facts_for(services.database, {(repo, member) for member in group.names()}, newest)
    rows = group_rows(group, facts)
    row = next(item for item in rows if item.member.name == name)
    config = configs.get(repo)
    wanted = config.deployment(name) if config is not None else None
    entries: list[Entry] = []
    problem: str | None
    if wanted is None:
        problem = (
            f"{name} is not in {repo}'s .gitops-bot.yaml now: its targets, and so its history, are unknown."
        )
    else:
        read = reader.read(repo, wanted)
        known = known_commits(services.database, repo, name)
        pulls = services.settings.pull_url_pattern(repo)
        entries, problem = history(name, read.commits, read.before_oldest, known, pulls), read.problem
    return DeploymentPage(repo, name, row, timeline(rows, name), entries, problem, problems)


@dataclass(frozen=True)
class Lifted:
    """What "Lift" came to: ``done`` names the page's flash; ``refusal`` why it was not allowed."""

    done: str
    refusal: str | None = None


def lift(services: Services, viewer: Viewer, repo: str, name: str, version: str) -> Lifted:
    """Lift the quarantine of ``version`` as ``viewer`` (the ``deploy`` permission first), audited."""
    if version not in services.quarantine.versions(repo=repo, deployment=name):
        return Lifted("gone")
    where = f"{name} {version}"

    def record(summary: str, outcome: str, reason: str | None = None) -> None:
        details = {"via": viewer.via} | ({"reason": reason} if reason is not None else {})
        services.audit(
            kind="console.lift_quarantine", actor=viewer.login, summary=summary, repo=repo,
            target=f"{name}@{version}", outcome=outcome, details=details,
        )  # fmt: skip

    refusal = permission_refusal(services, viewer, repo, LIFT_PERMISSION)
    if refusal is not None:
        record(f"lifting the quarantine of {where} refused: {refusal}", "refused", refusal)
        return Lifted("refused", refusal)
    if services.dry_run:
        record(f"lift the quarantine of {where} (dry run: not performed)", "dry_run")
        return Lifted("dry_run")
    # The store audits the lift itself (quarantine.lift), with the viewer as its actor.
    done = services.quarantine.lift(
        repo=repo, deployment=name, version=version, by=viewer.login, how="from the console"
    )
    return Lifted("lifted" if done else "gone")


def _looks(page: DeploymentPage) -> dict[str, Any]:
    """What the template needs beyond the page: ages, and links that are safe in ``href``."""
    now = utcnow()
    facts = page.row.facts
    return {
        "change_age": age_text((now - facts.change.at).total_seconds()) if facts.change else None,
        "progress": progress_text(facts.progress) if facts.progress else None,
        "pulls": [(pull, safe_href(pull.url)) for pull in facts.pulls],
        "entries": [(entry, safe_href(entry.pr_url)) for entry in page.entries],
        "quarantined": [(item, age_text((now - item.at).total_seconds())) for item in facts.quarantined],
        "promote_href": deployment_path(page.repo, page.row.member.promote_to or page.name),
    }


def place(where: str) -> tuple[str, str] | None:
    """(repository, deployment) of a path (``owner/repo/name``, or ``gitlab:group/sub/project/name``),
    or None for segments no repository or deployment has."""
    parts = where.strip("/").split("/")
    if len(parts) < 3:
        return None
    repo, name = "/".join(parts[:-1]), parts[-1]
    if is_gitlab(repo):
        parts = [parts[0][len(GITLAB_PREFIX) :], *parts[1:]]
    elif len(parts) != 3:
        return None
    if not all(_SEGMENT.match(part) for part in parts):
        return None
    return repo, name


async def show(
    console: Console, request: Request, repo: str, name: str, *,
    flash: dict[str, str] | None = None, problem: str | None = None, status_code: int = 200,
) -> Response:  # fmt: skip
    """The deployment's page (404 when unknown, 503 when the database cannot be read)."""
    try:
        page = await run_in_threadpool(load_deployment, console.services, console.version_history, repo, name)
    except SQLAlchemyError as error:
        return await unavailable(console, request, error)
    if page is None:
        return await console.page(
            request, "deployment.html.j2", title="No such deployment", page=None,
            missing=f"{repo}/{name}"[:200], status_code=404,
        )  # fmt: skip
    return await console.page(
        request, "deployment.html.j2", title=name, page=page, looks=_looks(page), flash=flash,
        problem=problem, status_code=status_code,
    )  # fmt: skip


router = APIRouter()


@router.get("/deployments/{where:path}", response_class=HTMLResponse)
async def deployment_page(
    request: Request,
    where: str,
    viewer: Viewer = Depends(require_viewer),
    done: str | None = Query(None),
    version: str | None = Query(None),
    console: Console = Depends(console_of),
) -> Response:
    found = place(where)
    if found is None:  # no repository or deployment is named so: nothing is looked up
        return await console.page(
            request, "deployment.html.j2", title="No such deployment", page=None,
            missing=where[:200], status_code=404,
        )  # fmt: skip
    flash = {"done": done, "version": version or ""} if done in LIFT_OUTCOMES else None
    return await show(console, request, *found, flash=flash)


@router.post("/deployments/{where:path}/lift")
async def lift_quarantine(
    request: Request,
    where: str,
    version: str = Form(""),
    viewer: Viewer = Depends(require_action),
    console: Console = Depends(console_of),
) -> Response:
    found = place(where)
    if found is None:
        return JSONResponse({"detail": "no such deployment"}, status_code=404)
    repo, deployment = found
    outcome = await run_in_threadpool(lift, console.services, viewer, repo, deployment, version)
    if outcome.refusal is not None:
        problem = f"You may not lift this quarantine: {outcome.refusal}"
        return await show(console, request, repo, deployment, problem=problem, status_code=403)
    query = urlencode({"done": outcome.done, "version": version[:255]})
    return RedirectResponse(f"{deployment_path(repo, deployment)}?{query}", status_code=303)


@router.get("/api/deployments/{where:path}")
@answered()
async def api_deployment(
    where: str, viewer: Viewer = Depends(require_viewer), console: Console = Depends(console_of)
) -> Response:
    found = place(where)
    reader = console.version_history
    page = (
        None if found is None else await run_in_threadpool(load_deployment, console.services, reader, *found)
    )
    if page is None:
        detail = f"no deployment {where}"[:200]
        return JSONResponse({"detail": detail}, status_code=404)
    return JSONResponse(page.to_json())
