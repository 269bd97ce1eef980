"""Is a Deployment's rollout of a given version finished? A pure function over the API object.

:func:`rollout_status` follows ``kubectl rollout status`` exactly (kubectl's ``DeploymentStatusViewer``
in ``k8s.io/kubectl/pkg/polymorphichelpers/rollout_status.go``), in kubectl's order:

1. ``metadata.generation > status.observedGeneration`` → waiting: the controller has not seen the
   latest spec, so every other status field describes an older spec.
2. the ``Progressing`` condition has reason ``ProgressDeadlineExceeded`` → **failed** (kubectl exits
   with an error here; waiting longer does not help until the spec changes).
3. ``spec.replicas`` is set and ``status.updatedReplicas < spec.replicas`` → waiting.
4. ``status.replicas > status.updatedReplicas`` → waiting for old replicas to terminate.
5. ``status.availableReplicas < status.updatedReplicas`` → waiting for availability.
6. otherwise → done.

One check comes first, before kubectl's: the expected version must be in the pod template. A
GitOps merge only changes git; Argo CD or Flux applies it later, and until then the Deployment
still describes the previous version — which kubectl would happily report as "successfully rolled
out". The version is recognised when a container's image runs it (:func:`image_runs_version`), or a
pod-template label or annotation named by the caller carries it exactly. Checking it first also
keeps an earlier version's stuck rollout (``ProgressDeadlineExceeded``) from being blamed on a
version the cluster has not received yet.

The API omits zero-valued status fields (``omitempty``), so a missing count is 0, as in Go.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

# The reason the deployment controller puts on the Progressing condition when
# spec.progressDeadlineSeconds passes without progress (deploymentutil.TimedOutReason).
PROGRESS_DEADLINE_EXCEEDED = "ProgressDeadlineExceeded"
# The annotation the deployment controller keeps the current rollout revision in.
REVISION_ANNOTATION = "deployment.kubernetes.io/revision"


class InvalidDeploymentObject(ValueError):
    """The mapping is not an ``apps/v1`` Deployment as the API serves it; the message says where."""


class RolloutPhase(StrEnum):
    DONE = "done"
    WAITING = "waiting"
    """Progressing, or the expected version is not in the Deployment yet."""
    FAILED = "failed"
    """``ProgressDeadlineExceeded``: the controller gave up on this rollout."""
    NOT_FOUND = "not_found"
    """The API answered 404 (only from the adapter; a GitOps sync may still create it)."""
    UNREACHABLE = "unreachable"
    """The API could not be reached or answered 5xx/429 (only from the adapter)."""


@dataclass(frozen=True)
class RolloutStatus:
    """One look at a Deployment's rollout. Counts are the ``status`` fields, 0 when absent.

    ``replicas`` is ``status.replicas`` (all pods of every ReplicaSet, old ones included);
    ``desired_replicas`` is ``spec.replicas`` (None when the object leaves it unset).
    ``image`` is the image of the container that was checked (the named container, else the one
    running the expected version, else the first). ``version_seen`` is None when no version was
    expected. ``timed_out`` is set only by the adapter's wait when its deadline passed first.
    """

    phase: RolloutPhase
    reason: str
    namespace: str | None = None
    name: str | None = None
    expected_version: str | None = None
    version_seen: bool | None = None
    generation: int = 0
    observed_generation: int = 0
    desired_replicas: int | None = None
    replicas: int = 0
    updated_replicas: int = 0
    ready_replicas: int = 0
    available_replicas: int = 0
    unavailable_replicas: int = 0
    image: str | None = None
    revision: str | None = None
    timed_out: bool = False

    @property
    def done(self) -> bool:
        return self.phase is RolloutPhase.DONE

    @property
    def failed(self) -> bool:
        return self.phase is RolloutPhase.FAILED

    @property
    def display_name(self) -> str:
        """``namespace/name`` as people write it (``name`` alone without a namespace)."""
        if self.namespace and self.name:
            return f"{self.namespace}/{self.name}"
        return self.name or "<unnamed>"


def image_runs_version(image: str, version: str) -> bool:
    """Whether the container image reference ``image`` runs ``version``.

    ``version`` is what the bot wrote into git, in any of the target formats: a tag (``1.2.3``), a
    digest (``sha256:…``), ``tag@digest``, or a whole reference (``registry/app:1.2.3``, optionally
    ``@sha256:…``). A digest on both sides decides alone: it names the content.
    """
    image, version = image.strip(), version.strip()
    if not image or not version:
        return False
    if image == version:
        return True
    remainder, _, digest = image.partition("@")
    tag = None
    last_slash, last_colon = remainder.rfind("/"), remainder.rfind(":")
    if last_colon > last_slash:
        tag = remainder[last_colon + 1 :]
    wanted_rest, at, wanted_digest = version.partition("@")
    if at:
        if digest and wanted_digest == digest:
            return True
        # "tag@digest" against an image without a digest: the tag must still match.
        return not digest and "/" not in wanted_rest and wanted_rest == tag
    if digest and version == digest:
        return True
    return tag is not None and version == tag


def rollout_status(
    deployment_obj: Mapping[str, Any],
    expected_version: str | None,
    container: str | None = None,
    *,
    version_label: str | None = None,
    version_annotation: str | None = None,
) -> RolloutStatus:
    """Classify ``deployment_obj`` (the JSON of an ``apps/v1`` Deployment) — see the module docs.

    ``container`` restricts the version check to that container of the pod template;
    ``version_label``/``version_annotation`` name a pod-template label/annotation whose value is
    the version (for charts that tag pods with it, e.g. ``app.kubernetes.io/version``).
    Raises :class:`InvalidDeploymentObject` when the object is not shaped like a Deployment.
    """
    _check_kind(deployment_obj)
    metadata = _mapping(deployment_obj, "metadata")
    spec = _mapping(deployment_obj, "spec")
    status = _mapping(deployment_obj, "status")
    template = _mapping(spec, "template", "spec.")
    template_metadata = _mapping(template, "metadata", "spec.template.")
    containers = _containers(_mapping(template, "spec", "spec.template."))

    name = _optional_str(metadata, "name", "metadata.")
    namespace = _optional_str(metadata, "namespace", "metadata.")
    shown = f"{namespace}/{name}" if namespace and name else (name or "<unnamed>")
    annotations = _string_map(metadata, "annotations", "metadata.")

    version_seen, image, version_reason = _find_version(
        containers,
        expected_version,
        container,
        labels=_string_map(template_metadata, "labels", "spec.template.metadata."),
        annotations=_string_map(template_metadata, "annotations", "spec.template.metadata."),
        version_label=version_label,
        version_annotation=version_annotation,
    )
    counts = _Counts.read(metadata, spec, status)
    phase, reason = _classify(shown, version_reason, counts, _condition(status, "Progressing"))
    return RolloutStatus(
        phase=phase,
        reason=reason,
        namespace=namespace,
        name=name,
        expected_version=expected_version,
        version_seen=version_seen,
        generation=counts.generation,
        observed_generation=counts.observed,
        desired_replicas=counts.desired,
        replicas=counts.replicas,
        updated_replicas=counts.updated,
        ready_replicas=_count(status, "readyReplicas", "status."),
        available_replicas=counts.available,
        unavailable_replicas=_count(status, "unavailableReplicas", "status."),
        image=image,
        revision=annotations.get(REVISION_ANNOTATION),
    )


def _check_kind(deployment_obj: object) -> None:
    if not isinstance(deployment_obj, Mapping):
        raise InvalidDeploymentObject(f"expected a Deployment object (a mapping), got {type(deployment_obj)}")
    kind = deployment_obj.get("kind")
    if kind is not None and kind != "Deployment":
        raise InvalidDeploymentObject(f"expected kind Deployment, got {kind!r}")


@dataclass(frozen=True)
class _Counts:
    """The generation and replica counts kubectl's checks compare."""

    generation: int
    observed: int
    desired: int | None
    replicas: int
    updated: int
    available: int

    @classmethod
    def read(cls, metadata: Mapping[str, Any], spec: Mapping[str, Any], status: Mapping[str, Any]) -> _Counts:
        return cls(
            generation=_count(metadata, "generation", "metadata."),
            observed=_count(status, "observedGeneration", "status."),
            desired=_count(spec, "replicas", "spec.") if spec.get("replicas") is not None else None,
            replicas=_count(status, "replicas", "status."),
            updated=_count(status, "updatedReplicas", "status."),
            available=_count(status, "availableReplicas", "status."),
        )


