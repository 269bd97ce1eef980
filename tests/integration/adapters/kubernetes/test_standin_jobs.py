"""The Kubernetes stand-in's batch/v1 Jobs, driven by the real ``kubernetes`` client.

Jobs really run: each pod's container is a local process in a bubblewrap sandbox. Nothing here
sleeps to synchronise with a container: tests poll the API as a client would (``until``), and a
container that must wait for the test waits for a file the test creates in a directory shown to
it read-only (``expose_paths``).
"""

from __future__ import annotations

import base64
import json
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import pytest
from kubernetes import client as k8s_client
from kubernetes.client.exceptions import ApiException

from tests.support.kubernetes_standin import KubernetesStandIn
from tests.support.requirements import require

NS = "terraform-jobs"
TOKEN, USER = "bot-token", "system:serviceaccount:gitops:gitops-bot"
T = TypeVar("T")


@pytest.fixture
def signals(tmp_path: Path) -> Path:
    """A directory the containers see read-only: the test creates files there to let them go on."""
    directory = tmp_path / "signals"
    directory.mkdir()
    return directory


@pytest.fixture
def api(signals: Path) -> Iterator[KubernetesStandIn]:
    with KubernetesStandIn(tokens={TOKEN: USER}, expose_paths=[signals], max_grace_seconds=2) as standin:
        require(standin.jobs.sandbox_mode == "bwrap", "bubblewrap (bwrap) able to make a sandbox")
        yield standin


@pytest.fixture
def api_client(api: KubernetesStandIn) -> Iterator[k8s_client.ApiClient]:
    configuration = k8s_client.Configuration(host=api.url)
    configuration.api_key = {"BearerToken": TOKEN}
    configuration.api_key_prefix = {"BearerToken": "Bearer"}
    with k8s_client.ApiClient(configuration) as instance:
        yield instance


@pytest.fixture
def batch(api_client: k8s_client.ApiClient) -> k8s_client.BatchV1Api:
    return k8s_client.BatchV1Api(api_client)


@pytest.fixture
def core(api_client: k8s_client.ApiClient) -> k8s_client.CoreV1Api:
    return k8s_client.CoreV1Api(api_client)


def job(name: str, script: str, *, labels: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": "terraform",
        "image": "ghcr.io/example/gitops-bot:1.0",
        "command": ["sh", "-c", script],
    }
    container.update(spec.pop("container", {}))
    manifest: dict[str, Any] = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, **({"labels": labels} if labels else {})},
        "spec": {
            "backoffLimit": 0,
            "template": {"spec": {"restartPolicy": "Never", "containers": [container]}},
            **spec,
        },
    }
    return manifest


def until(read: Callable[[], T], done: Callable[[T], bool], timeout: float = 5.0) -> T:
    """Poll ``read`` until ``done`` holds for what it returns (as a client waiting on the API)."""
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if done(value):
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"still not there after {timeout} s: {value}")
        time.sleep(0.02)


def finished(batch: k8s_client.BatchV1Api, name: str) -> k8s_client.V1Job:
    return until(
        lambda: batch.read_namespaced_job_status(name, NS),
        lambda found: any(c.type in ("Complete", "Failed") for c in found.status.conditions or ()),
    )


def the_pod(core: k8s_client.CoreV1Api, job_name: str, phase: str | None = None) -> k8s_client.V1Pod:
    pods = until(
        lambda: core.list_namespaced_pod(NS, label_selector=f"job-name={job_name}").items,
        lambda items: len(items) == 1 and (phase is None or items[0].status.phase == phase),
    )
    return pods[0]


def gone(read: Callable[[], object]) -> bool:
    try:
        read()
    except ApiException as error:
        return error.status == 404
    return False


def status_of(error: ApiException) -> dict[str, Any]:
    return json.loads(error.body)  # type: ignore[no-any-return]


