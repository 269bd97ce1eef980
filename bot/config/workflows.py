"""Custom Terraform workflows in ``.gitops-bot.yaml`` (Atlantis's repo-level ``workflows:``).

```yaml
projects:
  - name: serving-staging
    dir: terraform/staging
    workflow: checked                # a key of workflows:
workflows:
  checked:
    plan:
      steps:
        - init
        - run: tflint --no-color
        - env: {name: TF_VAR_build, command: "git rev-parse --short HEAD"}
        - plan: {extra_args: ["-var-file=staging.tfvars"]}
    apply: {steps: [apply]}
```

The steps and their rules are :mod:`bot.adapters.terraform_cli.workflow`'s (the same model checks a
workflow when the config is read and when it reaches the executor). Here: a project naming a
workflow that is not defined makes the config invalid. A workflow applies only to the projects
that name it; one called ``default`` is not special (a project without ``workflow:`` runs init,
plan, show and init, apply, as without workflows).

Trust: the config, workflows included, is read from the default branch only, so a pull request
cannot add a ``run`` step by editing it. The commands run with Terraform's trust anyway: in the
same sandbox (or Kubernetes Job), where the pull request's Terraform can run code too (providers,
``local-exec``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from bot.adapters.terraform_cli.workflow import (
    RUN_VARIABLES,
    ApplyStage,
    EnvStep,
    PlanStage,
    TerraformStep,
    Workflow,
    WorkflowStep,
)

if TYPE_CHECKING:
    from bot.config.projects import Project


def workflow_problems(
    projects: Sequence[Project], workflows: Mapping[str, Workflow]
) -> list[tuple[tuple[str | int, ...], str]]:
    """Each project naming a workflow that ``workflows`` does not define, located at its key."""
    known = ", ".join(sorted(workflows)) or "none are defined"
    return [
        (("projects", index, "workflow"), f"no workflow is named {project.workflow!r} (workflows: {known})")
        for index, project in enumerate(projects)
        if project.workflow is not None and project.workflow not in workflows
    ]


__all__ = [
    "RUN_VARIABLES",
    "ApplyStage",
    "EnvStep",
    "PlanStage",
    "TerraformStep",
    "Workflow",
    "WorkflowStep",
    "workflow_problems",
]
