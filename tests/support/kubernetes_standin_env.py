"""What the stand-in's kubelet puts into a container: its argv, working directory and environment.

As the kubelet builds it: the "image's" environment first (``PATH``: the host's, plus the running
Python's bin directory, so ``gitops-bot``, python and the test's ``terraform`` shim resolve;
``HOME=/tmp``), ``HOSTNAME`` (the runtime's), then ``envFrom`` (Secrets, with ``prefix`` and
``optional``; keys that are no valid variable names are skipped), then ``env`` (``value``,
``valueFrom`` ``secretKeyRef`` and ``fieldRef``). Nothing else of the host's environment. What
cannot be resolved raises :class:`ContainerConfigError` with the kubelet's message. Pure.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Mapping
from typing import Any

from tests.support.kubernetes_standin_kubelet import Launch
from tests.support.kubernetes_standin_objects import NODE_IP, Pod, Secret

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_FIELD_REFS: dict[str, Callable[[Pod], str]] = {
    "metadata.name": lambda pod: pod.name,
    "metadata.namespace": lambda pod: pod.namespace,
    "metadata.uid": lambda pod: pod.uid,
    "spec.nodeName": lambda pod: str(pod.spec.get("nodeName", "")),
    "spec.serviceAccountName": lambda pod: str(pod.spec.get("serviceAccountName", "")),
    "status.hostIP": lambda pod: NODE_IP,
    "status.podIP": lambda pod: NODE_IP,
}


Secrets = Mapping[tuple[str, str], Secret]  # by (namespace, name)


class ContainerConfigError(Exception):
    """The container's configuration cannot be resolved (the kubelet's CreateContainerConfigError)."""


def container_launch(pod: Pod, secrets: Secrets) -> Launch:
    """What the kubelet runs for the pod's first container (ContainerConfigError when it cannot)."""
    container = pod.container
    env = {"PATH": _image_path(), "HOME": "/tmp", "HOSTNAME": pod.name}
    for source in container.get("envFrom") or ():
        env.update(_env_from(pod.namespace, source, secrets))
    for variable in container.get("env") or ():
        value = _env_value(pod, variable, secrets)
        if value is not None:
            env[variable["name"]] = value
    argv = [*(container.get("command") or ()), *(container.get("args") or ())]
    return Launch(argv=[str(arg) for arg in argv], env=env, working_dir=container.get("workingDir"))


def _env_from(namespace: str, source: Mapping[str, Any], secrets: Secrets) -> dict[str, str]:
    prefix = str(source.get("prefix") or "")
    if "secretRef" not in source:
        reference = source.get("configMapRef") or {}
        if reference.get("optional"):
            return {}
        raise ContainerConfigError(f'configmap "{reference.get("name", "")}" not found')
    reference = source["secretRef"]
    secret = secrets.get((namespace, reference.get("name", "")))
    if secret is None:
        if reference.get("optional"):
            return {}
        raise ContainerConfigError(f'secret "{reference.get("name", "")}" not found')
    return {
        prefix + key: value.decode("utf-8", errors="replace")
        for key, value in secret.data.items()
        if _ENV_NAME.match(prefix + key)  # the kubelet skips invalid names (and records an event)
    }


def _env_value(pod: Pod, variable: Mapping[str, Any], secrets: Secrets) -> str | None:
    if "valueFrom" not in variable:
        return str(variable.get("value", ""))
    source = variable["valueFrom"]
    if "secretKeyRef" in source:
        reference = source["secretKeyRef"]
        name, key = reference.get("name", ""), reference.get("key", "")
        secret = secrets.get((pod.namespace, name))
        if secret is None or key not in secret.data:
            if reference.get("optional"):
                return None
            if secret is None:
                raise ContainerConfigError(f'secret "{name}" not found')
            raise ContainerConfigError(f"couldn't find key {key} in Secret {pod.namespace}/{name}")
        return secret.data[key].decode("utf-8", errors="replace")
    if "fieldRef" in source and source["fieldRef"].get("fieldPath") in _FIELD_REFS:
        return _FIELD_REFS[source["fieldRef"]["fieldPath"]](pod)
    raise ContainerConfigError(f"the Kubernetes stand-in does not support this valueFrom: {dict(source)}")


def _image_path() -> str:
    """The "image's" PATH: the host's, and the running Python's bin directory (the virtualenv's,
    where ``gitops-bot`` is installed) even when the tests were started without activating it."""
    entries = os.environ.get("PATH", os.defpath).split(os.pathsep)
    interpreter_bin = os.path.dirname(sys.executable)
    return os.pathsep.join(entries if interpreter_bin in entries else [*entries, interpreter_bin])