def test_a_job_runs_to_completion(batch: k8s_client.BatchV1Api, core: k8s_client.CoreV1Api) -> None:
    created = batch.create_namespaced_job(NS, job("hello", "echo one; sleep 0.3; echo two"))

    assert created.metadata.uid and created.metadata.resource_version and created.metadata.creation_timestamp
    assert (created.spec.backoff_limit, created.spec.completions, created.spec.parallelism) == (0, 1, 1)
    template_labels = created.spec.template.metadata.labels
    assert template_labels["job-name"] == template_labels["batch.kubernetes.io/job-name"] == "hello"
    assert template_labels["controller-uid"] == created.metadata.uid
    assert created.spec.selector.match_labels == {"batch.kubernetes.io/controller-uid": created.metadata.uid}

    running = the_pod(core, "hello", "Running")
    assert running.metadata.name.startswith("hello-") and len(running.metadata.name) == len("hello-") + 5
    assert running.status.container_statuses[0].state.running is not None
    assert batch.read_namespaced_job("hello", NS).status.active == 1

    done = finished(batch, "hello")
    assert [(c.type, c.status) for c in done.status.conditions] == [
        ("SuccessCriteriaMet", "True"),
        ("Complete", "True"),
    ]
    assert done.status.succeeded == 1 and not done.status.failed and not done.status.active
    assert done.status.start_time and done.status.completion_time
    pod = core.read_namespaced_pod(running.metadata.name, NS)
    terminated = pod.status.container_statuses[0].state.terminated
    assert (pod.status.phase, terminated.exit_code, terminated.reason) == ("Succeeded", 0, "Completed")
    log = core.read_namespaced_pod_log(pod.metadata.name, NS, container="terraform")
    assert log == "one\ntwo\n"


def test_follow_streams_the_log_while_the_container_writes(
    batch: k8s_client.BatchV1Api, core: k8s_client.CoreV1Api, signals: Path
) -> None:
    script = f"echo one; until [ -e {signals}/go ]; do sleep 0.02; done; echo two"
    batch.create_namespaced_job(NS, job("streamed", script))
    pod = the_pod(core, "streamed", "Running").metadata.name
    response = core.read_namespaced_pod_log(
        pod, NS, container="terraform", follow=True, _preload_content=False
    )
    chunks = response.stream(amt=64 * 1024)

    assert next(chunks) == b"one\n"
    assert core.read_namespaced_pod(pod, NS).status.phase == "Running"  # "two" is not written yet
    (signals / "go").touch()
    assert b"".join(chunks) == b"two\n"  # and the stream ends when the container exits
    response.release_conn()
    assert finished(batch, "streamed").status.succeeded == 1


def test_a_failing_command_fails_the_job(batch: k8s_client.BatchV1Api, core: k8s_client.CoreV1Api) -> None:
    batch.create_namespaced_job(NS, job("broken", "echo planning; echo 'Error: no' >&2; exit 3"))

    done = finished(batch, "broken")
    assert [(c.type, c.reason) for c in done.status.conditions] == [
        ("FailureTarget", "BackoffLimitExceeded"),
        ("Failed", "BackoffLimitExceeded"),
    ]
    assert done.status.conditions[-1].message == "Job has reached the specified backoff limit"
    assert done.status.failed == 1 and not done.status.succeeded and done.status.completion_time is None
    pod = the_pod(core, "broken")
    terminated = pod.status.container_statuses[0].state.terminated
    assert (pod.status.phase, terminated.exit_code, terminated.reason) == ("Failed", 3, "Error")
    log = core.read_namespaced_pod_log(pod.metadata.name, NS, container="terraform")
    assert log == "planning\nError: no\n"  # stdout and stderr interleaved as written


def test_a_command_that_is_not_there_is_a_start_error(
    batch: k8s_client.BatchV1Api, core: k8s_client.CoreV1Api
) -> None:
    manifest = job("missing", "", container={"command": ["no-such-gitops-tool"]})
    batch.create_namespaced_job(NS, manifest)

    assert finished(batch, "missing").status.failed == 1
    terminated = the_pod(core, "missing").status.container_statuses[0].state.terminated
    assert (terminated.exit_code, terminated.reason) == (128, "StartError")
    assert 'exec: "no-such-gitops-tool": executable file not found in $PATH' in terminated.message


def test_deleting_a_job_stops_its_container(
    api: KubernetesStandIn, batch: k8s_client.BatchV1Api, core: k8s_client.CoreV1Api
) -> None:
    batch.create_namespaced_job(NS, job("forever", "sleep 60"))
    the_pod(core, "forever", "Running")
    started = time.monotonic()

    answer = batch.delete_namespaced_job("forever", NS, propagation_policy="Background")

    assert answer["status"] == "Success" and answer["details"]["kind"] == "jobs"
    assert gone(lambda: batch.read_namespaced_job("forever", NS))
    until(
        lambda: core.list_namespaced_pod(NS, label_selector="job-name=forever").items, lambda pods: not pods
    )
    assert time.monotonic() - started < 1.5  # SIGTERM, not the grace period
    until(api.jobs.live_processes, lambda count: count == 0)


