"""Policy checks before apply, end to end: Rego policies from the default branch judge every plan
(GitHub stand-in, real git, real Terraform, the embedded Rego engine); a failing policy blocks
apply until ``approve_policies`` at the head; a push takes the approval back. On SQLite and on
PostgreSQL: the policy outcomes and the approval are rows of the saved plan."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.storage.models import Action
from tests.integration.terraform.test_pull_request_flow import MAIN_TF, comments, say
from tests.support.botenv import BotEnv, bot_env
from tests.support.requirements import require
from tests.support.terraform_shim import TerraformShim

REPO = "acme/infra"
CONFIG = """\
version: 1
projects:
  - name: staging
    dir: terraform/staging
    apply_requirements: [approved]
policies:
  - name: gpu-limits
    paths: [policies/]
    projects: [staging]
"""
POLICY = """\
package main

import rego.v1

deny contains msg if {
\tsome change in input.resource_changes
\tchange.type == "terraform_data"
\tchange.change.after.input > 3
\tmsg := sprintf("%s: %d GPU nodes, more than the maximum of 3", [change.address, change.change.after.input])
}

warn contains msg if {
\tsome change in input.resource_changes
\tchange.type == "terraform_data"
\tchange.change.after.input > 2
\tmsg := sprintf("%s: more than 2 GPU nodes cost more", [change.address])
}
"""
FILES = {
    ".gitops-bot.yaml": CONFIG,
    "policies/gpu.rego": POLICY,
    "terraform/staging/main.tf": MAIN_TF,
}
FAILED = "❌ `gpu-limits`: terraform_data.gpu_pool: 4 GPU nodes, more than the maximum of 3"
WARNED = "⚠️ `gpu-limits`: terraform_data.gpu_pool: more than 2 GPU nodes cost more"


@pytest.fixture
def env(tmp_path: Path, database_url: str, terraform_shim: TerraformShim) -> Iterator[BotEnv]:
    require(shutil.which("git") is not None, "the git executable")
    with bot_env(tmp_path, database_url, repo=REPO, files=FILES, gitops_repos=[]) as built:
        for login, role in (("dev", "write"), ("alice", "write"), ("boss", "maintain")):
            built.standin.set_permission(REPO, login, role)
        yield built


def push(env: BotEnv, files: dict[str, str]) -> None:
    env.standin.commit(REPO, "more-gpus", files, "change")
    env.run_jobs()


def test_a_failing_policy_blocks_apply_until_approved_at_the_head(env: BotEnv) -> None:
    # The pull request also tries to weaken the policy: the default branch's copy judges it.
    weakened = POLICY.replace("> 3", "> 100")
    env.standin.commit(
        REPO,
        "more-gpus",
        {"terraform/staging/main.tf": MAIN_TF.replace("= 2", "= 4"), "policies/gpu.rego": weakened},
    )
    number = env.standin.open_pull_request(REPO, head="more-gpus", title="More GPUs", user="dev")
    env.run_jobs()
    (plan,) = comments(env, number)
    assert "Plan: 1 to add" in plan
    assert FAILED in plan and WARNED in plan
    assert "`/gitops approve_policies`" in plan

    env.standin.add_review(REPO, number, "alice", "APPROVED")
    refused = say(env, number, "/gitops apply")
    assert "Apply refused for staging" in refused and "policy checks failed" in refused

    writer = say(env, number, "/gitops approve_policies", user="alice")
    assert "@alice may not run `approve_policies` here" in writer
    accepted = say(env, number, "atlantis approve_policies", user="boss")
    assert "@boss approved the failing policy checks of `staging`" in accepted
    applied = say(env, number, "/gitops apply")
    assert "Apply complete! Resources: 1 added" in applied

    # A push makes a new plan: the approval was for the code before it.
    push(env, {"terraform/staging/main.tf": MAIN_TF.replace("= 2", "= 5")})
    replanned = comments(env, number)[-1]
    assert "5 GPU nodes, more than the maximum of 3" in replanned
    env.standin.add_review(REPO, number, "alice", "APPROVED")
    again = say(env, number, "/gitops apply")
    assert "Apply refused for staging" in again and "policy checks failed" in again
    with env.services.database.sessions() as session:
        audited = [
            (a.actor, a.outcome)
            for a in session.scalars(select(Action).where(Action.kind == "terraform.approve_policies"))
        ]
    assert audited == [("alice", "refused"), ("boss", "done")]


def test_a_plan_within_the_policies_applies_without_approval(env: BotEnv) -> None:
    env.standin.commit(REPO, "more-gpus", {"terraform/staging/main.tf": MAIN_TF.replace("= 2", "= 3")})
    number = env.standin.open_pull_request(REPO, head="more-gpus", title="More GPUs", user="dev")
    env.run_jobs()
    (plan,) = comments(env, number)
    assert "⚠️ `gpu-limits`: terraform_data.gpu_pool: more than 2 GPU nodes cost more" in plan
    assert "❌" not in plan
    env.standin.add_review(REPO, number, "alice", "APPROVED")
    assert "Apply complete! Resources: 1 added" in say(env, number, "/gitops apply")
    nothing = say(env, number, "/gitops approve_policies", user="boss")
    assert "Nothing to approve" in nothing
