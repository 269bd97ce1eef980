"""``batch/v1`` Jobs that really run, for the Kubernetes API stand-in.

:class:`tests.support.kubernetes_standin.KubernetesStandIn` serves these routes next to its
Deployments (its ``jobs`` attribute is the :class:`JobsCluster` here), on the real wire format, so
``kubernetes.client.BatchV1Api`` and ``CoreV1Api`` talk to it unchanged:

* ``GET /apis/batch/v1`` and ``GET /api/v1`` — the discovery documents;
* ``/apis/batch/v1/namespaces/{ns}/jobs`` — ``POST`` (create: 201, server-set metadata and the
  defaults the API server fills in, 409 ``AlreadyExists``, 422 ``Invalid``), ``GET`` (a
  ``JobList``; ``labelSelector``, ``limit``/``continue``); ``.../jobs/{name}`` and
  ``.../jobs/{name}/status`` — ``GET``; ``.../jobs/{name}`` — ``DELETE`` with
  ``propagationPolicy`` (query or ``DeleteOptions`` body): ``Background`` answers a ``Status``
  and the pods go, ``Foreground`` answers the Job (``foregroundDeletion`` finalizer), which stays
  until its pods are gone, and none means ``Orphan`` as for every batch/v1 Job: the pods stay and
  the API's ``Warning`` header says so. (``Foreground`` and ``Orphan`` answer the Job itself, as
  the API server does; the Python client returns either answer as a plain dict.)
* ``/api/v1/namespaces/{ns}/pods`` — ``GET`` (``labelSelector``, e.g. ``job-name=<job>``);
  ``.../pods/{name}`` and ``.../status`` — ``GET``, ``DELETE`` (graceful, ``gracePeriodSeconds``);
  ``.../pods/{name}/log`` — ``text/plain``: the log so far, or with ``follow=true`` a chunked
  stream of new output as the container writes it, ending when it exits (``tailLines`` too);
  400 ``container "c" in pod "p" is waiting to start: <reason>`` before it started;
* ``/api/v1/namespaces/{ns}/secrets`` — ``POST`` (``data`` and ``stringData``), ``GET``;
  ``.../secrets/{name}`` — ``GET``, ``DELETE``;
* errors as ``Status`` objects (404 ``NotFound``, 403 ``Forbidden`` for rules added with
  :meth:`JobsCluster.forbid`, 405 for update and patch, which are not served).

Behind the routes is a small job controller and kubelet (the kubelet and sandbox are in
:mod:`tests.support.kubernetes_standin_kubelet`): a new Job gets one pod ``<job>-<5 chars>`` at
once, whose first container runs as a local process; the pod goes Pending (``ContainerCreating``)
→ Running → Succeeded or Failed with the exit code (``Completed``/``Error``), and the Job follows
as Kubernetes 1.31 reports it: ``startTime``, ``active``/``ready`` while it runs, then
``SuccessCriteriaMet`` + ``Complete`` with ``completionTime`` and ``succeeded: 1``, or
``FailureTarget`` + ``Failed`` (``BackoffLimitExceeded``) with ``failed: 1``. An exceeded
``activeDeadlineSeconds`` stops the pod (``DeadlineExceeded``; ``Failed`` is added once the pod
is gone, as 1.31 does). ``ttlSecondsAfterFinished`` deletes the finished Job and its pod. A
deleted pod gets SIGTERM, then SIGKILL after its ``terminationGracePeriodSeconds`` (default 30),
capped at ``max_grace_seconds`` (5 s by default) so that tests do not wait half a minute.

The container's environment is the pod's own (:mod:`tests.support.kubernetes_standin_env`):
``PATH`` from the host (so ``gitops-bot``, python and the test's ``terraform`` shim resolve),
``HOME=/tmp``, ``envFrom`` Secrets and ``env``; nothing else of the host's environment. A
missing Secret keeps the pod Pending with ``CreateContainerConfigError`` (``secret "x" not
found``) until it is created, as the kubelet retries; a command that cannot be found fails the
pod with ``StartError`` (exit code 128).

Simplified compared to a real cluster: no scheduler and one node (``standin-node``; no
nodeSelector, tolerations, resources or quota take effect); one pod per Job (``completions`` and
``parallelism`` above 1, indexed Jobs, ``suspend``, ``podFailurePolicy`` and success policies
are stored but not acted on); no retries: the first failed pod fails the Job whatever
``backoffLimit`` says (``restartPolicy: OnFailure`` does not restart the container either); only
the first container runs (no init or sidecar containers); the image is recorded but ignored (the
command runs from the host's files); volumes are ignored except that ``/tmp`` is always an empty
writable directory; ``securityContext`` is not applied (the process runs as the test's user);
``$(VAR)`` references in commands are not expanded; no service account token, no
``KUBERNETES_SERVICE_*`` variables; every namespace exists; no watch, update or patch.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from tests.support.kubernetes_standin import _timestamp
from tests.support.kubernetes_standin_env import ContainerConfigError, container_launch
from tests.support.kubernetes_standin_kubelet import ContainerProcess, Sandbox
from tests.support.kubernetes_standin_objects import (
    NODE_NAME,
    Job,
    Pod,
    Secret,
    controller_labels,
    generated_name,
    job_condition,
    job_spec_with_defaults,
    pod_spec_with_defaults,
    render_job,
    render_pod,
)
from tests.support.kubernetes_standin_routes import Answer, answer_request

_TICK_SECONDS = 0.05
_DEFAULT_TOLERATIONS = [
    {
        "key": f"node.kubernetes.io/{taint}",
        "operator": "Exists",
        "effect": "NoExecute",
        "tolerationSeconds": 300,
    }
    for taint in ("not-ready", "unreachable")
]


class JobsCluster:
    """The Jobs, pods and Secrets of the stand-in, its job controller and its kubelet.

    Shares the stand-in's lock: the HTTP routes, the container threads' callbacks and the
    controller thread all change state under it.
    """

    def __init__(
        self,
        lock: threading.RLock,
        *,
        allow_unsandboxed: bool = False,
        max_grace_seconds: float = 5.0,
        hide_paths: Sequence[str | os.PathLike[str]] = (),
        expose_paths: Sequence[str | os.PathLike[str]] = (),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.lock = lock
        self.sandbox = Sandbox(
            allow_unsandboxed=allow_unsandboxed, hide_paths=hide_paths, expose_paths=expose_paths
        )
        self.max_grace_seconds = max_grace_seconds
        self.clock = clock
        self.jobs: dict[tuple[str, str], Job] = {}
        self.pods: dict[tuple[str, str], Pod] = {}
        self.secrets: dict[tuple[str, str], Secret] = {}
        self.rules: list[tuple[str | None, str | None, str | None, str | None]] = []
        self.resource_version = 5000
        self._held = False
        self._stopping = threading.Event()
        self._controller: threading.Thread | None = None
        self._scratch: Path | None = None
        self._processes: list[ContainerProcess] = []

    # -- what tests do ------------------------------------------------------------------------

    @property
    def sandbox_mode(self) -> str:
        """``bwrap``, ``unsandboxed`` (plain processes, allowed) or ``unavailable`` (pods wait)."""
        return self.sandbox.mode

    def put_secret(
        self,
        namespace: str,
        name: str,
        data: Mapping[str, str | bytes],
        *,
        type: str = "Opaque",
        labels: Mapping[str, str] | None = None,
    ) -> None:
        """Create or replace a Secret (values in plain text; the API serves them base64-encoded)."""
        values = {
            key: value.encode() if isinstance(value, str) else bytes(value) for key, value in data.items()
        }
        with self.lock:
            self.store_secret(namespace, name, values, type=type, labels=dict(labels or {}))

    def delete_secret(self, namespace: str, name: str) -> None:
        with self.lock:
            self.secrets.pop((namespace, name), None)

    def job_object(self, namespace: str, name: str) -> dict[str, Any]:
        """The Job exactly as ``GET`` serves it now (KeyError when there is none)."""
        with self.lock:
            return render_job(self.jobs[(namespace, name)])

    def pod_objects(self, namespace: str, job_name: str) -> list[dict[str, Any]]:
        """The pods of a Job (by its ``job-name`` label), as ``GET`` serves them now."""
        with self.lock:
            return [
                render_pod(pod)
                for (ns, _), pod in sorted(self.pods.items())
                if ns == namespace and pod.labels.get("job-name") == job_name
            ]

    def pod_log(self, namespace: str, pod_name: str) -> str:
        with self.lock:
            log = self.pods[(namespace, pod_name)].log
        return log.snapshot().decode("utf-8", errors="replace")

    def wait_for_job(self, namespace: str, name: str, timeout: float = 10.0) -> dict[str, Any]:
        """The Job once it has its ``Complete`` or ``Failed`` condition (TimeoutError after ``timeout``)."""
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                job = self.jobs.get((namespace, name))
                if job is not None and job.finished is not None:
                    return render_job(job)
            if time.monotonic() >= deadline:
                raise TimeoutError(f"Job {namespace}/{name} did not finish in {timeout} s")
            time.sleep(0.02)

    def live_processes(self) -> int:
        """How many container processes (with their sandboxes) are still running."""
        with self.lock:
            self._processes = [process for process in self._processes if process.alive]
            return len(self._processes)

    def hold_pod_starts(self, held: bool = True) -> None:
        """While held, new pods stay Pending in ``ContainerCreating``; releasing starts them."""
        with self.lock:
            self._held = held
            if not held:
                for pod in list(self.pods.values()):
                    self.start_pod(pod)

    def forbid(
        self,
        namespace: str | None = None,
        *,
        resource: str | None = None,
        verb: str | None = None,
        user: str | None = None,
    ) -> None:
        """RBAC: deny ``verb`` (get, list, create, delete) on ``resource`` (jobs, jobs/status, pods,
        pods/log, pods/status, secrets) in ``namespace`` to ``user``; None matches every one (403)."""
        with self.lock:
            self.rules.append((user, namespace, resource, verb))

    def is_forbidden(self, user: str, namespace: str, resource: str, verb: str) -> bool:
        wanted = (user, namespace, resource, verb)
        return any(
            all(rule is None or rule == value for rule, value in zip(entry, wanted, strict=True))
            for entry in self.rules
        )

    def stop(self) -> None:
        """Kill every container, end every log stream, stop the controller."""
        self._stopping.set()
        with self.lock:
            processes = list(self._processes)
            for pod in self.pods.values():
                pod.log.close()
        for process in processes:
            process.kill()
        for process in processes:
            process.join(timeout=5)
        if self._controller is not None:
            self._controller.join(timeout=5)
            self._controller = None
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None

    # -- HTTP and objects (the routes call these under the lock) -----------------------------------

    def answer(self, method: str, target: str, body: bytes, user: str) -> Answer | None:
        """The answer to a request for Jobs, pods or Secrets; None when ``target`` is not theirs."""
        return answer_request(self, method, target, body, user)

    def touch(self, item: Job | Pod | Secret) -> None:
        self.resource_version += 1
        item.resource_version = self.resource_version

    def store_secret(
        self, namespace: str, name: str, data: dict[str, bytes], *, type: str, labels: dict[str, str]
    ) -> Secret:
        secret = Secret(namespace, name, str(uuid.uuid4()), 0, data, type=type, labels=labels)
        self.touch(secret)
        self.secrets[(namespace, name)] = secret
        # The kubelet retries containers whose configuration was missing.
        for pod in list(self.pods.values()):
            if pod.waiting and pod.waiting[0] == "CreateContainerConfigError":
                self.start_pod(pod)
        return secret

    def create_job(
        self, namespace: str, name: str, metadata: Mapping[str, Any], spec: Mapping[str, Any]
    ) -> Job:
        """Store a valid new Job (as the API server does; :meth:`run_job` is the controller's part)."""
        uid = str(uuid.uuid4())
        job = Job(
            namespace=namespace,
            name=name,
            uid=uid,
            resource_version=0,
            labels=dict(metadata.get("labels") or {}),
            annotations=dict(metadata.get("annotations") or {}),
            spec=job_spec_with_defaults(spec, name=name, uid=uid),
        )
        self.touch(job)
        self.jobs[(namespace, name)] = job
        self._ensure_controller()
        return job

    def run_job(self, job: Job) -> None:
        """The controller's first sync: ``startTime``, and the Job's one pod, started at once."""
        job.start_time = _timestamp()
        job.started = self.clock()
        template = job.spec["template"]
        name = generated_name(f"{job.name}-")
        spec = pod_spec_with_defaults(template["spec"])
        spec.setdefault("serviceAccountName", "default")
        spec.setdefault("serviceAccount", spec["serviceAccountName"])
        spec.update(nodeName=NODE_NAME, enableServiceLinks=spec.get("enableServiceLinks", True))
        spec.setdefault("priority", 0)
        spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
        spec["tolerations"] = [*(spec.get("tolerations") or []), *_DEFAULT_TOLERATIONS]
        pod = Pod(
            namespace=job.namespace,
            name=name,
            uid=str(uuid.uuid4()),
            resource_version=0,
            job=job,
            labels={**template["metadata"]["labels"], **controller_labels(job.name, job.uid)},
            annotations=dict(template["metadata"].get("annotations") or {}),
            spec=spec,
        )
        self.touch(pod)
        self.pods[(pod.namespace, pod.name)] = pod
        job.pods.append(pod)
        self.touch(job)
        self.start_pod(pod)

    def delete_job(self, job: Job, policy: str) -> None:
        """``Background``: the Job goes now, its pods are deleted; ``Foreground``: the Job stays
        (finalizer) until its pods are gone; ``Orphan``: the Job goes, its pods stay and run on."""
        job.deletion = _timestamp()
        if policy == "Orphan":
            for pod in job.pods:
                pod.job = None
                self.touch(pod)
            job.pods = []
            self.jobs.pop((job.namespace, job.name), None)
            return
        if policy == "Background":
            self.jobs.pop((job.namespace, job.name), None)
        else:
            job.finalizers = ["foregroundDeletion"]
            self.touch(job)
        for pod in list(job.pods):
            self.delete_pod(pod, None)
        self._finish_foreground(job)

    def delete_pod(self, pod: Pod, grace_seconds: int | None) -> None:
        """Graceful deletion: SIGTERM now, SIGKILL after the grace period; the pod is gone once its
        container has exited (at once when it never ran or has finished)."""
        if grace_seconds is None:
            grace_seconds = int(pod.spec.get("terminationGracePeriodSeconds", 30))
        if pod.deletion is None:
            pod.deletion = _timestamp()
            pod.deletion_grace = grace_seconds
            self.touch(pod)
        process = pod.process
        if process is None or pod.terminal:
            self._drop_pod(pod)
            return
        process.terminate()
        kill_at = self.clock() + min(grace_seconds, self.max_grace_seconds)
        pod.kill_at = kill_at if pod.kill_at is None else min(pod.kill_at, kill_at)

    # -- the kubelet ------------------------------------------------------------------------------

    def start_pod(self, pod: Pod) -> None:
        if self._held or pod.process is not None or pod.terminal or pod.deletion or self._stopping.is_set():
            return
        if refusal := self.sandbox.refusal():
            self._wait(pod, "CreateContainerError", refusal)
            return
        try:
            launch = container_launch(pod, self.secrets)
        except ContainerConfigError as error:
            self._wait(pod, "CreateContainerConfigError", str(error))
            return
        pod.container_id = f"containerd://{secrets.token_hex(32)}"
        if start_error := self.sandbox.start_error(launch):
            self._container_ended(pod, 128, "StartError", start_error)
            return
        argv, cwd = self.sandbox.command(launch, self._scratch_for(pod))
        process = ContainerProcess(
            argv,
            launch.env,
            cwd,
            pod.log,
            sandboxed=self.sandbox.mode == "bwrap",
            on_started=lambda: self._container_started(pod),
            on_exited=lambda code: self._container_exited(pod, code),
            on_start_failed=lambda message: self._container_failed_to_start(pod, message),
        )
        pod.process = process
        self._processes.append(process)
        process.start()

    def _scratch_for(self, pod: Pod) -> Path:
        """Where an unsandboxed container without a workingDir runs (nothing is made for bwrap)."""
        if self.sandbox.mode == "bwrap":
            return Path("/")
        if self._scratch is None:
            self._scratch = Path(tempfile.mkdtemp(prefix="k8s-standin-pods-"))
        directory = self._scratch / pod.name
        directory.mkdir(exist_ok=True)
        return directory

    def _wait(self, pod: Pod, reason: str, message: str) -> None:
        if pod.waiting != (reason, message):
            pod.waiting = (reason, message)
            pod.changed = _timestamp()
            self.touch(pod)

    def _container_started(self, pod: Pod) -> None:
        with self.lock:
            pod.waiting = None
            pod.started_at = pod.changed = _timestamp()
            pod.phase = "Running"
            self.touch(pod)
            if pod.job is not None:
                self.touch(pod.job)

    def _container_exited(self, pod: Pod, exit_code: int) -> None:
        with self.lock:
            self._container_ended(pod, exit_code, "Completed" if exit_code == 0 else "Error", "")

    def _container_failed_to_start(self, pod: Pod, message: str) -> None:
        with self.lock:
            self._container_ended(pod, 128, "StartError", message)

    def _container_ended(self, pod: Pod, exit_code: int, reason: str, message: str) -> None:
        pod.waiting = None
        pod.exit_code = exit_code
        pod.terminated_reason, pod.terminated_message = reason, message
        pod.finished_at = pod.changed = _timestamp()
        pod.phase = "Succeeded" if exit_code == 0 else "Failed"
        pod.kill_at = None
        pod.log.close()
        self.touch(pod)
        job = pod.job
        self._count(pod)
        if pod.deletion is not None:
            self._drop_pod(pod)
        elif job is not None and self.jobs.get((job.namespace, job.name)) is job:
            self.sync_job(job)

    # -- the job controller -----------------------------------------------------------------------

    def sync_job(self, job: Job) -> None:
        if job.finished is not None:
            return
        spec = job.spec
        if job.failure is None and job.succeeded < int(spec.get("completions") or 1):
            deadline = spec.get("activeDeadlineSeconds")
            if job.failed > 0:
                job.failure = ("BackoffLimitExceeded", "Job has reached the specified backoff limit")
            elif deadline is not None and job.started is not None and self.clock() - job.started >= deadline:
                job.failure = ("DeadlineExceeded", "Job was active longer than specified deadline")
            if job.failure is not None:
                job.conditions.append(job_condition("FailureTarget", *job.failure))
                self.touch(job)
        if job.failure is not None:
            for pod in [pod for pod in job.pods if not pod.terminal and pod.deletion is None]:
                self.delete_pod(pod, None)  # may drop the pod and sync this Job again
            if job.finished is None and not any(not pod.terminal for pod in job.pods):
                # 1.31 adds Failed only once no pod of the Job is still terminating.
                job.conditions.append(job_condition("Failed", *job.failure))
                self._finished(job)
        elif job.succeeded >= int(spec.get("completions") or 1) and not any(
            not pod.terminal for pod in job.pods
        ):
            job.conditions += [job_condition("SuccessCriteriaMet"), job_condition("Complete")]
            job.completion_time = job.conditions[-1]["lastTransitionTime"]
            self._finished(job)

    def _finished(self, job: Job) -> None:
        job.finished = self.clock()
        self.touch(job)

    def _count(self, pod: Pod) -> None:
        """The controller counts each pod of its Job once, when it is done or deleted unfinished."""
        if pod.job is None or pod.counted:
            return
        pod.counted = True
        if pod.phase == "Succeeded":
            pod.job.succeeded += 1
        else:
            pod.job.failed += 1
        self.touch(pod.job)

    def _drop_pod(self, pod: Pod) -> None:
        self.pods.pop((pod.namespace, pod.name), None)
        pod.log.close()
        job = pod.job
        if job is None:
            return
        self._count(pod)
        if pod in job.pods:
            job.pods.remove(pod)
        if self.jobs.get((job.namespace, job.name)) is not job:
            return
        if job.deletion is not None:
            self._finish_foreground(job)
        else:
            self.sync_job(job)

    def _finish_foreground(self, job: Job) -> None:
        if not job.pods and self.jobs.get((job.namespace, job.name)) is job:
            del self.jobs[(job.namespace, job.name)]

    def _ensure_controller(self) -> None:
        if self._controller is None and not self._stopping.is_set():
            self._controller = threading.Thread(target=self._control, name="k8s-standin-jobs", daemon=True)
            self._controller.start()

    def _control(self) -> None:
        while not self._stopping.wait(_TICK_SECONDS):
            with self.lock:
                self._tick()

    def _tick(self) -> None:
        now = self.clock()
        for pod in list(self.pods.values()):
            if pod.kill_at is not None and now >= pod.kill_at and pod.process is not None:
                pod.kill_at = None
                pod.process.kill()
            elif pod.waiting and pod.waiting[0] == "CreateContainerConfigError":
                self.start_pod(pod)
        for job in list(self.jobs.values()):
            if job.deletion is not None:
                continue
            self.sync_job(job)
            ttl = job.spec.get("ttlSecondsAfterFinished")
            if ttl is not None and job.finished is not None and now - job.finished >= ttl:
                self.delete_job(job, "Background")