def test_foreground_deletion_gives_the_container_its_sigterm(
    batch: k8s_client.BatchV1Api, core: k8s_client.CoreV1Api
) -> None:
    script = "trap 'echo stopping; exit 0' TERM; echo working; while :; do sleep 0.02; done"
    batch.create_namespaced_job(NS, job("graceful", script))
    pod = the_pod(core, "graceful", "Running").metadata.name
    response = core.read_namespaced_pod_log(pod, NS, follow=True, _preload_content=False)
    chunks = response.stream(amt=64 * 1024)
    assert next(chunks) == b"working\n"

    answer = batch.delete_namespaced_job("graceful", NS, propagation_policy="Foreground")

    assert answer["kind"] == "Job" and answer["metadata"]["finalizers"] == ["foregroundDeletion"]
    assert answer["metadata"]["deletionTimestamp"]
    # The whole process group gets SIGTERM: sh may report its killed `sleep` first.
    assert b"".join(chunks).endswith(b"stopping\n")
    response.release_conn()
    until(lambda: gone(lambda: batch.read_namespaced_job("graceful", NS)), bool)
    assert gone(lambda: core.read_namespaced_pod(pod, NS))


def test_a_container_ignoring_sigterm_is_killed_after_its_grace_period(
    batch: k8s_client.BatchV1Api, core: k8s_client.CoreV1Api
) -> None:
    batch.create_namespaced_job(NS, job("stubborn", "trap '' TERM; echo ready; sleep 60"))
    pod = the_pod(core, "stubborn", "Running").metadata.name
    until(lambda: core.read_namespaced_pod_log(pod, NS), lambda log: log == "ready\n")
    started = time.monotonic()

    deleted = core.delete_namespaced_pod(pod, NS, grace_period_seconds=1)

    assert deleted.metadata.deletion_timestamp and deleted.metadata.deletion_grace_period_seconds == 1
    assert core.read_namespaced_pod(pod, NS).status.phase == "Running"  # terminating
    until(lambda: gone(lambda: core.read_namespaced_pod(pod, NS)), bool)
    assert 0.9 <= time.monotonic() - started < 2
    done = finished(batch, "stubborn")  # a deleted pod counts as failed; backoffLimit 0
    assert done.status.failed == 1 and done.status.conditions[-1].reason == "BackoffLimitExceeded"


def test_active_deadline_stops_the_job(batch: k8s_client.BatchV1Api, core: k8s_client.CoreV1Api) -> None:
    batch.create_namespaced_job(NS, job("slow", "exec sleep 60", activeDeadlineSeconds=1))

    done = finished(batch, "slow")

    assert [(c.type, c.reason) for c in done.status.conditions] == [
        ("FailureTarget", "DeadlineExceeded"),
        ("Failed", "DeadlineExceeded"),
    ]
    assert done.status.conditions[-1].message == "Job was active longer than specified deadline"
    assert done.status.failed == 1
    assert not core.list_namespaced_pod(NS, label_selector="job-name=slow").items  # deleted by the controller


def test_ttl_after_finished_deletes_the_job_and_its_pod(
    batch: k8s_client.BatchV1Api, core: k8s_client.CoreV1Api
) -> None:
    batch.create_namespaced_job(NS, job("brief", "true", ttlSecondsAfterFinished=0))

    until(lambda: gone(lambda: batch.read_namespaced_job("brief", NS)), bool)
    until(lambda: core.list_namespaced_pod(NS, label_selector="job-name=brief").items, lambda pods: not pods)


