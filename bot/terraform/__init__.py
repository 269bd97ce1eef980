"""Terraform (or OpenTofu) as a subprocess: typed steps, saved plans, JSON plan summaries."""

from __future__ import annotations

from bot.terraform.plan_summary import (
    OutputChange,
    PlanJSONError,
    PlanSummary,
    ResourceChange,
    parse_plan_json,
    summarize_plan,
)
from bot.terraform.runner import (
    DEFAULT_INHERITED_ENV,
    DEFAULT_WORKSPACE,
    ApplyResult,
    OnLine,
    PlanRequest,
    PlanResult,
    Step,
    StepResult,
    StepTimeouts,
    TerraformRunner,
    build_environment,
    default_planfile,
    run_plans,
)
from bot.terraform.safety import REFUSED_EXTRA_FLAGS, is_valid_workspace, refused_extra_arg

__all__ = [
    "DEFAULT_INHERITED_ENV",
    "DEFAULT_WORKSPACE",
    "REFUSED_EXTRA_FLAGS",
    "ApplyResult",
    "OnLine",
    "OutputChange",
    "PlanJSONError",
    "PlanRequest",
    "PlanResult",
    "PlanSummary",
    "ResourceChange",
    "Step",
    "StepResult",
    "StepTimeouts",
    "TerraformRunner",
    "build_environment",
    "default_planfile",
    "is_valid_workspace",
    "parse_plan_json",
    "refused_extra_arg",
    "run_plans",
    "summarize_plan",
]
