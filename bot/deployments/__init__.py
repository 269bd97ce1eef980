"""Deployments: what merged, its canary analysis, and rollback through a git revert."""

from bot.deployments.service import (
    DeploymentStatus,
    RollbackOutcome,
    authorize,
    authorize_comment,
    deployment_status,
    finish_analysis,
    record_merge,
    request_rollback,
)

__all__ = [
    "DeploymentStatus",
    "RollbackOutcome",
    "authorize",
    "authorize_comment",
    "deployment_status",
    "finish_analysis",
    "record_merge",
    "request_rollback",
]