def _classify(
    shown: str,
    version_reason: str | None,
    counts: _Counts,
    progressing: Mapping[str, Any] | None,
) -> tuple[RolloutPhase, str]:
    generation, observed, desired = counts.generation, counts.observed, counts.desired
    replicas, updated, available = counts.replicas, counts.updated, counts.available
    if version_reason is not None:
        return RolloutPhase.WAITING, version_reason
    # kubectl: `if deployment.Generation <= deployment.Status.ObservedGeneration { ... }`.
    if generation > observed:
        return (
            RolloutPhase.WAITING,
            f"waiting for deployment {shown} spec update to be observed "
            f"(generation {generation}, observed {observed})",
        )
    if progressing is not None and progressing.get("reason") == PROGRESS_DEADLINE_EXCEEDED:
        message = progressing.get("message")
        detail = f": {message}" if isinstance(message, str) and message else ""
        return RolloutPhase.FAILED, f"deployment {shown} exceeded its progress deadline{detail}"
    if desired is not None and updated < desired:
        return (
            RolloutPhase.WAITING,
            f"waiting for deployment {shown} rollout to finish: "
            f"{updated} out of {desired} new replicas have been updated",
        )
    if replicas > updated:
        return (
            RolloutPhase.WAITING,
            f"waiting for deployment {shown} rollout to finish: "
            f"{replicas - updated} old replicas are pending termination",
        )
    if available < updated:
        return (
            RolloutPhase.WAITING,
            f"waiting for deployment {shown} rollout to finish: "
            f"{available} of {updated} updated replicas are available",
        )
    return RolloutPhase.DONE, f"deployment {shown} successfully rolled out"