def test_the_environment_is_the_pods_own(
    batch: k8s_client.BatchV1Api, core: k8s_client.CoreV1Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITOPS_BOT_HOST_ONLY", "leak")
    secret = k8s_client.V1Secret(
        metadata=k8s_client.V1ObjectMeta(name="cloud"),
        data={"AWS_SECRET_ACCESS_KEY": base64.b64encode(b"s3cret").decode()},
        string_data={"TF_VAR_region": "eu-west-1", "not a name": "skipped"},
    )
    created = core.create_namespaced_secret(NS, secret)
    assert created.data["TF_VAR_region"] == base64.b64encode(b"eu-west-1").decode()
    container = {
        "envFrom": [{"secretRef": {"name": "cloud"}}],
        "env": [
            {"name": "GITOPS_BOT_JOB_URL", "value": "http://127.0.0.1:9/internal"},
            {"name": "ONE_KEY", "valueFrom": {"secretKeyRef": {"name": "cloud", "key": "TF_VAR_region"}}},
        ],
    }
    batch.create_namespaced_job(NS, job("env", "env | sort", container=container))

    assert finished(batch, "env").status.succeeded == 1
    log = core.read_namespaced_pod_log(the_pod(core, "env").metadata.name, NS)
    variables = dict(line.split("=", 1) for line in log.splitlines())
    assert variables.pop("PATH") and variables.pop("HOSTNAME").startswith("env-")
    assert variables == {
        "AWS_SECRET_ACCESS_KEY": "s3cret",
        "GITOPS_BOT_JOB_URL": "http://127.0.0.1:9/internal",
        "HOME": "/tmp",
        "ONE_KEY": "eu-west-1",
        "PWD": "/tmp",
        "TF_VAR_region": "eu-west-1",
    }


def test_a_missing_secret_holds_the_pod_until_it_exists(
    batch: k8s_client.BatchV1Api, core: k8s_client.CoreV1Api
) -> None:
    manifest = job("waits", "echo $TOKEN", container={"envFrom": [{"secretRef": {"name": "later"}}]})
    batch.create_namespaced_job(NS, manifest)
    pod = until(
        lambda: the_pod(core, "waits"),
        lambda found: found.status.container_statuses[0].state.waiting.reason == "CreateContainerConfigError",
    )
    assert pod.status.phase == "Pending"
    assert pod.status.container_statuses[0].state.waiting.message == 'secret "later" not found'
    with pytest.raises(ApiException) as refused:
        core.read_namespaced_pod_log(pod.metadata.name, NS, container="terraform")
    assert refused.value.status == 400
    assert status_of(refused.value)["message"] == (
        f'container "terraform" in pod "{pod.metadata.name}" is waiting to start: CreateContainerConfigError'
    )

    core.create_namespaced_secret(NS, {"metadata": {"name": "later"}, "stringData": {"TOKEN": "now"}})

    assert finished(batch, "waits").status.succeeded == 1
    assert core.read_namespaced_pod_log(pod.metadata.name, NS) == "now\n"


def test_the_log_of_a_pod_not_started_yet(
    api: KubernetesStandIn, batch: k8s_client.BatchV1Api, core: k8s_client.CoreV1Api
) -> None:
    api.jobs.hold_pod_starts()
    batch.create_namespaced_job(NS, job("held", "echo started"))
    pod = the_pod(core, "held", "Pending")
    assert pod.status.container_statuses[0].state.waiting.reason == "ContainerCreating"

    with pytest.raises(ApiException) as refused:
        core.read_namespaced_pod_log(pod.metadata.name, NS, container="terraform", follow=True)
    assert refused.value.status == 400
    assert status_of(refused.value) == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": f'container "terraform" in pod "{pod.metadata.name}" is waiting to start: '
        "ContainerCreating",
        "reason": "BadRequest",
        "code": 400,
    }

    api.jobs.hold_pod_starts(False)
    assert finished(batch, "held").status.succeeded == 1


def test_the_sandbox_hides_the_tests_files(
    batch: k8s_client.BatchV1Api, core: k8s_client.CoreV1Api, tmp_path: Path
) -> None:
    private = tmp_path / "github-app.pem"
    private.write_text("PRIVATE KEY")
    script = (
        f"cat {private}; touch /etc/gitops-bot-was-here; echo scratch > /tmp/x && cat /tmp/x; ls {tmp_path}"
    )
    batch.create_namespaced_job(NS, job("sandboxed", script))

    finished(batch, "sandboxed")
    log = core.read_namespaced_pod_log(the_pod(core, "sandboxed").metadata.name, NS)

    assert "PRIVATE KEY" not in log and "No such file or directory" in log
    assert "Read-only file system" in log
    assert "scratch" in log
    assert not Path("/etc/gitops-bot-was-here").exists()


