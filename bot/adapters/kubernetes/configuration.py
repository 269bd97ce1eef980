"""A fresh ``kubernetes.client.Configuration`` per readiness gate, from exactly one source.

The configuration is loaded with the ``client_configuration=`` forms of ``load_kube_config`` and
``load_incluster_config``, so nothing touches the client library's process-wide default and one
process can watch several clusters.
"""

from __future__ import annotations

import os

from kubernetes import client as k8s_client
from kubernetes import config as k8s_config
from kubernetes.config.config_exception import ConfigException

from bot.adapters.kubernetes.errors import KubernetesConfigError


def build_configuration(
    *,
    in_cluster: bool = False,
    kubeconfig: str | os.PathLike[str] | None = None,
    context: str | None = None,
    host: str | None = None,
    token: str | None = None,
    ca_cert: str | os.PathLike[str] | None = None,
    verify_ssl: bool = True,
) -> k8s_client.Configuration:
    """A fresh ``Configuration`` from exactly one source: ``in_cluster``, ``kubeconfig`` (+ optional
    ``context``), or ``host`` (+ optional bearer ``token``, ``ca_cert`` file, ``verify_ssl``)."""
    _check_one_source(
        in_cluster=in_cluster,
        kubeconfig=kubeconfig,
        context=context,
        host=host,
        host_options_given=token is not None or ca_cert is not None or not verify_ssl,
    )
    configuration = k8s_client.Configuration()
    if in_cluster:
        _load_in_cluster(configuration)
    elif kubeconfig is not None:
        _load_kubeconfig(configuration, os.fspath(kubeconfig), context)
    else:
        assert host is not None
        _configure_host(configuration, host, token=token, ca_cert=ca_cert, verify_ssl=verify_ssl)
    # The wait loop retries until its deadline; urllib3's own retries would only stretch a single
    # request past it.
    configuration.retries = 1
    return configuration


def _check_one_source(
    *,
    in_cluster: bool,
    kubeconfig: str | os.PathLike[str] | None,
    context: str | None,
    host: str | None,
    host_options_given: bool,
) -> None:
    sources = [
        name
        for name, given in (
            ("in_cluster", in_cluster),
            ("kubeconfig", kubeconfig is not None),
            ("host", host is not None),
        )
        if given
    ]
    if len(sources) != 1:
        raise KubernetesConfigError(
            "give exactly one way to reach the Kubernetes API: in_cluster=True, a kubeconfig path, "
            f"or a host URL (got {', '.join(sources) if sources else 'none'})"
        )
    if host is None and host_options_given:
        raise KubernetesConfigError("token, ca_cert and verify_ssl apply only together with host")
    if context is not None and kubeconfig is None:
        raise KubernetesConfigError("context applies only together with a kubeconfig path")


def _load_in_cluster(configuration: k8s_client.Configuration) -> None:
    try:
        k8s_config.load_incluster_config(client_configuration=configuration)
    except ConfigException as error:
        raise KubernetesConfigError(
            f"cannot use the in-cluster Kubernetes configuration ({error}); is the bot running in "
            "a pod with a service account token mounted?"
        ) from error


def _load_kubeconfig(configuration: k8s_client.Configuration, path: str, context: str | None) -> None:
    if not os.path.isfile(path):
        raise KubernetesConfigError(f"kubeconfig file {path} does not exist")
    try:
        # persist_config=False: never write refreshed credentials back into the operator's file.
        k8s_config.load_kube_config(
            config_file=path, context=context, client_configuration=configuration, persist_config=False
        )
    except (ConfigException, OSError, ValueError) as error:
        raise KubernetesConfigError(f"cannot load kubeconfig {path}: {error}") from error


def _configure_host(
    configuration: k8s_client.Configuration,
    host: str,
    *,
    token: str | None,
    ca_cert: str | os.PathLike[str] | None,
    verify_ssl: bool,
) -> None:
    url = host.strip().rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise KubernetesConfigError(f"Kubernetes API host must be an http:// or https:// URL, got {host!r}")
    configuration.host = url
    if token:
        configuration.api_key = {"BearerToken": token}
        configuration.api_key_prefix = {"BearerToken": "Bearer"}
    if ca_cert is not None:
        ca_path = os.fspath(ca_cert)
        if not os.path.isfile(ca_path):
            raise KubernetesConfigError(f"CA certificate file {ca_path} does not exist")
        configuration.ssl_ca_cert = ca_path
    configuration.verify_ssl = verify_ssl
