"""What a terraform command, a plan and an apply produce, and the timeouts they run under."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from bot.adapters.terraform_cli.plan_summary import PlanSummary

if TYPE_CHECKING:
    from bot.adapters.terraform_cli.workflow import Workflow

# "run" and "env": a workflow's shell commands (bot.adapters.terraform_cli.workflow).
Step = Literal["init", "workspace", "plan", "show", "apply", "run", "env"]
# Called with (step, line) for every line Terraform prints; may be a coroutine function.
OnLine = Callable[[str, str], Awaitable[None] | None]
DEFAULT_WORKSPACE = "default"


@dataclass(frozen=True)
class StepTimeouts:
    """Seconds each step may run before it is stopped."""

    init: float = 600.0
    workspace: float = 120.0
    plan: float = 1800.0
    show: float = 300.0
    apply: float = 3600.0
    run: float = 600.0  # a workflow's run step, and an env step's command

    def for_step(self, step: Step) -> float:
        return float(getattr(self, "run" if step == "env" else step))


@dataclass(frozen=True)
class StepResult:
    step: Step
    argv: tuple[str, ...]
    exit_code: int  # negative: killed by that signal; 127: the executable was not found
    output: str  # stdout and stderr lines in the order they arrived
    duration: float  # seconds
    timed_out: bool
    stdout: str = ""  # stdout alone (the JSON of ``show -json``)
    truncated: bool = False  # output exceeded ``max_output_chars``; the rest was streamed, not kept
    pid: int | None = None  # the process (and process group) id; None when nothing was started

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out


@dataclass(frozen=True)
class PlanResult:
    directory: Path
    workspace: str
    has_changes: bool  # plan exited 2 (-detailed-exitcode); False when the plan failed
    planfile: Path | None  # the saved plan, only when the plan succeeded
    summary: PlanSummary | None  # from ``show -json``; None when the plan failed
    steps: tuple[StepResult, ...]
    error: str | None = None  # why it failed, for the comment; None on success

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def timed_out(self) -> bool:
        return any(step.timed_out for step in self.steps)

    @property
    def failed_step(self) -> StepResult | None:
        """The step that failed (a plan exiting 2 did not fail: it found changes)."""
        for step in self.steps:
            succeeded = step.exit_code in (0, 2) if step.step == "plan" else step.exit_code == 0
            if step.timed_out or not succeeded:
                return step
        return None

    @property
    def output(self) -> str:
        """The human output of every step but ``show`` (whose stdout is JSON)."""
        return "".join(step.output for step in self.steps if step.step != "show")


@dataclass(frozen=True)
class ApplyResult:
    directory: Path
    workspace: str
    planfile: Path
    steps: tuple[StepResult, ...]
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def timed_out(self) -> bool:
        return any(step.timed_out for step in self.steps)

    @property
    def output(self) -> str:
        return "".join(step.output for step in self.steps)


@dataclass(frozen=True)
class RunContext:
    """Which pull request and project a command runs for.

    The local runner does not need it; a runner that starts work elsewhere (a Kubernetes Job)
    names and finds that work by it, so a retried job re-attaches instead of running twice.
    """

    repo: str
    number: int  # the pull request (0: the default branch, as drift checks plan it)
    head_sha: str
    project: str  # the project's key (``ProjectTarget.key``: ``name|dir|workspace``)

    @property
    def project_name(self) -> str:
        """The configured project's name ("" for a directory no project names)."""
        return self.project.split("|", 1)[0]


@dataclass(frozen=True)
class PlanRequest:
    """One project's plan for ``run_plans``."""

    directory: Path
    workspace: str = DEFAULT_WORKSPACE
    planfile: Path | None = None
    extra_args: tuple[str, ...] = ()
    on_line: OnLine | None = None
    root: Path | None = None  # the work tree the sandbox may write; default: ``directory``
    context: RunContext | None = None
    workflow: Workflow | None = None  # the project's custom workflow; None: init, plan, show
