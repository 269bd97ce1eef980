"""Terraform (or OpenTofu) as a subprocess: typed steps, saved plans, JSON plan summaries."""

from __future__ import annotations

from bot.adapters.terraform_cli.environment import DEFAULT_INHERITED_ENV, build_environment
from bot.adapters.terraform_cli.operations import TerraformOperations
from bot.adapters.terraform_cli.parallel import run_plans
from bot.adapters.terraform_cli.plan_summary import (
    OutputChange,
    PlanJSONError,
    PlanSummary,
    ResourceChange,
    parse_plan_json,
    summarize_plan,
)
from bot.adapters.terraform_cli.runner import (
    DEFAULT_WORKSPACE,
    ApplyResult,
    OnLine,
    PlanRequest,
    PlanResult,
    RunContext,
    Step,
    StepResult,
    StepTimeouts,
    TerraformRunner,
    default_planfile,
)
from bot.adapters.terraform_cli.safety import (
    ALLOWED_EXTRA_ARGS,
    ExtraArgsRefused,
    check_extra_args,
    is_valid_workspace,
    var_file_problem,
)
from bot.adapters.terraform_cli.sandbox import (
    ExecutorStatus,
    LocalExecutor,
    SandboxExecutor,
    SandboxUnavailable,
)

__all__ = [
    "ALLOWED_EXTRA_ARGS",
    "DEFAULT_INHERITED_ENV",
    "DEFAULT_WORKSPACE",
    "ApplyResult",
    "ExecutorStatus",
    "ExtraArgsRefused",
    "LocalExecutor",
    "OnLine",
    "OutputChange",
    "PlanJSONError",
    "PlanRequest",
    "PlanResult",
    "PlanSummary",
    "ResourceChange",
    "RunContext",
    "SandboxExecutor",
    "SandboxUnavailable",
    "Step",
    "StepResult",
    "StepTimeouts",
    "TerraformOperations",
    "TerraformRunner",
    "build_environment",
    "check_extra_args",
    "default_planfile",
    "is_valid_workspace",
    "parse_plan_json",
    "run_plans",
    "summarize_plan",
    "var_file_problem",
]