class _Hello(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"hello from the test"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_the_container_reaches_loopback_and_finds_the_bot(
    batch: k8s_client.BatchV1Api, core: k8s_client.CoreV1Api
) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/bundle"
    fetch = f"import urllib.request; print(urllib.request.urlopen({url!r}).read().decode())"
    try:
        batch.create_namespaced_job(NS, job("callback", f'python -c "{fetch}" && command -v gitops-bot'))
        assert finished(batch, "callback").status.succeeded == 1
    finally:
        server.shutdown()
        server.server_close()
    log = core.read_namespaced_pod_log(the_pod(core, "callback").metadata.name, NS)
    first, executable = log.splitlines()
    assert first == "hello from the test"
    assert executable.endswith("/gitops-bot")


def test_not_found_and_already_exists(batch: k8s_client.BatchV1Api, core: k8s_client.CoreV1Api) -> None:
    with pytest.raises(ApiException) as missing:
        batch.read_namespaced_job("nope", NS)
    assert missing.value.status == 404
    assert status_of(missing.value) == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'jobs.batch "nope" not found',
        "reason": "NotFound",
        "details": {"name": "nope", "group": "batch", "kind": "jobs"},
        "code": 404,
    }
    for read in (
        lambda: core.read_namespaced_pod("nope-abcde", NS),
        lambda: core.read_namespaced_pod_log("nope-abcde", NS),
        lambda: batch.delete_namespaced_job("nope", NS, propagation_policy="Background"),
    ):
        with pytest.raises(ApiException) as error:
            read()
        assert error.value.status == 404
        assert status_of(error.value)["reason"] == "NotFound"

    unbounded = job("twice", "true")
    del unbounded["spec"]["backoffLimit"]
    assert batch.create_namespaced_job(NS, unbounded).spec.backoff_limit == 6  # the API's default
    with pytest.raises(ApiException) as again:
        batch.create_namespaced_job(NS, job("twice", "true"))
    assert again.value.status == 409
    assert status_of(again.value)["message"] == 'jobs.batch "twice" already exists'
    assert status_of(again.value)["reason"] == "AlreadyExists"

    always = job("restarting", "true")
    always["spec"]["template"]["spec"]["restartPolicy"] = "Always"
    with pytest.raises(ApiException) as invalid:
        batch.create_namespaced_job(NS, always)
    assert invalid.value.status == 422
    assert status_of(invalid.value)["message"] == (
        'Job.batch "restarting" is invalid: spec.template.spec.restartPolicy: '
        'Unsupported value: "Always": supported values: "OnFailure", "Never"'
    )


def test_label_selectors(batch: k8s_client.BatchV1Api, core: k8s_client.CoreV1Api) -> None:
    batch.create_namespaced_job(
        NS, job("plan-1", "true", labels={"gitops-bot/operation": "plan", "run": "1"})
    )
    batch.create_namespaced_job(
        NS, job("apply-2", "true", labels={"gitops-bot/operation": "apply", "run": "2"})
    )
    batch.create_namespaced_job("elsewhere", job("plan-3", "true", labels={"gitops-bot/operation": "plan"}))

    def names(selector: str) -> list[str]:
        return [item.metadata.name for item in batch.list_namespaced_job(NS, label_selector=selector).items]

    assert names("gitops-bot/operation=plan,run=1") == ["plan-1"]
    assert names("gitops-bot/operation!=plan") == ["apply-2"]
    assert names("run in (1,2)") == ["apply-2", "plan-1"]
    assert names("gitops-bot/operation=plan,run=2") == []
    assert [item.metadata.name for item in batch.list_namespaced_job(NS, limit=1).items] == ["apply-2"]
    pods = core.list_namespaced_pod(NS, label_selector="job-name=apply-2").items
    assert [pod.metadata.labels["batch.kubernetes.io/job-name"] for pod in pods] == ["apply-2"]
    assert pods[0].metadata.owner_references[0].kind == "Job"


