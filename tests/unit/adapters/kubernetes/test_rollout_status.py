"""rollout_status: kubectl's DeploymentStatusViewer order, plus "does the template run the version"."""

from __future__ import annotations

from typing import Any

import pytest

from bot.adapters.kubernetes import (
    InvalidDeploymentObject,
    RolloutPhase,
    RolloutStatus,
    image_runs_version,
    rollout_status,
)

IMAGE = "registry.example.com/serving/chat-llm"
DIGEST = "sha256:" + "ab" * 32
OTHER_DIGEST = "sha256:" + "cd" * 32


def deployment(
    *,
    image: str = f"{IMAGE}:1.2.0",
    generation: int = 2,
    observed: int | None = 2,
    spec_replicas: int | None = 3,
    replicas: int | None = 3,
    updated: int | None = 3,
    ready: int | None = 3,
    available: int | None = 3,
    unavailable: int | None = None,
    progressing: tuple[str, str] | None = ("True", "NewReplicaSetAvailable"),
    containers: list[dict[str, Any]] | None = None,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    """An apps/v1 Deployment as the API serves it; None counts are left out (omitempty)."""
    status: dict[str, Any] = {}
    for key, value in (
        ("observedGeneration", observed),
        ("replicas", replicas),
        ("updatedReplicas", updated),
        ("readyReplicas", ready),
        ("availableReplicas", available),
        ("unavailableReplicas", unavailable),
    ):
        if value is not None:
            status[key] = value
    if progressing is not None:
        status["conditions"] = [
            {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"},
            {
                "type": "Progressing",
                "status": progressing[0],
                "reason": progressing[1],
                "message": 'ReplicaSet "chat-llm-7c9d8f6b5" has timed out progressing.'
                if progressing[1] == "ProgressDeadlineExceeded"
                else 'ReplicaSet "chat-llm-7c9d8f6b5" is progressing.',
            },
        ]
    spec: dict[str, Any] = {
        "selector": {"matchLabels": {"app": "chat-llm"}},
        "template": {
            "metadata": {"labels": {"app": "chat-llm", **(labels or {})}, "annotations": annotations or {}},
            "spec": {"containers": containers or [{"name": "server", "image": image}]},
        },
    }
    if spec_replicas is not None:
        spec["replicas"] = spec_replicas
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "chat-llm",
            "namespace": "serving",
            "generation": generation,
            "resourceVersion": "4711",
            "annotations": {"deployment.kubernetes.io/revision": "7"},
        },
        "spec": spec,
        "status": status,
    }


DONE = RolloutPhase.DONE
WAITING = RolloutPhase.WAITING
FAILED = RolloutPhase.FAILED
ROLLING = "waiting for deployment serving/chat-llm rollout to finish: "


