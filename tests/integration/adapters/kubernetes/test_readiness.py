"""KubernetesReadiness with the real ``kubernetes`` client against the API stand-in.

Nothing here sleeps to synchronise: the stand-in's controller steps on every read
(``step_on_read``), and changes "in the cluster" happen inside ``on_progress`` when the wait
reports the state that should trigger them.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client as k8s_client
from kubernetes.client.exceptions import NotFoundException

from bot.adapters.kubernetes import KubernetesAccessDenied, KubernetesReadiness, RolloutPhase, RolloutStatus
from tests.support.kubernetes_standin import KubernetesStandIn

NS, NAME = "serving", "chat-llm"
IMAGE = "registry.example.com/serving/chat-llm"
TOKEN = "gitops-bot-token"
USER = "system:serviceaccount:gitops:gitops-bot"
POLL = 0.01


class TickingClock:
    """Monotonic time that moves ``tick`` seconds per call: the stand-in's controller reads it once
    per sync, so a progress deadline passes after a known number of reads without real waiting."""

    def __init__(self, tick: float) -> None:
        self._now = 0.0
        self._tick = tick
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            self._now += self._tick
            return self._now


@pytest.fixture
def api() -> Iterator[KubernetesStandIn]:
    with KubernetesStandIn(step_on_read=True) as standin:
        yield standin


@pytest.fixture
def readiness(api: KubernetesStandIn) -> Iterator[KubernetesReadiness]:
    with KubernetesReadiness(host=api.url, request_timeout_seconds=5) as instance:
        yield instance


def running(api: KubernetesStandIn, version: str, replicas: int = 3, **kwargs: object) -> None:
    api.apply_deployment(NS, NAME, f"{IMAGE}:{version}", replicas, **kwargs)  # type: ignore[arg-type]
    api.settle(NS, NAME)


def test_rollout_completes_after_the_gitops_sync(
    api: KubernetesStandIn, readiness: KubernetesReadiness
) -> None:
    running(api, "1.1.0")
    seen: list[RolloutStatus] = []

    def on_progress(status: RolloutStatus) -> None:
        seen.append(status)
        if len(seen) == 1:
            # Argo CD syncs the merged commit only after the wait has started.
            api.apply_deployment(NS, NAME, f"{IMAGE}:1.2.0", 3)

    final = readiness.wait_for_rollout(
        NS, NAME, "1.2.0", timeout_seconds=15, poll_seconds=POLL, on_progress=on_progress
    )

    assert final.done and not final.timed_out, final.reason
    assert final.reason == "deployment serving/chat-llm successfully rolled out"
    assert (final.generation, final.observed_generation, final.revision) == (2, 2, "2")
    assert (final.updated_replicas, final.available_replicas, final.ready_replicas, final.replicas) == (
        3,
        3,
        3,
        3,
    )
    assert final.image == f"{IMAGE}:1.2.0"
    reasons = [status.reason.split(": ")[-1] for status in seen]
    assert reasons[0] == f"the Deployment does not run 1.2.0 yet (the pod template runs {IMAGE}:1.1.0)"
    assert "1 out of 3 new replicas have been updated" in reasons
    assert "1 old replicas are pending termination" in reasons
    assert reasons.index("1 out of 3 new replicas have been updated") < reasons.index(
        "1 old replicas are pending termination"
    )
    assert reasons[-1] == "deployment serving/chat-llm successfully rolled out"
    # Reported only on change: never the same reason twice in a row.
    assert all(a.reason != b.reason for a, b in itertools.pairwise(seen))


def test_rollout_advancing_over_time() -> None:
    with KubernetesStandIn(auto_step_seconds=0.005) as api:
        api.apply_deployment(NS, NAME, f"{IMAGE}:1.2.0", 2)
        with KubernetesReadiness(host=api.url) as readiness:
            final = readiness.wait_for_rollout(NS, NAME, "1.2.0", timeout_seconds=15, poll_seconds=POLL)
    assert final.done, final.reason


def test_stalled_rollout_fails_with_progress_deadline_exceeded() -> None:
    with KubernetesStandIn(step_on_read=True, clock=TickingClock(tick=1.0)) as api:
        running(api, "1.1.0", replicas=2, progress_deadline_seconds=30)
        api.stall(NS, NAME)
        api.apply_deployment(NS, NAME, f"{IMAGE}:1.2.0", 2, progress_deadline_seconds=30)
        with KubernetesReadiness(host=api.url) as readiness:
            final = readiness.wait_for_rollout(NS, NAME, "1.2.0", timeout_seconds=15, poll_seconds=POLL)
    assert final.phase is RolloutPhase.FAILED and final.failed and not final.timed_out
    assert final.reason == (
        f'deployment serving/chat-llm exceeded its progress deadline: ReplicaSet "{NAME}-'
        + final.reason.split(f'"{NAME}-')[1]
    )
    assert final.reason.endswith("has timed out progressing.")
    assert final.updated_replicas == 1 and final.available_replicas == 2


def test_times_out_when_the_version_never_arrives(
    api: KubernetesStandIn, readiness: KubernetesReadiness
) -> None:
    running(api, "1.1.0")
    final = readiness.wait_for_rollout(NS, NAME, "1.2.0", timeout_seconds=0.3, poll_seconds=POLL)
    assert final.timed_out and final.phase is RolloutPhase.WAITING and not final.done
    assert final.version_seen is False
    assert final.reason == (
        "timed out after 0.3s waiting for the rollout of Deployment serving/chat-llm; last seen: "
        f"the Deployment does not run 1.2.0 yet (the pod template runs {IMAGE}:1.1.0)"
    )


def test_missing_deployment(api: KubernetesStandIn, readiness: KubernetesReadiness) -> None:
    status = readiness.get_status(NS, "nope", "1.2.0")
    assert (status.phase, status.reason) == (RolloutPhase.NOT_FOUND, "Deployment serving/nope not found")
    assert readiness.read_deployment(NS, "nope") is None

    final = readiness.wait_for_rollout(NS, "nope", "1.2.0", timeout_seconds=0.2, poll_seconds=POLL)
    assert final.timed_out and final.phase is RolloutPhase.NOT_FOUND
    assert final.reason.endswith("last seen: Deployment serving/nope not found")


def test_deployment_created_by_the_sync_during_the_wait(
    api: KubernetesStandIn, readiness: KubernetesReadiness
) -> None:
    def on_progress(status: RolloutStatus) -> None:
        if status.phase is RolloutPhase.NOT_FOUND:
            api.apply_deployment(NS, NAME, f"{IMAGE}:1.2.0", 2)

    final = readiness.wait_for_rollout(
        NS, NAME, "1.2.0", timeout_seconds=15, poll_seconds=POLL, on_progress=on_progress
    )
    assert final.done, final.reason


def test_forbidden_names_the_rbac_needed() -> None:
    with KubernetesStandIn(tokens={TOKEN: USER}) as api:
        running(api, "1.2.0")
        api.forbid(NS, USER)
        readiness = KubernetesReadiness(host=api.url, token=TOKEN)
        with readiness, pytest.raises(KubernetesAccessDenied) as caught:
            readiness.wait_for_rollout(NS, NAME, "1.2.0", timeout_seconds=15, poll_seconds=POLL)
        assert api.requests[-1].authorization == f"Bearer {TOKEN}"
    error = caught.value
    assert (error.status, error.namespace, error.name) == (403, NS, NAME)
    message = str(error)
    assert "RBAC forbids reading Deployment serving/chat-llm" in message
    assert "`get` on `deployments` in API group `apps` in namespace serving" in message
    assert f'User "{USER}" cannot get resource "deployments" in API group "apps"' in message


def test_wrong_token_is_unauthorized() -> None:
    with KubernetesStandIn(tokens={TOKEN: USER}) as api:
        running(api, "1.2.0")
        stale = KubernetesReadiness(host=api.url, token="stale")
        expected = r"rejected the bot's credentials \(401 Unauthorized"
        with stale, pytest.raises(KubernetesAccessDenied, match=expected):
            stale.get_status(NS, NAME, "1.2.0")
        with KubernetesReadiness(host=api.url, token=TOKEN) as readiness:
            assert readiness.get_status(NS, NAME, "1.2.0").done


def test_api_down_then_up_within_the_deadline(api: KubernetesStandIn, readiness: KubernetesReadiness) -> None:
    running(api, "1.2.0")
    assert readiness.get_status(NS, NAME, "1.2.0").done  # a pooled keep-alive connection exists now
    api.take_down()
    phases: list[RolloutPhase] = []

    def on_progress(status: RolloutStatus) -> None:
        phases.append(status.phase)
        if status.phase is RolloutPhase.UNREACHABLE:
            assert "is unreachable" in status.reason
            api.bring_up()

    final = readiness.wait_for_rollout(
        NS, NAME, "1.2.0", timeout_seconds=15, poll_seconds=POLL, on_progress=on_progress
    )
    assert final.done, final.reason
    assert phases == [RolloutPhase.UNREACHABLE, RolloutPhase.DONE]


def test_api_down_for_the_whole_wait(api: KubernetesStandIn, readiness: KubernetesReadiness) -> None:
    api.take_down()
    final = readiness.wait_for_rollout(NS, NAME, "1.2.0", timeout_seconds=0.2, poll_seconds=POLL)
    assert final.timed_out and final.phase is RolloutPhase.UNREACHABLE
    assert "Connection refused" in final.reason or "unreachable" in final.reason


def test_server_errors_are_retried(api: KubernetesStandIn, readiness: KubernetesReadiness) -> None:
    running(api, "1.2.0")
    api.inject_errors(503, 429)
    seen: list[RolloutStatus] = []
    final = readiness.wait_for_rollout(
        NS, NAME, "1.2.0", timeout_seconds=15, poll_seconds=POLL, on_progress=seen.append
    )
    assert final.done
    assert [status.reason for status in seen[:2]] == [
        f"the Kubernetes API at {api.url} is unavailable (503 injected failure (503))",
        f"the Kubernetes API at {api.url} is unavailable (429 injected failure (429))",
    ]


def test_stop_event_ends_the_wait(api: KubernetesStandIn, readiness: KubernetesReadiness) -> None:
    running(api, "1.1.0")
    stop = threading.Event()
    stop.set()
    final = readiness.wait_for_rollout(NS, NAME, "1.2.0", timeout_seconds=60, poll_seconds=5, stop=stop)
    assert not final.done and not final.timed_out
    assert final.reason.startswith(
        "stopped waiting for the rollout; last seen: the Deployment does not run 1.2.0"
    )


def test_named_container_and_version_label(api: KubernetesStandIn) -> None:
    api.apply_deployment(
        NS, NAME, f"{IMAGE}:main", 1, container="vllm", template_labels={"app.kubernetes.io/version": "1.2.0"}
    )
    api.settle(NS, NAME)
    with KubernetesReadiness(host=api.url, version_label="app.kubernetes.io/version") as readiness:
        assert readiness.get_status(NS, NAME, "1.2.0", container="vllm").done
        missing = readiness.get_status(NS, NAME, "1.2.0", container="server")
    assert not missing.done and "no container named 'server'" in missing.reason


def test_kubeconfig_with_a_token(api: KubernetesStandIn, tmp_path: Path) -> None:
    with KubernetesStandIn(tokens={TOKEN: USER}, step_on_read=True) as secured:
        running(secured, "1.2.0")
        kubeconfig = tmp_path / "kubeconfig"
        kubeconfig.write_text(
            json.dumps(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "clusters": [
                        {"name": "other", "cluster": {"server": api.url}},
                        {"name": "serving", "cluster": {"server": secured.url}},
                    ],
                    "users": [
                        {"name": "nobody", "user": {}},
                        {"name": "bot", "user": {"token": TOKEN}},
                    ],
                    "contexts": [
                        {"name": "other", "context": {"cluster": "other", "user": "nobody"}},
                        {"name": "serving", "context": {"cluster": "serving", "user": "bot"}},
                    ],
                    "current-context": "other",
                }
            )
        )
        before = kubeconfig.read_text()
        with KubernetesReadiness(kubeconfig=kubeconfig, context="serving") as readiness:
            assert readiness.host == secured.url
            assert readiness.get_status(NS, NAME, "1.2.0").done
        with KubernetesReadiness(kubeconfig=kubeconfig) as readiness:
            assert readiness.host == api.url
            assert readiness.get_status(NS, NAME, "1.2.0").phase is RolloutPhase.NOT_FOUND
        assert secured.requests[-1].authorization == f"Bearer {TOKEN}"
        assert kubeconfig.read_text() == before


# -- the stand-in speaks the API's wire format: the client's own models and errors parse it ------------


def test_typed_client_reads_the_standin(api: KubernetesStandIn) -> None:
    running(api, "1.2.0", replicas=2)
    configuration = k8s_client.Configuration(host=api.url)
    with k8s_client.ApiClient(configuration) as api_client:
        deployment = k8s_client.AppsV1Api(api_client).read_namespaced_deployment(NAME, NS)
        assert isinstance(deployment, k8s_client.V1Deployment)
        assert deployment.spec.template.spec.containers[0].image == f"{IMAGE}:1.2.0"
        assert deployment.status.available_replicas == 2
        assert deployment.metadata.generation == 1
        assert {c.type: c.reason for c in deployment.status.conditions} == {
            "Available": "MinimumReplicasAvailable",
            "Progressing": "NewReplicaSetAvailable",
        }
        listing = k8s_client.AppsV1Api(api_client).list_namespaced_deployment(NS)
        assert [item.metadata.name for item in listing.items] == [NAME]
        version = k8s_client.VersionApi(api_client).get_code()
        assert version.git_version.startswith("v1.")
        resources = k8s_client.AppsV1Api(api_client).get_api_resources()
        assert "deployments" in {resource.name for resource in resources.resources}
        with pytest.raises(NotFoundException) as caught:
            k8s_client.AppsV1Api(api_client).read_namespaced_deployment("nope", NS)
    assert json.loads(caught.value.body) == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'deployments.apps "nope" not found',
        "reason": "NotFound",
        "details": {"name": "nope", "group": "apps", "kind": "deployments"},
        "code": 404,
    }
