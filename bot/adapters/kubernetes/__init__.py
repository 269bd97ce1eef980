"""Kubernetes: is a Deployment running a version yet? (The readiness gate before canary analysis.)

:mod:`bot.adapters.kubernetes.rollout` is the pure decision (``kubectl rollout status``
semantics plus a version check); :mod:`bot.adapters.kubernetes.readiness` is the blocking
adapter over the official ``kubernetes`` client.
"""

from __future__ import annotations

from bot.adapters.kubernetes.readiness import (
    KubernetesAccessDenied,
    KubernetesConfigError,
    KubernetesError,
    KubernetesReadiness,
    KubernetesUnavailable,
    ProgressCallback,
    build_configuration,
)
from bot.adapters.kubernetes.rollout import (
    PROGRESS_DEADLINE_EXCEEDED,
    InvalidDeploymentObject,
    RolloutPhase,
    RolloutStatus,
    image_runs_version,
    rollout_status,
)

__all__ = [
    "PROGRESS_DEADLINE_EXCEEDED",
    "InvalidDeploymentObject",
    "KubernetesAccessDenied",
    "KubernetesConfigError",
    "KubernetesError",
    "KubernetesReadiness",
    "KubernetesUnavailable",
    "ProgressCallback",
    "RolloutPhase",
    "RolloutStatus",
    "build_configuration",
    "image_runs_version",
    "rollout_status",
]