@pytest.mark.parametrize(
    ("obj", "version", "phase", "reason"),
    [
        pytest.param(
            deployment(generation=3, observed=2),
            "1.2.0",
            WAITING,
            "waiting for deployment serving/chat-llm spec update to be observed (generation 3, observed 2)",
            id="generation-not-observed",
        ),
        pytest.param(
            deployment(
                generation=1, observed=None, replicas=None, updated=None, available=None, progressing=None
            ),
            "1.2.0",
            WAITING,
            "waiting for deployment serving/chat-llm spec update to be observed (generation 1, observed 0)",
            id="brand-new-no-status",
        ),
        pytest.param(
            deployment(available=1, progressing=("False", "ProgressDeadlineExceeded")),
            "1.2.0",
            FAILED,
            'deployment serving/chat-llm exceeded its progress deadline: ReplicaSet "chat-llm-7c9d8f6b5" '
            "has timed out progressing.",
            id="progress-deadline-exceeded",
        ),
        pytest.param(
            deployment(generation=3, observed=2, progressing=("False", "ProgressDeadlineExceeded")),
            "1.2.0",
            WAITING,
            "waiting for deployment serving/chat-llm spec update to be observed (generation 3, observed 2)",
            id="deadline-of-an-unobserved-spec-is-stale",
        ),
        pytest.param(
            deployment(replicas=4, updated=1, available=3, progressing=("True", "ReplicaSetUpdated")),
            "1.2.0",
            WAITING,
            ROLLING + "1 out of 3 new replicas have been updated",
            id="updating",
        ),
        pytest.param(
            deployment(replicas=3, updated=None, available=3, progressing=("True", "NewReplicaSetCreated")),
            "1.2.0",
            WAITING,
            ROLLING + "0 out of 3 new replicas have been updated",
            id="updated-omitted-means-zero",
        ),
        pytest.param(
            deployment(spec_replicas=None, replicas=4, updated=1, available=4),
            "1.2.0",
            WAITING,
            ROLLING + "3 old replicas are pending termination",
            id="no-spec-replicas-skips-the-updated-check",
        ),
        pytest.param(
            deployment(replicas=5, updated=3, available=5, progressing=("True", "ReplicaSetUpdated")),
            "1.2.0",
            WAITING,
            ROLLING + "2 old replicas are pending termination",
            id="old-replicas-terminating",
        ),
        pytest.param(
            deployment(available=1, ready=1, unavailable=2, progressing=("True", "ReplicaSetUpdated")),
            "1.2.0",
            WAITING,
            ROLLING + "1 of 3 updated replicas are available",
            id="not-yet-available",
        ),
        pytest.param(
            deployment(),
            "1.2.0",
            DONE,
            "deployment serving/chat-llm successfully rolled out",
            id="done",
        ),
        pytest.param(
            deployment(spec_replicas=0, replicas=None, updated=None, ready=None, available=None),
            "1.2.0",
            DONE,
            "deployment serving/chat-llm successfully rolled out",
            id="scaled-to-zero-with-omitted-counts",
        ),
        pytest.param(
            deployment(image=f"{IMAGE}:1.1.0"),
            "1.2.0",
            WAITING,
            f"the Deployment does not run 1.2.0 yet (the pod template runs {IMAGE}:1.1.0)",
            id="gitops-not-synced-yet",
        ),
        pytest.param(
            deployment(image=f"{IMAGE}:1.1.0", progressing=("False", "ProgressDeadlineExceeded")),
            "1.2.0",
            WAITING,
            f"the Deployment does not run 1.2.0 yet (the pod template runs {IMAGE}:1.1.0)",
            id="old-versions-stuck-rollout-is-not-blamed-on-the-new-one",
        ),
        pytest.param(
            deployment(image=f"{IMAGE}:1.1.0", generation=5, observed=4),
            None,
            WAITING,
            "waiting for deployment serving/chat-llm spec update to be observed (generation 5, observed 4)",
            id="no-version-expected-is-plain-kubectl",
        ),
        pytest.param(
            deployment(image=f"{IMAGE}:1.1.0"),
            None,
            DONE,
            "deployment serving/chat-llm successfully rolled out",
            id="no-version-expected-done",
        ),
    ],
)
def test_kubectl_order(obj: dict[str, Any], version: str | None, phase: RolloutPhase, reason: str) -> None:
    status = rollout_status(obj, version)
    assert (status.phase, status.reason) == (phase, reason)
    assert status.done is (phase is DONE)
    assert status.failed is (phase is FAILED)


def test_status_carries_the_counts() -> None:
    obj = deployment(generation=4, observed=4, replicas=4, updated=2, ready=3, available=3, unavailable=1)
    assert rollout_status(obj, "1.2.0") == RolloutStatus(
        phase=WAITING,
        reason=ROLLING + "2 out of 3 new replicas have been updated",
        namespace="serving",
        name="chat-llm",
        expected_version="1.2.0",
        version_seen=True,
        generation=4,
        observed_generation=4,
        desired_replicas=3,
        replicas=4,
        updated_replicas=2,
        ready_replicas=3,
        available_replicas=3,
        unavailable_replicas=1,
        image=f"{IMAGE}:1.2.0",
        revision="7",
    )


SIDECAR = {"name": "proxy", "image": "envoyproxy/envoy:v1.31.0"}


@pytest.mark.parametrize(
    ("kwargs", "container", "version", "seen", "image", "reason_part"),
    [
        pytest.param(
            {"containers": [SIDECAR, {"name": "server", "image": f"{IMAGE}:1.2.0"}]},
            None,
            "1.2.0",
            True,
            f"{IMAGE}:1.2.0",
            None,
            id="any-container",
        ),
        pytest.param(
            {
                "containers": [
                    {"name": "server", "image": f"{IMAGE}:1.1.0"},
                    {"name": "proxy", "image": "x/y:1.2.0"},
                ]
            },
            "server",
            "1.2.0",
            False,
            f"{IMAGE}:1.1.0",
            f"does not run 1.2.0 yet (the pod template runs {IMAGE}:1.1.0)",
            id="named-container-only",
        ),
        pytest.param(
            {"containers": [SIDECAR]},
            "server",
            "1.2.0",
            False,
            None,
            "has no container named 'server' (containers: 'proxy')",
            id="named-container-missing",
        ),
        pytest.param(
            {"image": f"{IMAGE}:main", "labels": {"app.kubernetes.io/version": "1.2.0"}},
            None,
            "1.2.0",
            True,
            f"{IMAGE}:main",
            None,
            id="version-label",
        ),
        pytest.param(
            {"image": f"{IMAGE}:main", "annotations": {"serving.example.com/model-version": "7"}},
            None,
            "7",
            True,
            f"{IMAGE}:main",
            None,
            id="version-annotation",
        ),
        pytest.param(
            {"image": f"{IMAGE}:main", "labels": {"app.kubernetes.io/version": "1.1.0"}},
            None,
            "1.2.0",
            False,
            f"{IMAGE}:main",
            "does not run 1.2.0 yet",
            id="label-with-another-version",
        ),
    ],
)
def test_version_in_the_pod_template(
    kwargs: dict[str, Any],
    container: str | None,
    version: str,
    seen: bool,
    image: str | None,
    reason_part: str | None,
) -> None:
    status = rollout_status(
        deployment(**kwargs),
        version,
        container,
        version_label="app.kubernetes.io/version",
        version_annotation="serving.example.com/model-version",
    )
    assert status.version_seen is seen
    assert status.image == image
    if reason_part is None:
        assert status.done, status.reason
    else:
        assert status.phase is WAITING
        assert reason_part in status.reason


