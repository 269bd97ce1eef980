"""Kubernetes: is a Deployment running a version yet? (The readiness gate before canary analysis.)

:mod:`bot.k8s.rollout` is the pure decision (``kubectl rollout status`` semantics plus a version
check); :mod:`bot.k8s.readiness` is the blocking adapter over the official ``kubernetes`` client.
"""

from __future__ import annotations

from bot.k8s.readiness import (
    KubernetesAccessDenied,
    KubernetesConfigError,
    KubernetesError,
    KubernetesReadiness,
    KubernetesUnavailable,
    ProgressCallback,
    build_configuration,
)
from bot.k8s.rollout import (
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
