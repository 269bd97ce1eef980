"""The Job the bot asks for: what the pod gets, and what it never gets."""

from __future__ import annotations

import re

import pytest

from bot.adapters.terraform_jobs.manifest import (
    JobSettings,
    env_secret_for,
    job_manifest,
    job_name_prefix,
    run_key,
)

SETTINGS = JobSettings(
    namespace="terraform-runs",
    image="ghcr.io/acme/gitops-bot:1.2.3",
    service_account="terraform-runner",
    env_secret="cloud-default",
    env_secrets={"acme/infra:prod": "cloud-prod", "acme/other": "cloud-other"},
    resources={"requests": {"cpu": "500m"}, "limits": {"memory": "2Gi"}},
    node_selector={"pool": "terraform"},
    tolerations=({"key": "dedicated", "operator": "Equal", "value": "terraform", "effect": "NoSchedule"},),
    keep_seconds=600,
)


def manifest(**overrides: object) -> dict:
    arguments: dict = {
        "name": "tf-plan-infra-prod-17",
        "run_id": 17,
        "operation": "plan",
        "spec_json": '{"version": 1}',
        "callback_url": "http://bot.gitops.svc:8080/internal/terraform-jobs/17",
        "token": "one-time-token",
        "env_secret": "cloud-prod",
        "deadline_seconds": 3000,
    }
    arguments.update(overrides)
    return job_manifest(SETTINGS, **arguments)


def container(job: dict) -> dict:
    (only,) = job["spec"]["template"]["spec"]["containers"]
    return only


def test_the_pod_runs_the_bots_image_once_with_its_run_and_nothing_of_the_bots() -> None:
    job = manifest()
    assert job["metadata"] == {
        "name": "tf-plan-infra-prod-17",
        "namespace": "terraform-runs",
        "labels": {
            "app.kubernetes.io/managed-by": "gitops-bot",
            "app.kubernetes.io/component": "terraform",
            "gitops-bot/run-id": "17",
            "gitops-bot/operation": "plan",
        },
    }
    spec = job["spec"]
    limits = (spec["backoffLimit"], spec["activeDeadlineSeconds"], spec["ttlSecondsAfterFinished"])
    assert limits == (0, 3000, 600)
    pod = spec["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    assert pod["automountServiceAccountToken"] is False  # Terraform cannot talk to the cluster as anyone
    assert pod["serviceAccountName"] == "terraform-runner"
    assert pod["nodeSelector"] == {"pool": "terraform"} and pod["tolerations"][0]["value"] == "terraform"
    terraform = container(job)
    assert terraform["image"] == "ghcr.io/acme/gitops-bot:1.2.3"
    assert terraform["command"] == ["gitops-bot", "terraform-job"]
    env = {item["name"]: item["value"] for item in terraform["env"]}
    assert env["GITOPS_BOT_JOB_URL"].endswith("/internal/terraform-jobs/17")
    assert env["GITOPS_BOT_JOB_TOKEN"] == "one-time-token"
    bots = [name for name in env if name.startswith("GITOPS_BOT_") and not name.startswith("GITOPS_BOT_JOB_")]
    assert bots == []
    assert terraform["envFrom"] == [{"secretRef": {"name": "cloud-prod"}}]
    assert terraform["resources"] == {"requests": {"cpu": "500m"}, "limits": {"memory": "2Gi"}}
    assert terraform["securityContext"]["readOnlyRootFilesystem"] is True
    assert terraform["volumeMounts"] == [{"name": "work", "mountPath": "/tmp"}]


def test_without_a_secret_or_options_the_manifest_leaves_them_out() -> None:
    bare = JobSettings(namespace="runs", image="bot:1")
    job = job_manifest(
        bare,
        name="n-1",
        run_id=1,
        operation="apply",
        spec_json="{}",
        callback_url="http://bot/internal/terraform-jobs/1",
        token="t",
        env_secret=None,
        deadline_seconds=10,
    )
    pod = job["spec"]["template"]["spec"]
    assert "serviceAccountName" not in pod and "nodeSelector" not in pod and "tolerations" not in pod
    assert "envFrom" not in container(job) and "resources" not in container(job)


@pytest.mark.parametrize(
    ("repo", "project", "expected"),
    [
        ("acme/infra", "prod", "cloud-prod"),  # the project's own
        ("acme/other", "anything", "cloud-other"),  # the repository's
        ("acme/infra", "staging", "cloud-default"),  # the default
    ],
)
def test_the_secret_is_chosen_server_side(repo: str, project: str, expected: str) -> None:
    assert env_secret_for(SETTINGS, repo, project) == expected


@pytest.mark.parametrize(
    ("repo", "project", "operation"),
    [
        ("acme/infra", "terraform/staging", "plan"),
        ("Acme/Infra_Repo", "a" * 80, "apply"),
        ("acme/x", "--weird..name--", "plan"),
    ],
)
def test_job_names_are_short_dns_labels(repo: str, project: str, operation: str) -> None:
    prefix = job_name_prefix(repo, project, operation)  # type: ignore[arg-type]
    name = f"{prefix}-{10**9}"
    assert len(name) <= 63 and re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", name), name


def test_a_run_key_names_one_operation_of_one_project_at_one_head() -> None:
    key = run_key("acme/infra", 7, "abc", "staging", "default", "plan")
    assert key == run_key("acme/infra", 7, "abc", "staging", "default", "plan")
    others = {
        run_key("acme/infra", 7, "abd", "staging", "default", "plan"),
        run_key("acme/infra", 7, "abc", "staging", "default", "apply"),
        run_key("acme/infra", 8, "abc", "staging", "default", "plan"),
        run_key("acme/infra", 7, "abc", "prod", "default", "plan"),
    }
    assert key not in others and len(others) == 4