def test_label_counts_only_when_configured() -> None:
    obj = deployment(image=f"{IMAGE}:main", labels={"app.kubernetes.io/version": "1.2.0"})
    assert not rollout_status(obj, "1.2.0").version_seen


@pytest.mark.parametrize(
    ("image", "version", "runs"),
    [
        (f"{IMAGE}:1.2.0", "1.2.0", True),
        (f"{IMAGE}:1.2.0", "1.2", False),
        (f"{IMAGE}:1.2.0", "2.0", False),
        (f"{IMAGE}:v1.2.0", "1.2.0", False),
        (f"{IMAGE}:1.2.0", f"{IMAGE}:1.2.0", True),
        (f"{IMAGE}:1.2.0", "registry.example.com/other:1.2.0", False),
        (f"{IMAGE}@{DIGEST}", DIGEST, True),
        (f"{IMAGE}:1.2.0@{DIGEST}", DIGEST, True),
        (f"{IMAGE}:1.2.0@{DIGEST}", "1.2.0", True),
        (f"{IMAGE}:1.2.0@{DIGEST}", f"1.2.0@{DIGEST}", True),
        (f"{IMAGE}:1.2.0@{OTHER_DIGEST}", f"1.2.0@{DIGEST}", False),
        (f"{IMAGE}:1.2.0", f"1.2.0@{DIGEST}", True),
        (f"{IMAGE}:1.1.0", f"1.2.0@{DIGEST}", False),
        (f"{IMAGE}:1.2.0@{DIGEST}", f"{IMAGE}:1.2.0@{DIGEST}", True),
        (f"{IMAGE}@{DIGEST}", f"{IMAGE}@{DIGEST}", True),
        (f"{IMAGE}@{OTHER_DIGEST}", DIGEST, False),
        ("localhost:5000/app", "5000/app", False),
        ("localhost:5000/app:7", "7", True),
        ("nginx", "latest", False),
        ("", "1.2.0", False),
        (f"{IMAGE}:1.2.0", "", False),
    ],
)
def test_image_runs_version(image: str, version: str, runs: bool) -> None:
    assert image_runs_version(image, version) is runs


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        ({"kind": "StatefulSet"}, "expected kind Deployment, got 'StatefulSet'"),
        ({"kind": "Deployment", "metadata": []}, "metadata must be an object"),
        ({"kind": "Deployment", "metadata": {"generation": "2"}}, "metadata.generation must be an integer"),
        (
            {"kind": "Deployment", "status": {"updatedReplicas": True}},
            "status.updatedReplicas must be an integer",
        ),
        ({"kind": "Deployment", "status": {"conditions": {}}}, "status.conditions must be a list"),
        (
            {"kind": "Deployment", "spec": {"template": {"spec": {"containers": {"name": "x"}}}}},
            "spec.template.spec.containers must be a list",
        ),
        (
            {
                "kind": "Deployment",
                "spec": {"template": {"spec": {"containers": [{"name": "x", "image": 3}]}}},
            },
            "spec.template.spec.containers[0].image must be a string",
        ),
    ],
)
def test_malformed_objects_are_named(obj: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidDeploymentObject, match=message.replace("[", r"\[").replace("]", r"\]")):
        rollout_status(obj, "1.2.0")


def test_not_a_mapping() -> None:
    with pytest.raises(InvalidDeploymentObject, match="expected a Deployment object"):
        rollout_status([], "1.2.0")  # type: ignore[arg-type]
