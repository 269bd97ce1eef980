"""Building the client configuration: one explicit source, no process-wide side effects."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s_client

from bot.adapters.kubernetes import KubernetesConfigError, KubernetesReadiness, build_configuration


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "exactly one way to reach the Kubernetes API.*got none"),
        ({"host": "http://a", "in_cluster": True}, "got in_cluster, host"),
        ({"host": "http://a", "kubeconfig": "k"}, "got kubeconfig, host"),
        ({"kubeconfig": "k", "token": "t"}, "token, ca_cert and verify_ssl apply only together with host"),
        ({"in_cluster": True, "verify_ssl": False}, "apply only together with host"),
        ({"host": "http://a", "context": "c"}, "context applies only together with a kubeconfig"),
        ({"host": "kubernetes.default.svc"}, "must be an http:// or https:// URL"),
        ({"host": "https://a", "ca_cert": "/nonexistent/ca.crt"}, "CA certificate file .* does not exist"),
        ({"kubeconfig": "/nonexistent/kubeconfig"}, "kubeconfig file .* does not exist"),
    ],
)
def test_bad_parameters_are_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(KubernetesConfigError, match=message):
        build_configuration(**kwargs)


def test_host_token_and_ca(tmp_path: Path) -> None:
    ca = tmp_path / "ca.crt"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    configuration = build_configuration(host="https://10.0.0.1:6443/", token="s3cret", ca_cert=ca)
    assert configuration.host == "https://10.0.0.1:6443"
    assert configuration.ssl_ca_cert == str(ca)
    assert configuration.verify_ssl is True
    assert configuration.auth_settings()["BearerToken"]["value"] == "Bearer s3cret"


def test_verify_flag_and_no_token() -> None:
    configuration = build_configuration(host="https://127.0.0.1:6443", verify_ssl=False)
    assert configuration.verify_ssl is False
    assert configuration.auth_settings() == {}


def test_instances_do_not_touch_the_client_default() -> None:
    before = k8s_client.Configuration.get_default_copy().host
    first = KubernetesReadiness(host="http://127.0.0.1:1")
    second = KubernetesReadiness(host="http://127.0.0.1:2")
    assert (first.host, second.host) == ("http://127.0.0.1:1", "http://127.0.0.1:2")
    assert k8s_client.Configuration.get_default_copy().host == before
    first.close()
    second.close()


def test_kubeconfig_that_is_not_a_kubeconfig(tmp_path: Path) -> None:
    path = tmp_path / "kubeconfig"
    path.write_text("apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n")
    with pytest.raises(KubernetesConfigError, match="cannot load kubeconfig"):
        build_configuration(kubeconfig=path)


@pytest.mark.skipif("KUBERNETES_SERVICE_HOST" in os.environ, reason="running inside a Kubernetes pod")
def test_in_cluster_outside_a_cluster_says_so() -> None:
    with pytest.raises(KubernetesConfigError, match=r"in-cluster.*Service host/port is not set"):
        build_configuration(in_cluster=True)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"timeout_seconds": 0}, "timeout_seconds must be positive"),
        ({"timeout_seconds": 1, "poll_seconds": 0}, "poll_seconds must be positive"),
    ],
)
def test_wait_arguments_are_checked(kwargs: dict[str, Any], message: str) -> None:
    with (
        KubernetesReadiness(host="http://127.0.0.1:1") as readiness,
        pytest.raises(ValueError, match=message),
    ):
        readiness.wait_for_rollout("serving", "chat-llm", "1.2.0", **kwargs)


@pytest.mark.parametrize(("namespace", "name"), [("", "chat"), ("serving", ""), ("serving", "a/b")])
def test_names_are_checked(namespace: str, name: str) -> None:
    with (
        KubernetesReadiness(host="http://127.0.0.1:1") as readiness,
        pytest.raises(ValueError, match="non-empty"),
    ):
        readiness.read_deployment(namespace, name)
