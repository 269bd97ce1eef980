"""The stand-in's simulated deployment controller, read through the pure rollout check (no HTTP)."""

from __future__ import annotations

import pytest

from bot.adapters.kubernetes import RolloutPhase, rollout_status
from tests.support.kubernetes_standin import KubernetesStandIn, rollout_steps

NS, NAME = "serving", "chat-llm"
IMAGE = "registry.example.com/serving/chat-llm"


class ManualClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_rolling_update_passes_through_every_kubectl_stage_in_order() -> None:
    api = KubernetesStandIn()
    api.apply_deployment(NS, NAME, f"{IMAGE}:1.1.0", replicas=3)
    api.settle(NS, NAME)
    assert rollout_status(api.deployment_object(NS, NAME), "1.1.0").done

    api.apply_deployment(NS, NAME, f"{IMAGE}:1.2.0", replicas=3)
    reasons = [rollout_status(api.deployment_object(NS, NAME), "1.2.0").reason]
    reasons += [rollout_status(obj, "1.2.0").reason for obj in rollout_steps(api, NS, NAME)]
    stages = []
    for reason in reasons:
        stage = reason.split(": ")[-1]
        if not stages or stages[-1] != stage:
            stages.append(stage)
    assert stages == [
        "waiting for deployment serving/chat-llm spec update to be observed (generation 2, observed 1)",
        "0 out of 3 new replicas have been updated",
        "1 out of 3 new replicas have been updated",
        "2 out of 3 new replicas have been updated",
        "1 old replicas are pending termination",
        "deployment serving/chat-llm successfully rolled out",
    ]
    final = api.deployment_object(NS, NAME)
    assert final["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"
    assert final["status"] | {"conditions": None} == {
        "observedGeneration": 2,
        "replicas": 3,
        "updatedReplicas": 3,
        "readyReplicas": 3,
        "availableReplicas": 3,
        "conditions": None,
    }
    reasons_by_type = {c["type"]: c["reason"] for c in final["status"]["conditions"]}
    assert reasons_by_type == {
        "Available": "MinimumReplicasAvailable",
        "Progressing": "NewReplicaSetAvailable",
    }


def test_no_old_pod_goes_before_a_new_one_is_available() -> None:
    """maxUnavailable: 0 — availability never drops below spec.replicas during the update."""
    api = KubernetesStandIn()
    api.apply_deployment(NS, NAME, f"{IMAGE}:1.1.0", replicas=2)
    api.settle(NS, NAME)
    api.apply_deployment(NS, NAME, f"{IMAGE}:1.2.0", replicas=2)
    for obj in rollout_steps(api, NS, NAME):
        assert obj["status"].get("availableReplicas", 0) >= 2
        assert obj["status"].get("replicas", 0) <= 3


def test_stalled_rollout_exceeds_its_progress_deadline() -> None:
    clock = ManualClock()
    api = KubernetesStandIn(clock=clock)
    api.apply_deployment(NS, NAME, f"{IMAGE}:1.1.0", replicas=2, progress_deadline_seconds=60)
    api.settle(NS, NAME)
    api.stall(NS, NAME)
    api.apply_deployment(NS, NAME, f"{IMAGE}:1.2.0", replicas=2, progress_deadline_seconds=60)
    list(rollout_steps(api, NS, NAME))
    status = rollout_status(api.deployment_object(NS, NAME), "1.2.0")
    assert status.phase is RolloutPhase.WAITING
    assert status.reason.endswith("1 out of 2 new replicas have been updated")

    clock.now += 59
    assert not api.step(NS, NAME)
    clock.now += 1
    assert api.step(NS, NAME)
    status = rollout_status(api.deployment_object(NS, NAME), "1.2.0")
    assert status.phase is RolloutPhase.FAILED
    assert "exceeded its progress deadline" in status.reason
    progressing = next(
        c for c in api.deployment_object(NS, NAME)["status"]["conditions"] if c["type"] == "Progressing"
    )
    assert (progressing["status"], progressing["reason"]) == ("False", "ProgressDeadlineExceeded")

    # A fixed image (a new spec) starts a fresh rollout and clears the failure.
    api.stall(NS, NAME, stalled=False)
    api.apply_deployment(NS, NAME, f"{IMAGE}:1.2.1", replicas=2, progress_deadline_seconds=60)
    api.settle(NS, NAME)
    assert rollout_status(api.deployment_object(NS, NAME), "1.2.1").done


def test_rollback_reuses_the_old_replica_set_under_a_new_revision() -> None:
    api = KubernetesStandIn()
    for version in ("1.1.0", "1.2.0", "1.1.0"):
        api.apply_deployment(NS, NAME, f"{IMAGE}:{version}", replicas=2)
        api.settle(NS, NAME)
    obj = api.deployment_object(NS, NAME)
    assert obj["metadata"]["generation"] == 3
    assert obj["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"
    assert rollout_status(obj, "1.1.0").done


def test_scaling_changes_generation_but_not_revision() -> None:
    api = KubernetesStandIn()
    api.apply_deployment(NS, NAME, f"{IMAGE}:1.1.0", replicas=3)
    api.settle(NS, NAME)
    api.apply_deployment(NS, NAME, f"{IMAGE}:1.1.0", replicas=1)
    api.settle(NS, NAME)
    obj = api.deployment_object(NS, NAME)
    assert (
        obj["metadata"]["generation"],
        obj["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
    ) == (
        2,
        "1",
    )
    assert obj["status"]["replicas"] == 1


def test_settle_refuses_a_stalled_rollout() -> None:
    api = KubernetesStandIn()
    api.apply_deployment(NS, NAME, f"{IMAGE}:1.1.0", replicas=1)
    api.stall(NS, NAME)
    with pytest.raises(RuntimeError, match="cannot finish"):
        api.settle(NS, NAME)
