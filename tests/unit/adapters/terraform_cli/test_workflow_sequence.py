"""What a plan and an apply run, in order, with and without a workflow (pure)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.adapters.terraform_cli import RunContext
from bot.adapters.terraform_cli.sequence import (
    Operation,
    apply_operations,
    plan_operations,
    run_variables,
    showfile_for,
    terraform_args,
)
from bot.adapters.terraform_cli.workflow import RUN_VARIABLES, Workflow


def steps(operations: tuple[Operation, ...]) -> list[str]:
    return [operation.step for operation in operations]


CUSTOM = Workflow.model_validate(
    {
        "plan": {
            "steps": [
                {"env": {"name": "A", "value": "1"}},
                {"init": {"extra_args": ["-lock=false"]}},
                {"run": "tflint"},
                {"plan": {"extra_args": ["-var=x=1"]}},
                {"env": {"name": "B", "command": "date"}},
                {"run": "infracost"},
            ]
        },
        "apply": {"steps": [{"run": "before"}, "apply", {"run": "after"}]},
    }
)


@pytest.mark.parametrize(
    ("workflow", "workspace", "init", "plan_steps", "apply_steps"),
    [
        # Without a workflow: exactly the sequence the runner always ran.
        (None, "default", True, ["init", "plan", "show"], ["init", "apply"]),
        (None, "blue", True, ["init", "workspace", "plan", "show"], ["init", "workspace", "apply"]),
        (None, "blue", False, ["init", "workspace", "plan", "show"], ["workspace", "apply"]),
        (
            CUSTOM,
            "default",
            True,
            ["env", "init", "run", "plan", "show", "env", "run"],
            ["init", "run", "apply", "run"],
        ),
        (
            CUSTOM,
            "blue",
            True,
            ["env", "init", "workspace", "run", "plan", "show", "env", "run"],
            ["init", "workspace", "run", "apply", "run"],
        ),
    ],
)
def test_the_sequence(
    workflow: Workflow | None, workspace: str, init: bool, plan_steps: list[str], apply_steps: list[str]
) -> None:
    assert steps(plan_operations(workflow, workspace=workspace)) == plan_steps
    assert steps(apply_operations(workflow, workspace=workspace, init=init)) == apply_steps


def test_arguments_workspace_creation_and_env_values() -> None:
    plan = plan_operations(CUSTOM, workspace="blue", extra_args=("-target=a.b",))
    assert plan[1] == Operation("init", ("-lock=false",))
    assert plan[2] == Operation("workspace", create=True)
    # The comment's arguments come after the workflow's.
    assert plan[4] == Operation("plan", ("-var=x=1", "-target=a.b"))
    assert plan[0] == Operation("env", name="A", value="1")
    assert plan[6] == Operation("env", command="date", name="B")
    assert terraform_args(plan) == ("-lock=false", "-var=x=1", "-target=a.b")
    apply = apply_operations(CUSTOM, workspace="blue", extra_args=("-lock=false",))
    # The implicit init of an apply has the plan's init arguments; the workspace must exist.
    assert apply[0] == Operation("init", ("-lock=false",)) and apply[1] == Operation(
        "workspace", create=False
    )
    assert apply[3] == Operation("apply", ("-lock=false",))


def test_an_apply_stage_with_its_own_init_gets_no_other() -> None:
    workflow = Workflow.model_validate(
        {"apply": {"steps": [{"run": "fetch"}, {"init": {"extra_args": ["-lock=false"]}}, "apply"]}}
    )
    assert apply_operations(workflow, workspace="default") == (
        Operation("run", command="fetch"),
        Operation("init", ("-lock=false",)),
        Operation("apply"),
    )


def test_run_variables(tmp_path: Path) -> None:
    root = tmp_path / "tree"
    directory = root / "terraform" / "staging"
    planfile = directory / "gitops-bot-blue.tfplan"
    context = RunContext("acme/infra", 12, "abc123", "staging|terraform/staging|blue")
    variables = run_variables(
        directory=directory,
        root=root,
        workspace="blue",
        planfile=planfile,
        showfile=showfile_for(planfile),
        context=context,
    )
    assert variables == {
        "WORKSPACE": "blue",
        "DIR": str(directory),
        "REPO_REL_DIR": "terraform/staging",
        "PLANFILE": str(planfile),
        "SHOWFILE": str(directory / "gitops-bot-blue.tfplan.json"),
        "PROJECT_NAME": "staging",
        "PULL_NUM": "12",
        "HEAD_COMMIT": "abc123",
        "BASE_REPO_OWNER": "acme",
        "BASE_REPO_NAME": "infra",
    }
    assert set(variables) == set(RUN_VARIABLES)
    # A drift check (no pull request) and an unnamed directory; no context at all.
    drift = RunContext("acme/infra", 0, "abc123", "|terraform/staging|default")
    bare = run_variables(
        directory=root, root=root, workspace="default", planfile=planfile, showfile=None, context=drift
    )
    assert "PULL_NUM" not in bare and bare["PROJECT_NAME"] == "" and bare["REPO_REL_DIR"] == "."
    alone = run_variables(
        directory=root, root=root, workspace="default", planfile=planfile, showfile=None, context=None
    )
    assert set(alone) == {"WORKSPACE", "DIR", "REPO_REL_DIR", "PLANFILE"}
