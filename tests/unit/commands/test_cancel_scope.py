"""Which queued and running jobs ``cancel`` stops on a pull request, and what it says (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from bot.commands.cancel_scope import (
    JobFacts,
    TerraformWork,
    audit_summary,
    cancelled_statuses,
    pull_request_work,
    terraform_work,
)
from bot.events.model import PullRequestChanged, PullRequestComment

REPO = "acme/infra"


def comment(body: str, *, number: int = 7, repo: str = REPO, author: str = "dev") -> dict[str, Any]:
    return PullRequestComment(
        repo=repo,
        pr_number=number,
        comment_id=100 + number,
        comment_url="https://api.example/comments/1",
        html_url="https://example/pull/7#c1",
        author=author,
        author_association="MEMBER",
        body=body,
    ).model_dump(mode="json")


def pull_request(action: str, *, number: int = 7, repo: str = REPO, author: str = "dev") -> dict[str, Any]:
    return PullRequestChanged(
        action=action,
        repo=repo,
        number=number,
        title="More GPUs",
        author=author,
        head_sha="a" * 40,
        head_ref="more-gpus",
        head_repo=repo,
        base_ref="main",
        base_sha="b" * 40,
        is_fork=False,
        merged=action == "closed",
        html_url="https://example/pull/7",
    ).model_dump(mode="json")


def job(
    domain: dict[str, Any] | None, handler: str = "terraform.comment", status: str = "queued"
) -> JobFacts:
    return JobFacts(1, handler, status, domain)


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        (job(comment("/gitops plan")), TerraformWork(1, "plan", False, "dev", "/gitops plan")),
        (
            job(comment("atlantis apply -p staging"), status="running"),
            TerraformWork(1, "apply", True, "dev", "atlantis apply -p staging"),
        ),
        (
            job(comment("/gitops plan -- -target=`x`\n\n")),
            TerraformWork(1, "plan", False, "dev", "/gitops plan -- -target='x'"),
        ),
        (
            job(pull_request("opened"), handler="terraform.pull_request", status="running"),
            TerraformWork(1, "plan", True, "dev", "autoplan"),
        ),
        (
            job(pull_request("synchronize"), handler="terraform.pull_request"),
            TerraformWork(1, "plan", False, "dev", "autoplan"),
        ),
        (
            job(pull_request("reopened"), handler="terraform.pull_request"),
            TerraformWork(1, "plan", False, "dev", "autoplan"),
        ),
    ],
)
def test_plans_and_applies_of_the_pull_request_are_its_terraform_work(
    facts: JobFacts, expected: TerraformWork
) -> None:
    assert terraform_work(facts, REPO, 7) == expected


@pytest.mark.parametrize(
    "facts",
    [
        pytest.param(job(comment("/gitops plan", number=8)), id="another pull request"),
        pytest.param(job(comment("/gitops plan", repo="acme/other")), id="another repository"),
        pytest.param(job(comment("/gitops unlock")), id="unlock"),
        pytest.param(job(comment("/gitops approve_policies")), id="approve_policies"),
        pytest.param(job(comment("/gitops cancel")), id="cancel itself"),
        pytest.param(job(comment("/gitops help")), id="help"),
        pytest.param(job(comment("/gitops plan --bogus")), id="a usage error"),
        pytest.param(job(comment("LGTM")), id="prose"),
        pytest.param(job(comment("/gitops plan"), handler="deployments.comment"), id="the deployments job"),
        pytest.param(
            job(pull_request("closed"), handler="terraform.pull_request"),
            id="closed: releases the locks, applies on merge",
        ),
        pytest.param(job(pull_request("labeled"), handler="terraform.pull_request"), id="labeled"),
        pytest.param(job(pull_request("opened"), handler="terraform.drift_check"), id="another handler"),
        pytest.param(job(None, handler="terraform.pull_request"), id="no event"),
        pytest.param(job({"kind": "pr_comment", "repo": REPO}), id="a row this version cannot read"),
        pytest.param(
            job(comment("/gitops plan"), handler="terraform.pull_request"), id="handler and event differ"
        ),
    ],
)
def test_other_jobs_are_left_alone(facts: JobFacts) -> None:
    assert terraform_work(facts, REPO, 7) is None


def test_the_work_keeps_the_queue_order() -> None:
    jobs = [
        JobFacts(3, "terraform.pull_request", "running", pull_request("opened")),
        JobFacts(4, "terraform.comment", "queued", comment("/gitops unlock")),
        JobFacts(5, "terraform.comment", "queued", comment("/gitops apply", author="alice")),
        JobFacts(6, "terraform.comment", "queued", comment("/gitops plan", number=9)),
    ]
    assert pull_request_work(jobs, REPO, 7) == [
        TerraformWork(3, "plan", True, "dev", "autoplan"),
        TerraformWork(5, "apply", False, "alice", "/gitops apply"),
    ]


@pytest.mark.parametrize(
    ("commands", "expected"),
    [
        ((), {}),
        (("plan",), {"gitops-bot/plan": "cancelled by @alice"}),
        (("apply", "apply"), {"gitops-bot/apply": "cancelled by @alice"}),
        (
            ("apply", "plan"),
            {"gitops-bot/plan": "cancelled by @alice", "gitops-bot/apply": "cancelled by @alice"},
        ),
    ],
)
def test_each_cancelled_command_fails_its_status(commands: tuple[str, ...], expected: dict[str, str]) -> None:
    work = [TerraformWork(i, command, False, "dev", "autoplan") for i, command in enumerate(commands)]  # type: ignore[arg-type]
    assert cancelled_statuses(work, "alice") == expected
    assert list(cancelled_statuses(work, "alice")) == list(expected)


def test_the_audit_line_names_each_job() -> None:
    assert audit_summary(7, []) == "nothing to cancel on #7"
    work = [
        TerraformWork(3, "plan", True, "dev", "autoplan"),
        TerraformWork(5, "apply", False, "alice", "/gitops apply"),
    ]
    assert audit_summary(7, work) == (
        "cancelled on #7: plan job 3 (running, autoplan); apply job 5 (queued, /gitops apply)"
    )
