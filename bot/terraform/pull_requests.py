"""Terraform for pull requests: plan, apply, locks, requirements, and what the pull request is told.

The I/O around :mod:`bot.terraform.projects` (pure) and
:class:`bot.adapters.terraform_cli.TerraformRunner`: one work tree at the pull request's head
sha per command, plans of several projects in parallel on a bounded pool, saved plan files under
``GITOPS_BOT_DATA_DIR/plans`` tied to the head sha they were made at (a plan made at an older
head is stale and is never applied), database locks per repo + dir + workspace + project, one
comment per command (split at 65,536 characters), and commit statuses ``gitops-bot/plan`` and
``gitops-bot/apply``.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import structlog
from sqlalchemy import delete, select

from bot.adapters.forge import post_comment
from bot.adapters.forge.port import CommitState, CommitStatus, Forge, PullRequest
from bot.adapters.terraform_cli import PlanRequest
from bot.adapters.terraform_cli.runner import default_planfile, run_plans
from bot.config import RepoConfig
from bot.notify import TerraformResult
from bot.storage.models import Plan
from bot.storage.types import utcnow
from bot.terraform.locks import LockInfo, LockKey
from bot.terraform.projects import (
    ProjectTarget,
    configured_targets,
    head_approvers,
    select_targets,
    unmet_requirements,
)

if TYPE_CHECKING:
    from bot.services import Services

log = structlog.get_logger("gitops_bot.terraform")

Status = Literal["planned", "no_changes", "failed", "locked", "applied", "apply_failed", "refused"]


@dataclass(frozen=True)
class ProjectResult:
    target: ProjectTarget
    status: Status
    headline: str
    output: str = ""
    lock: LockInfo | None = None

    @property
    def ok(self) -> bool:
        return self.status in ("planned", "no_changes", "applied")


def _planfile(services: Services, repo: str, number: int, target: ProjectTarget) -> Path:
    digest = hashlib.sha256(f"{repo}#{number}|{target.key}".encode()).hexdigest()[:32]
    path = Path(services.settings.data_dir).absolute() / "plans" / f"{digest}.tfplan"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _lock_key(repo: str, target: ProjectTarget) -> LockKey:
    return LockKey(repo, target.dir, target.workspace, target.name)


def _headline(summary: object | None) -> str:
    if summary is None:
        return ""
    if not getattr(summary, "has_changes", False):
        return "No changes. Your infrastructure matches the configuration."
    return (
        f"Plan: {summary.add} to add, {summary.change} to change, "  # type: ignore[attr-defined]
        f"{summary.destroy} to destroy."  # type: ignore[attr-defined]
    )


def _job_log(services: Services, repo: str, number: int, target: ProjectTarget) -> Callable[[str, str], None]:
    """Terraform's output, line by line and redacted, into the job's log as it runs."""
    redact = services.redactor().redact

    def on_line(step: str, line: str) -> None:
        log.info(
            "terraform.output", repo=repo, number=number, project=target.label, step=step, line=redact(line)
        )

    return on_line


def _render(services: Services, name: str, **context: object) -> str:
    return services.templates.get_template(f"terraform/{name}").render(**context)


# --------------------------------------------------------------------------- plan


def plan_pull_request(
    services: Services,
    *,
    repo: str,
    number: int,
    requested_by: str,
    config: RepoConfig | None,
    installation_id: int | None = None,
    project: str | None = None,
    directory: str | None = None,
    workspace: str | None = None,
    extra_args: tuple[str, ...] = (),
    verbose: bool = False,
    executable: str = "/gitops",
    autoplan: bool = False,
) -> list[ProjectResult]:
    forge = services.forge_for_repo(repo, installation_id)
    pr = forge.get_pull_request(repo, number)
    changed = [item.filename for item in forge.list_changed_files(repo, number)]
    selected = select_targets(config, changed, project=project, directory=directory, workspace=workspace)
    if isinstance(selected, str):
        if not autoplan:
            forge.create_comment(repo, number, f"Nothing to plan: {selected}.")
        return []
    if _refused_without_sandbox(services, forge, repo, pr, "plan", executable, requested_by):
        return []
    results: list[ProjectResult] = []
    runnable: list[ProjectTarget] = []
    for target in selected:
        taken = services.locks.acquire(
            _lock_key(repo, target), pr_number=number, owner=requested_by, pr_url=pr.html_url
        )
        if taken.acquired:
            runnable.append(target)
        else:
            results.append(ProjectResult(target, "locked", "", lock=taken.lock))
    forge.set_commit_status(
        repo,
        pr.head_sha,
        CommitStatus(CommitState.PENDING, "gitops-bot/plan", f"planning {len(selected)} project(s)"),
    )
    # Read before planning: a new plan of a project replaces its row, comment ids included.
    previous = _previous_plan_comments(services, repo, number, selected)
    if runnable:
        results += _plan_targets(services, forge, repo, pr, runnable, extra_args, requested_by)
    order = {target.key: index for index, target in enumerate(selected)}
    results.sort(key=lambda result: order[result.target.key])
    planned = sum(1 for result in results if result.ok)
    forge.set_commit_status(
        repo,
        pr.head_sha,
        CommitStatus(
            CommitState.SUCCESS if planned == len(results) else CommitState.FAILURE,
            "gitops-bot/plan",
            f"{planned}/{len(results)} projects planned",
        ),
    )
    body = _render(
        services,
        "plan_comment.md.j2",
        results=results,
        executable=executable,
        verbose=verbose,
        number=number,
        requested_by=requested_by,
        unsandboxed=services.terraform_status().mode == "local",
    )
    posted = post_comment(forge, repo, number, body)
    _remember_plan_comments(services, repo, number, [r.target for r in results], [c.id for c in posted])
    for comment_id in previous - {c.id for c in posted}:
        # Superseded plans are folded away rather than left to pile up.
        forge.edit_comment(repo, comment_id, _render(services, "plan_superseded.md.j2", head=pr.head_sha))
    _notify(services, config, repo, pr, "plan", results, requested_by)
    services.audit(
        kind="terraform.plan",
        actor=requested_by,
        summary=f"plan on #{number}: " + "; ".join(f"{r.target.label}: {r.status}" for r in results),
        repo=repo,
        target=f"#{number}",
        outcome="done" if planned == len(results) else "failed",
    )
    return results


def _refused_without_sandbox(
    services: Services,
    forge: Forge,
    repo: str,
    pr: PullRequest,
    command: Literal["plan", "apply"],
    executable: str,
    requested_by: str,
) -> bool:
    """When the sandbox cannot be made, refuse the command (saying how to fix it) and return True."""
    status = services.terraform_status()
    if status.ok:
        return False
    body = _render(
        services, "sandbox_unavailable.md.j2", detail=status.detail, command=command, executable=executable
    )
    forge.create_comment(repo, pr.number, body)
    forge.set_commit_status(
        repo,
        pr.head_sha,
        CommitStatus(CommitState.FAILURE, f"gitops-bot/{command}", "terraform sandbox unavailable"),
    )
    services.audit(
        kind=f"terraform.{command}",
        actor=requested_by,
        summary=f"{command} on #{pr.number} refused: {status.detail}",
        repo=repo,
        target=f"#{pr.number}",
        outcome="refused",
    )
    return True


def project_directory(tree_root: Path, target: ProjectTarget) -> Path | str:
    """The project's directory in the work tree, or why it may not be used.

    Symlinks are resolved first: a directory that is, or passes through, a symlink leading out of
    the work tree is refused before anything runs (even a sandboxed Terraform must not be pointed
    at the bot's own files by a pull request).
    """
    root = tree_root.resolve()
    candidate = (root / target.dir).resolve()
    if candidate != root and not candidate.is_relative_to(root):
        return f"directory `{target.dir}` leads outside the repository (through a symlink); refused"
    if not candidate.is_dir():
        return f"directory `{target.dir}` does not exist"
    return candidate


def _target_rows(session: object, repo: str, number: int, targets: list[ProjectTarget]) -> list[Plan]:
    rows = session.scalars(select(Plan).where(Plan.repo == repo, Plan.pr_number == number))  # type: ignore[attr-defined]
    keys = {(t.name, t.dir, t.workspace) for t in targets}
    return [row for row in rows if (row.project, row.dir, row.workspace) in keys]


def _previous_plan_comments(
    services: Services, repo: str, number: int, targets: list[ProjectTarget]
) -> set[int]:
    with services.database.sessions() as session:
        return {
            int(comment_id)
            for row in _target_rows(session, repo, number, targets)
            for comment_id in (row.summary or {}).get("comment_ids", [])
        }


def _remember_plan_comments(
    services: Services, repo: str, number: int, targets: list[ProjectTarget], comment_ids: list[int]
) -> None:
    with services.database.transaction() as session:
        for row in _target_rows(session, repo, number, targets):
            row.summary = {**(row.summary or {}), "comment_ids": comment_ids}


def _plan_targets(
    services: Services,
    forge: Forge,
    repo: str,
    pr: PullRequest,
    targets: list[ProjectTarget],
    extra_args: tuple[str, ...],
    requested_by: str,
) -> list[ProjectResult]:
    url = services.settings.clone_url(repo)
    results: list[ProjectResult] = []
    with services.git().worktree(url, f"refs/pull/{pr.number}/head") as tree:
        if tree.head() != pr.head_sha:
            # The branch moved since the event: plan what the pull request shows now.
            log.info("terraform.head_moved", repo=repo, number=pr.number, head=tree.head())
        head = tree.head()
        runnable: list[tuple[ProjectTarget, PlanRequest]] = []
        for target in targets:
            directory = project_directory(tree.path, target)
            if isinstance(directory, str):
                results.append(ProjectResult(target, "failed", f"{directory} at {head[:12]}"))
                continue
            # The plan file is written inside the work tree (all a sandbox may write), then kept.
            request = PlanRequest(
                directory=directory,
                workspace=target.workspace,
                extra_args=extra_args,
                on_line=_job_log(services, repo, pr.number, target),
                root=tree.path.resolve(),
            )
            runnable.append((target, request))
        planned = asyncio.run(
            run_plans(
                services.terraform(),
                [request for _, request in runnable],
                max_parallel=services.settings.terraform_max_parallel_plans,
            )
        )
        for (target, _request), outcome in zip(runnable, planned, strict=True):
            output = services.redactor().redact(outcome.output)
            kept = _keep_planfile(services, repo, pr.number, target, outcome.planfile)
            if outcome.ok:
                status: Status = "planned" if outcome.has_changes else "no_changes"
                headline = _headline(outcome.summary)
            else:
                status, headline = "failed", outcome.error or "terraform plan failed"
            results.append(ProjectResult(target, status, headline, output))
            _store_plan(
                services,
                repo,
                pr,
                head,
                target,
                status=status if outcome.ok else "failed",
                planfile=kept,
                headline=headline,
                output=output,
                requested_by=requested_by,
            )
    return results


def _keep_planfile(
    services: Services, repo: str, number: int, target: ProjectTarget, made: Path | None
) -> str | None:
    """Move a plan file out of the work tree (which is removed) to where apply finds it."""
    if made is None or not made.is_file():
        return None
    kept = _planfile(services, repo, number, target)
    shutil.move(made, kept)
    return str(kept)


def _store_plan(
    services: Services,
    repo: str,
    pr: PullRequest,
    head: str,
    target: ProjectTarget,
    *,
    status: str,
    planfile: str | None,
    headline: str,
    output: str,
    requested_by: str,
) -> None:
    with services.database.transaction() as session:
        row = session.scalar(
            select(Plan).where(
                Plan.repo == repo,
                Plan.pr_number == pr.number,
                Plan.dir == target.dir,
                Plan.workspace == target.workspace,
                Plan.project == target.name,
            )
        )
        if row is None:
            row = Plan(
                repo=repo,
                pr_number=pr.number,
                dir=target.dir,
                workspace=target.workspace,
                project=target.name,
            )
            session.add(row)
        row.head_sha = head
        row.base_sha = pr.base_sha
        row.status = status
        row.planfile = planfile
        row.summary = {"headline": headline}
        row.output = output[-200_000:]
        row.requested_by = requested_by
        row.created_at = utcnow()


# --------------------------------------------------------------------------- apply


def apply_pull_request(
    services: Services,
    *,
    repo: str,
    number: int,
    requested_by: str,
    config: RepoConfig | None,
    installation_id: int | None = None,
    project: str | None = None,
    directory: str | None = None,
    workspace: str | None = None,
    extra_args: tuple[str, ...] = (),
    executable: str = "/gitops",
    on_merge: bool = False,
) -> list[ProjectResult]:
    """``on_merge``: the pull request just merged; apply the projects with ``apply_on: merge``."""
    forge = services.forge_for_repo(repo, installation_id)
    pr = forge.get_pull_request(repo, number)
    with services.database.sessions() as session:
        plans = list(session.scalars(select(Plan).where(Plan.repo == repo, Plan.pr_number == number)))
    if project is not None or directory is not None or workspace is not None:
        plans = [
            p
            for p in plans
            if (project is None or p.project == project)
            and (directory is None or p.dir == directory)
            and (workspace is None or p.workspace == workspace)
        ]
    if not plans:
        forge.create_comment(repo, number, f"Nothing to apply: run `{executable} plan` first.")
        return []
    if _refused_without_sandbox(services, forge, repo, pr, "apply", executable, requested_by):
        return []
    configured = {t.key: t for t in configured_targets(config)}
    if on_merge:
        plans = [
            p
            for p in plans
            if getattr(configured.get(f"{p.project}|{p.dir}|{p.workspace}"), "apply_on", "") == "merge"
        ]
        if not plans:
            return []
    approved = _approved(forge, repo, pr)
    mergeable = pr.mergeable is True and pr.mergeable_state in ("clean", "unstable", "has_hooks")
    results: list[ProjectResult] = []
    to_apply: list[tuple[ProjectTarget, Plan]] = []
    for row in plans:
        target = configured.get(f"{row.project}|{row.dir}|{row.workspace}") or ProjectTarget(
            row.project, row.dir, row.workspace
        )
        if target.apply_on == "merge" and not on_merge:
            results.append(
                ProjectResult(
                    target,
                    "refused",
                    "this project is applied when the pull request merges (`apply_on: merge`)",
                )
            )
            continue
        if row.status == "no_changes":
            results.append(ProjectResult(target, "no_changes", "No changes to apply."))
            continue
        if row.status != "planned" or not row.planfile:
            results.append(
                ProjectResult(target, "refused", f"its last plan failed: run `{executable} plan` again")
            )
            continue
        if row.head_sha != pr.head_sha:
            results.append(
                ProjectResult(
                    target,
                    "refused",
                    f"the plan is stale: it was made at {row.head_sha[:12]}, the pull request is now at "
                    f"{pr.head_sha[:12]}; run `{executable} plan` again",
                )
            )
            continue
        undiverged = _undiverged(services, repo, row, pr)
        requirements = target.apply_requirements
        if on_merge:
            # Merged: GitHub no longer reports mergeability, and the merge itself was the check.
            requirements = tuple(r for r in requirements if r != "mergeable")
        unmet = unmet_requirements(
            requirements, approved=approved, mergeable=mergeable, undiverged=undiverged
        )
        if unmet:
            results.append(
                ProjectResult(target, "refused", "apply requirements not met: " + "; ".join(unmet))
            )
            continue
        taken = services.locks.acquire(
            _lock_key(repo, target), pr_number=number, owner=requested_by, pr_url=pr.html_url
        )
        if not taken.acquired:
            results.append(ProjectResult(target, "locked", "", lock=taken.lock))
            continue
        to_apply.append((target, row))
    if to_apply:
        results += _apply_targets(services, repo, pr, to_apply, extra_args)
    applied = sum(1 for result in results if result.status in ("applied", "no_changes"))
    forge.set_commit_status(
        repo,
        pr.head_sha,
        CommitStatus(
            CommitState.SUCCESS if applied == len(results) else CommitState.FAILURE,
            "gitops-bot/apply",
            f"{applied}/{len(results)} projects applied",
        ),
    )
    post_comment(
        forge,
        repo,
        number,
        _render(
            services, "apply_comment.md.j2", results=results, executable=executable, requested_by=requested_by
        ),
    )
    _notify(services, config, repo, pr, "apply", results, requested_by)
    services.audit(
        kind="terraform.apply",
        actor=requested_by,
        summary=f"apply on #{number}: " + "; ".join(f"{r.target.label}: {r.status}" for r in results),
        repo=repo,
        target=f"#{number}",
        outcome="done" if applied == len(results) else "failed",
    )
    return results


WRITE_LEVELS = frozenset({"write", "maintain", "admin"})


def _approved(forge: Forge, repo: str, pr: PullRequest) -> bool:
    """Approved at the head sha by someone other than the author who has write access."""
    approvers = head_approvers(forge.list_reviews(repo, pr.number), author=pr.author, head_sha=pr.head_sha)
    return any(forge.permission_level(repo, login) in WRITE_LEVELS for login in approvers)


def _undiverged(services: Services, repo: str, row: Plan, pr: PullRequest) -> bool:
    """Has the base branch changed the project's files since the plan was made?"""
    if not row.base_sha or row.base_sha == pr.base_sha:
        return True
    mirror = services.git().mirror(services.settings.clone_url(repo))
    changed = mirror.changed_files(row.base_sha, pr.base_sha)
    prefix = "" if row.dir in ("", ".") else row.dir.rstrip("/") + "/"
    return not any(path.startswith(prefix) for path in changed)


def _apply_targets(
    services: Services,
    repo: str,
    pr: PullRequest,
    items: list[tuple[ProjectTarget, Plan]],
    extra_args: tuple[str, ...],
) -> list[ProjectResult]:
    runner = services.terraform()
    results: list[ProjectResult] = []
    url = services.settings.clone_url(repo)
    with services.git().worktree(url, pr.head_sha) as tree:
        root = tree.path.resolve()
        for target, row in items:
            directory = project_directory(root, target)
            if isinstance(directory, str):
                results.append(ProjectResult(target, "apply_failed", directory))
                continue
            if not row.planfile or not Path(row.planfile).is_file():
                gone = (
                    "the saved plan is no longer on this bot (made on another replica or lost in a restart)"
                )
                results.append(ProjectResult(target, "apply_failed", f"{gone}: plan again"))
                continue
            # The saved plan goes into the work tree: the only place a sandboxed Terraform reads.
            planfile = default_planfile(directory, target.workspace)
            shutil.copyfile(row.planfile, planfile)

            async def apply_one(
                directory: Path = directory, planfile: Path = planfile, target: ProjectTarget = target
            ):  # type: ignore[no-untyped-def]
                on_line = _job_log(services, repo, pr.number, target)
                init = await runner.init(directory, on_line=on_line, root=root)
                if not init.ok:
                    return None, init.output
                return await runner.apply(
                    directory,
                    planfile,
                    workspace=target.workspace,
                    extra_args=extra_args,
                    on_line=on_line,
                    root=root,
                ), ""

            outcome, init_output = asyncio.run(apply_one())
            if outcome is None:
                results.append(
                    ProjectResult(
                        target,
                        "apply_failed",
                        "terraform init failed",
                        services.redactor().redact(init_output),
                    )
                )
                continue
            output = services.redactor().redact(outcome.output)
            if outcome.ok:
                results.append(ProjectResult(target, "applied", _apply_headline(output), output))
                status = "applied"
            else:
                results.append(
                    ProjectResult(target, "apply_failed", outcome.error or "terraform apply failed", output)
                )
                status = "apply_failed"
            with services.database.transaction() as session:
                stored = session.get(Plan, row.id)
                if stored is not None:
                    stored.status = status
                    stored.output = output[-200_000:]
            if outcome.ok:
                Path(row.planfile or "").unlink(missing_ok=True)
    return results


_APPLY_COMPLETE = re.compile(r"Apply complete! Resources: .*")


def _apply_headline(output: str) -> str:
    found = _APPLY_COMPLETE.findall(output)
    return found[-1].strip() if found else "Apply complete."


# --------------------------------------------------------------------------- locks


def unlock_pull_request(services: Services, *, repo: str, number: int) -> list[LockInfo]:
    """``unlock``: release the pull request's locks and discard its plans (as Atlantis does)."""
    released = services.locks.release_pull(repo, number)
    _discard_plans(services, repo, number)
    return released


def release_pull_request(services: Services, *, repo: str, number: int) -> list[LockInfo]:
    """The pull request merged or closed."""
    return unlock_pull_request(services, repo=repo, number=number)


def _discard_plans(services: Services, repo: str, number: int) -> None:
    with services.database.transaction() as session:
        for row in session.scalars(select(Plan).where(Plan.repo == repo, Plan.pr_number == number)):
            if row.planfile:
                Path(row.planfile).unlink(missing_ok=True)
        session.execute(delete(Plan).where(Plan.repo == repo, Plan.pr_number == number))


def _notify(
    services: Services,
    config: RepoConfig | None,
    repo: str,
    pr: PullRequest,
    command: Literal["plan", "apply"],
    results: list[ProjectResult],
    requested_by: str,
) -> None:
    channel = config.notify.slack.channel if config is not None and config.notify.slack else None
    for result in results:
        services.notifier.notify(
            TerraformResult(
                repo=repo,
                channel=channel,
                command=command,
                pr_number=pr.number,
                pr_url=pr.html_url,
                project=result.target.label,
                ok=result.ok,
                headline=result.headline or result.status,
                requested_by=requested_by,
            )
        )
