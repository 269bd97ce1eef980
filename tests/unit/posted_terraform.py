"""What the Terraform workflows post on the forge (plan, apply, cancel, drift, refusals), rendered
from their templates with the context each workflow gives them: cases for ``test_forge_markdown``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.commands.cancel_scope import TerraformWork
from bot.terraform.locks import LockInfo, LockKey
from bot.terraform.projects import ProjectTarget
from bot.terraform.results import ProjectResult
from tests.unit.posted_deployments import AT, CONSOLE, HEAD, PR_URL, REPO, template

STAGING = ProjectTarget("staging", "terraform/staging")
SHARED = ProjectTarget("", "terraform/shared", "blue")
PROD = ProjectTarget("prod", "terraform/prod")
LOCK = LockInfo(1, LockKey(REPO, "terraform/prod", "default", "prod"), 41, f"{PR_URL[:-2]}41", "bob", AT)
PLAN_OUTPUT = (
    '+ resource "terraform_data" "gpu_pool" {\n+   input = 4\n+ }\n\n'
    "Plan: 1 to add, 0 to change, 0 to destroy."
)


def plan_comments() -> list[str]:
    results = [
        ProjectResult(
            STAGING,
            "planned",
            "Plan: 1 to add, 0 to change, 0 to destroy.",
            PLAN_OUTPUT,
            policy_lines=("❌ gpu-quota: 4 GPUs above the limit of 2", "⚠️ tags: no owner tag"),
            run_id=5,
        ),
        ProjectResult(SHARED, "failed", "terraform init failed", "Error: backend unreachable", run_id=6),
        ProjectResult(PROD, "locked", "", lock=LOCK),
        ProjectResult(ProjectTarget("dev", "terraform/dev"), "not_run", "Not planned: a project failed."),
        ProjectResult(ProjectTarget("edge", "terraform/edge"), "no_changes", "No changes."),
    ]
    context = {"executable": "/gitops", "verbose": False, "number": 42, "requested_by": "dev"}
    return [
        template(
            "terraform/plan_comment.md.j2",
            results=results,
            unsandboxed=True,
            run_urls={STAGING.key: f"{CONSOLE}/runs/5", SHARED.key: f"{CONSOLE}/runs/6"},
            **context,
        ),
        template(
            "terraform/plan_comment.md.j2", results=results[:1], unsandboxed=False, run_urls={}, **context
        ),
    ]


def apply_comments() -> list[str]:
    results = [
        ProjectResult(
            STAGING, "applied", "Apply complete! Resources: 1 added, 0 changed, 0 destroyed.", "ok"
        ),
        ProjectResult(ProjectTarget("edge", "terraform/edge"), "no_changes", "No changes."),
        ProjectResult(PROD, "locked", "", lock=LOCK),
        ProjectResult(ProjectTarget("dev", "terraform/dev"), "not_run", "Not applied: a project failed."),
        ProjectResult(SHARED, "refused", "the pull request is not approved"),
        ProjectResult(
            ProjectTarget("ops", "terraform/ops"), "apply_failed", "terraform apply failed", "Error: quota"
        ),
    ]
    return [
        template("terraform/apply_comment.md.j2", results=results, executable="atlantis", requested_by="dev")
    ]


def cancel_comments() -> list[str]:
    running = [TerraformWork(1, "apply", True, "alice", "/gitops apply -p staging")]
    queued = [TerraformWork(2, "plan", False, "dev", "autoplan")]
    return [
        template(
            "terraform/cancel_comment.md.j2", cancelled_by="bob", running=r, queued=q, executable="/gitops"
        )
        for r, q in ((running, queued), ([], []))
    ]


def drift_context() -> dict[str, Any]:
    return {
        "project": "staging",
        "dir": "terraform/staging",
        "workspace": "default",
        "schedule": "0 * * * *",
        "head": HEAD,
        "headline": "Plan: 0 to add, 1 to change, 0 to destroy.",
        "output": PLAN_OUTPUT,
        "checked_at": AT,
    }


TERRAFORM_CASES: dict[str, Callable[[], list[str]]] = {
    "terraform/apply_comment.md.j2": apply_comments,
    "terraform/cancel_comment.md.j2": cancel_comments,
    "terraform/drift_issue.md.j2": lambda: [template("terraform/drift_issue.md.j2", **drift_context())],
    "terraform/drift_resolved.md.j2": lambda: [template("terraform/drift_resolved.md.j2", **drift_context())],
    "terraform/not_run.md.j2": lambda: [
        template("terraform/not_run.md.j2", group=1, command=command, executable="/gitops")
        for command in ("plan", "apply")
    ],
    "terraform/plan_comment.md.j2": plan_comments,
    "terraform/plan_superseded.md.j2": lambda: [template("terraform/plan_superseded.md.j2", head=HEAD)],
    "terraform/policies_approved.md.j2": lambda: [
        template("terraform/policies_approved.md.j2", projects=projects, head=HEAD, approved_by="alice")
        for projects in ("`staging`, `terraform/shared`", "")
    ],
    "terraform/sandbox_unavailable.md.j2": lambda: [
        template(
            "terraform/sandbox_unavailable.md.j2",
            detail="bubblewrap is not installed",
            command=command,
            executable="/gitops",
            mode=mode,
        )
        for command, mode in (("plan", "sandbox"), ("apply", "kubernetes"))
    ],
    "terraform/unlocked_from_console.md.j2": lambda: [
        template("terraform/unlocked_from_console.md.j2", login="alice", lock=LOCK, console_url=url)
        for url in (f"{CONSOLE}/locks", None)
    ],
}
