"""What can go wrong talking to the Kubernetes API, as exceptions whose messages say what to do."""

from __future__ import annotations


class KubernetesError(Exception):
    """The Kubernetes API could not be used; the message says why and what to do."""


class KubernetesConfigError(KubernetesError, ValueError):
    """The connection parameters (host, kubeconfig, in-cluster environment) are unusable."""


class KubernetesAccessDenied(KubernetesError):
    """401 or 403: the credentials are wrong, or RBAC does not let the bot read the Deployment."""

    def __init__(self, message: str, *, status: int, namespace: str, name: str) -> None:
        super().__init__(message)
        self.status = status
        self.namespace = namespace
        self.name = name


class KubernetesUnavailable(KubernetesError):
    """The API could not be reached, timed out, or answered 429/5xx — worth retrying later."""
