"""A rung's weight into git: one commit on the default branch, through a pull request the bot
merges (``steps_via: pull_request``, the default) or a push (``steps_via: push``, where branch
protection lets the bot push).

Idempotent: when the default branch already holds the weight (a job re-run after its commit
landed), nothing is committed and the branch's head is the rung's commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.adapters.forge.names import pull_reference
from bot.adapters.forge.port import ForgeError, MergeMethod, PullRequestSpec
from bot.adapters.git import GitError, PushRejected
from bot.deployments import plan as plans
from bot.deployments.ladder import write_rung
from bot.deployments.plan import AnalysisPlan
from bot.deployments.texts import render
from bot.edits import EditError

if TYPE_CHECKING:
    from bot.services import Services

STEP_LABEL = "canary-step"


@dataclass(frozen=True)
class StepCommit:
    """The rung's commit on the default branch (None in a dry run), and its pull request if any."""

    sha: str | None
    pr_number: int | None = None
    pr_url: str | None = None


@dataclass(frozen=True)
class StepRefused:
    """Why the weight is not on the default branch; the pull request left open for a person, if any."""

    reason: str
    pr_number: int | None = None
    pr_url: str | None = None


def commit_weight(services: Services, plan: AnalysisPlan, to: int) -> StepCommit | StepRefused:
    ladder = plan.ladder
    assert ladder is not None
    url = services.settings.clone_url(plan.repo)
    workspaces = services.git()
    base = workspaces.mirror(url).default_branch()
    title = f"{plan.deployment} {plan.version}: canary {ladder.label(to)}"
    body = render(services, "step_commit.md.j2", plan=plan, ladder=ladder, to=to)
    branch = plans.step_branch(plan.deployment, plan.version, to)
    files = ladder.files()
    with workspaces.worktree(url, sparse=list(files), refresh=False) as tree:
        missing = [path for path in files if not tree.exists(path)]
        if missing:
            return StepRefused(f"{', '.join(missing)} no longer exists on {base}")
        texts = {path: tree.read_text(path) for path in files}
        try:
            written = write_rung(texts, ladder, to)
        except EditError as exc:
            return StepRefused(str(exc))
        if not written:
            return StepCommit(sha=tree.head())
        for path in {write.file for write in written}:
            tree.write_text(path, texts[path])
        tree.commit(f"{title}\n\n{body}", paths=sorted({write.file for write in written}))
        try:
            if ladder.via == "push":
                return StepCommit(sha=tree.push(base))
            tree.push(branch, force_with_lease=True)
        except PushRejected as exc:
            how = f"the push to {base}" if ladder.via == "push" else f"the push of {branch}"
            return StepRefused(f"{how} was refused ({exc.detail or exc})")
        except GitError as exc:
            return StepRefused(f"git failed: {exc}")
    return _merge_step_pull(services, plan, branch, base, title, body)


def _merge_step_pull(
    services: Services, plan: AnalysisPlan, branch: str, base: str, title: str, body: str
) -> StepCommit | StepRefused:
    forge = services.forge_for_repo(plan.repo, plan.installation_id)
    spec = PullRequestSpec(head=branch, base=base, title=title, body=body, labels=(STEP_LABEL,))
    try:
        pr = forge.open_or_update_pull_request(plan.repo, spec).pull_request
        merged = forge.merge_pull_request(
            plan.repo, pr.number, expected_head_sha=pr.head_sha, method=MergeMethod.MERGE
        )
    except ForgeError as exc:
        return StepRefused(f"the forge refused the step pull request: {exc}")
    if merged.merged and merged.sha:
        return StepCommit(sha=merged.sha, pr_number=pr.number, pr_url=pr.html_url)
    why = merged.message or (merged.refusal.value if merged.refusal else "not mergeable")
    return StepRefused(
        f"{pull_reference(plan.repo, pr.number)} could not be merged by the bot ({why}); "
        "merge it and the canary goes on",
        pr_number=pr.number,
        pr_url=pr.html_url,
    )


__all__ = ["STEP_LABEL", "StepCommit", "StepRefused", "commit_weight"]