def test_discovery_faults_tokens_and_rbac(
    api: KubernetesStandIn, batch: k8s_client.BatchV1Api, core: k8s_client.CoreV1Api
) -> None:
    assert {r.name for r in batch.get_api_resources().resources} == {"jobs", "jobs/status"}
    assert {"pods", "pods/log", "secrets"} <= {r.name for r in core.get_api_resources().resources}

    api.inject_errors(503)
    with pytest.raises(ApiException) as unavailable:
        batch.list_namespaced_job(NS)
    assert unavailable.value.status == 503
    assert batch.list_namespaced_job(NS, label_selector="a=b").items == []
    assert api.requests[-1].query == "labelSelector=a%3Db"

    anonymous = k8s_client.BatchV1Api(k8s_client.ApiClient(k8s_client.Configuration(host=api.url)))
    with pytest.raises(ApiException) as unauthorized:
        anonymous.list_namespaced_job(NS)
    assert unauthorized.value.status == 401

    api.jobs.forbid(NS, resource="pods/log")
    batch.create_namespaced_job(NS, job("secret-log", "echo hidden"))
    pod = the_pod(core, "secret-log").metadata.name
    with pytest.raises(ApiException) as denied:
        core.read_namespaced_pod_log(pod, NS)
    assert denied.value.status == 403
    assert status_of(denied.value)["message"] == (
        f'pods "{pod}" is forbidden: User "{USER}" cannot get resource "pods/log" in API group "" '
        f'in the namespace "{NS}"'
    )
    created = [request for request in api.requests if request.method == "POST"][-1]
    assert json.loads(created.body)["metadata"]["name"] == "secret-log"


def test_without_bubblewrap_containers_are_refused_unless_allowed(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    without_bwrap = tmp_path / "bin"
    without_bwrap.mkdir()
    shell = shutil.which("sh")
    assert shell is not None
    with monkeypatch.context() as patch:
        patch.setenv("PATH", str(without_bwrap))  # the stand-in looks for bwrap when it is made
        refusing, allowing = KubernetesStandIn(), KubernetesStandIn(allow_unsandboxed=True)
    for standin in (refusing, allowing):
        standin.start()
    try:
        assert (refusing.jobs.sandbox_mode, allowing.jobs.sandbox_mode) == ("unavailable", "unsandboxed")
        manifest = job("plain", "echo unsandboxed", container={"command": [shell, "-c", "echo unsandboxed"]})
        for standin in (refusing, allowing):
            with k8s_client.ApiClient(k8s_client.Configuration(host=standin.url)) as api_client:
                k8s_client.BatchV1Api(api_client).create_namespaced_job(NS, manifest)
        waiting = until(
            lambda: refusing.jobs.pod_objects(NS, "plain")[0]["status"]["containerStatuses"][0]["state"],
            lambda state: "waiting" in state and state["waiting"]["reason"] != "ContainerCreating",
        )
        assert waiting["waiting"]["reason"] == "CreateContainerError"
        assert "allow_unsandboxed=True" in waiting["waiting"]["message"]
        assert allowing.jobs.wait_for_job(NS, "plain")["status"]["succeeded"] == 1
        pod = allowing.jobs.pod_objects(NS, "plain")[0]["metadata"]["name"]
        assert allowing.jobs.pod_log(NS, pod) == "unsandboxed\n"
    finally:
        for standin in (refusing, allowing):
            standin.stop()


def test_stop_kills_every_container() -> None:
    with KubernetesStandIn() as standin:
        with k8s_client.ApiClient(k8s_client.Configuration(host=standin.url)) as api_client:
            batch = k8s_client.BatchV1Api(api_client)
            for name in ("first", "second"):
                batch.create_namespaced_job(NS, job(name, "exec sleep 60"))
        until(standin.jobs.live_processes, lambda count: count == 2)
        started = time.monotonic()
    assert standin.jobs.live_processes() == 0
    assert time.monotonic() - started < 3


def test_reading_the_log_from_another_thread_while_it_runs(
    batch: k8s_client.BatchV1Api, core: k8s_client.CoreV1Api, signals: Path
) -> None:
    """Two followers at once, both see everything; a non-follow read returns what is there."""
    script = f"echo a; until [ -e {signals}/b ]; do sleep 0.02; done; echo b"
    batch.create_namespaced_job(NS, job("shared", script))
    pod = the_pod(core, "shared", "Running").metadata.name
    until(lambda: core.read_namespaced_pod_log(pod, NS), lambda log: log == "a\n")
    seen: list[bytes] = []

    def follow() -> None:
        response = core.read_namespaced_pod_log(pod, NS, follow=True, _preload_content=False)
        seen.append(b"".join(response.stream(amt=1024)))

    followers = [threading.Thread(target=follow) for _ in range(2)]
    for follower in followers:
        follower.start()
    (signals / "b").touch()
    for follower in followers:
        follower.join(timeout=5)
    assert seen == [b"a\nb\n", b"a\nb\n"]
    assert core.read_namespaced_pod_log(pod, NS, tail_lines=1) == "b\n"
