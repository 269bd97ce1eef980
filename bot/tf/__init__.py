"""Terraform pull requests: ``projects`` decides (pure), ``service`` runs and reports."""

from bot.tf.projects import ProjectTarget, modified_projects, select_targets, unmet_requirements
from bot.tf.service import (
    ProjectResult,
    apply_pull_request,
    plan_pull_request,
    release_pull_request,
    unlock_pull_request,
)

__all__ = [
    "ProjectResult",
    "ProjectTarget",
    "apply_pull_request",
    "modified_projects",
    "plan_pull_request",
    "release_pull_request",
    "select_targets",
    "unlock_pull_request",
    "unmet_requirements",
]