def _find_version(
    containers: Sequence[tuple[str | None, str | None]],
    expected_version: str | None,
    container: str | None,
    *,
    labels: Mapping[str, str],
    annotations: Mapping[str, str],
    version_label: str | None,
    version_annotation: str | None,
) -> tuple[bool | None, str | None, str | None]:
    """``(version_seen, image, reason-if-not-seen)``."""
    candidates = list(containers)
    if container is not None:
        candidates = [entry for entry in containers if entry[0] == container]
        if not candidates and expected_version is not None:
            names = ", ".join(repr(entry[0]) for entry in containers) or "none"
            return (
                False,
                None,
                f"the Deployment does not run {expected_version} yet: its pod template has no "
                f"container named {container!r} (containers: {names})",
            )
    first_image = candidates[0][1] if candidates else None
    if expected_version is None:
        return None, first_image, None
    for _, image in candidates:
        if image is not None and image_runs_version(image, expected_version):
            return True, image, None
    if version_label is not None and labels.get(version_label) == expected_version:
        return True, first_image, None
    if version_annotation is not None and annotations.get(version_annotation) == expected_version:
        return True, first_image, None
    seen = [image for _, image in candidates if image]
    running = f" (the pod template runs {', '.join(seen)})" if seen else ""
    return False, first_image, f"the Deployment does not run {expected_version} yet{running}"


def _mapping(parent: Mapping[str, Any], key: str, prefix: str = "") -> Mapping[str, Any]:
    value = parent.get(key)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidDeploymentObject(f"{prefix}{key} must be an object, got {type(value).__name__}")
    return value


def _count(parent: Mapping[str, Any], key: str, prefix: str) -> int:
    value = parent.get(key, 0)
    if value is None:
        return 0
    # bool is an int in Python but never a count in the API.
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidDeploymentObject(f"{prefix}{key} must be an integer, got {value!r}")
    return value


def _optional_str(parent: Mapping[str, Any], key: str, prefix: str) -> str | None:
    value = parent.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidDeploymentObject(f"{prefix}{key} must be a string, got {value!r}")
    return value


def _string_map(parent: Mapping[str, Any], key: str, prefix: str) -> Mapping[str, str]:
    value = _mapping(parent, key, prefix)
    return {str(k): v for k, v in value.items() if isinstance(v, str)}


def _containers(pod_spec: Mapping[str, Any]) -> list[tuple[str | None, str | None]]:
    raw = pod_spec.get("containers")
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise InvalidDeploymentObject("spec.template.spec.containers must be a list")
    found: list[tuple[str | None, str | None]] = []
    for index, entry in enumerate(raw):
        if not isinstance(entry, Mapping):
            raise InvalidDeploymentObject(f"spec.template.spec.containers[{index}] must be an object")
        prefix = f"spec.template.spec.containers[{index}]."
        found.append((_optional_str(entry, "name", prefix), _optional_str(entry, "image", prefix)))
    return found


def _condition(status: Mapping[str, Any], condition_type: str) -> Mapping[str, Any] | None:
    conditions = status.get("conditions")
    if conditions is None:
        return None
    if not isinstance(conditions, list):
        raise InvalidDeploymentObject("status.conditions must be a list")
    for condition in conditions:
        if isinstance(condition, Mapping) and condition.get("type") == condition_type:
            return condition
    return None
