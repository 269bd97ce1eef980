"""deploy/helm/gitops-bot: valid YAML and schema, every value documented, and rendered by real Helm.

The renderer is Helm itself (v4, as a shared library from the ``helm-python-sdk`` wheel):
``Chart.render`` is ``helm template``, ``lint`` is ``helm lint``, and values are checked
against values.schema.json by Helm's own validator.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.settings import Settings
from tests.support.requirements import require

CHART = Path(__file__).resolve().parents[3] / "deploy" / "helm" / "gitops-bot"

try:
    from helm_python.chart import Chart, lint
    from helm_python.errors import HelmError
except ImportError:  # pragma: no cover - the test extra installs it
    Chart = None  # type: ignore[assignment,misc]

ALL_ON: dict[str, Any] = {
    "ingress": {"enabled": True, "className": "nginx", "host": "bot.example.com"},
    "metrics": {"serviceMonitor": {"enabled": True}, "prometheusRule": {"enabled": True}},
    "grafana": {"dashboard": {"enabled": True}},
    "rbac": {"watchNamespaces": ["serving-staging", "serving-prod"]},
    "worker": {"replicaCount": 2},
    "persistence": {"enabled": True},
    "workersInServePods": False,
    "config": {"GITOPS_REPOS": "acme/serving-config"},
}


def _helm() -> Any:
    require(Chart is not None, "Helm (pip install helm-python-sdk)")
    return Chart.load(CHART)


def _render(values: dict[str, Any] | None = None) -> dict[str, list[dict[str, Any]]]:
    out = _helm().render(values, name="bot", namespace="ops", is_install=True)
    docs: dict[str, list[dict[str, Any]]] = {}
    for path, text in out.items():
        if path.endswith("NOTES.txt"):
            continue
        docs[path.rsplit("/", 1)[-1]] = [d for d in yaml.safe_load_all(text) if d]
    return docs


def _kinds(docs: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    kinds: dict[str, list[dict[str, Any]]] = {}
    for items in docs.values():
        for item in items:
            kinds.setdefault(item["kind"], []).append(item)
    return kinds


def test_chart_yaml_and_values_parse_and_the_schema_is_json() -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["apiVersion"] == "v2" and chart["name"] == "gitops-bot"
    assert isinstance(yaml.safe_load((CHART / "values.yaml").read_text()), dict)
    schema = json.loads((CHART / "values.schema.json").read_text())
    assert schema["type"] == "object" and schema["additionalProperties"] is False


def _leaves(schema: dict[str, Any], prefix: str = "") -> list[tuple[str, dict[str, Any]]]:
    out = []
    for key, sub in schema.get("properties", {}).items():
        path = f"{prefix}{key}"
        out.append((path, sub))
        out.extend(_leaves(sub, path + "."))
    return out


def _line_of(lines: list[str], path: str) -> int:
    """The line of a dotted key in values.yaml: each part under the previous one, two spaces deeper
    (``terraform.jobs.image`` is not the top-level ``image``)."""
    index = -1
    for depth, key in enumerate(path.split(".")):
        pattern = re.compile(rf"^{'  ' * depth}{re.escape(key)}:")
        index = next(i for i in range(index + 1, len(lines)) if pattern.match(lines[i]))
    return index


def test_every_value_is_documented_in_the_file_and_the_schema() -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    schema = json.loads((CHART / "values.schema.json").read_text())
    documented = dict(_leaves(schema))
    lines = (CHART / "values.yaml").read_text().splitlines()

    def walk(node: dict[str, Any], prefix: str = "") -> None:
        for key, value in node.items():
            path = f"{prefix}{key}"
            assert path in documented, f"{path} is not in values.schema.json"
            assert documented[path].get("description"), f"{path} has no description in the schema"
            if isinstance(value, dict) and "properties" in documented[path]:
                walk(value, path + ".")
            elif not isinstance(value, dict) or documented[path].get("additionalProperties") is False:
                # a leaf: a "# --" comment in values.yaml says what it is
                index = _line_of(lines, path)
                above = lines[index - 1].strip() if index else ""
                assert above.startswith("#"), f"{path} has no comment above it in values.yaml"

    walk(values)
    for path, _ in _leaves(schema):
        node: Any = values
        for part in path.split("."):
            assert isinstance(node, dict) and part in node, f"schema names {path}, values.yaml does not"
            node = node[part]


def test_values_hold_no_credentials() -> None:
    text = (CHART / "values.yaml").read_text()
    assert not re.search(r"(ghp_|github_pat_|xox[bap]-[0-9]|-----BEGIN)", text)
    values = yaml.safe_load(text)
    assert not any(re.search(r"SECRET|TOKEN|PASSWORD|KEY", name) for name in values["config"])


def test_helm_lint_finds_no_error() -> None:
    _helm()
    for values in (None, ALL_ON):
        report = lint(CHART, values, strict=False)
        assert not report["errors"], report
        assert not [m for m in report["messages"] if m["severity"] >= 3], report


def test_default_render_has_probes_migrations_and_secret_refs() -> None:
    kinds = _kinds(_render())
    assert set(kinds) == {
        "Deployment",
        "Service",
        "ServiceAccount",
        "Role",
        "RoleBinding",
        "PodDisruptionBudget",
    }
    (deployment,) = kinds["Deployment"]
    spec = deployment["spec"]["template"]["spec"]
    assert deployment["spec"]["replicas"] == 2
    (init,) = spec["initContainers"]
    assert init["args"] == ["migrate"]
    (bot,) = spec["containers"]
    assert bot["args"][0] == "serve" and "--no-workers" not in bot["args"]
    assert bot["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert bot["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert bot["resources"]["requests"]["cpu"] == "250m"
    assert bot["securityContext"]["readOnlyRootFilesystem"] is True
    assert spec["securityContext"]["runAsNonRoot"] is True
    mounts = {m["mountPath"] for m in bot["volumeMounts"]}
    assert {"/var/lib/gitops-bot", "/tmp"} <= mounts

    fields = {f"GITOPS_BOT_{name.upper()}" for name in Settings.model_fields}
    credentials = set()
    for env in bot["env"]:
        assert env["name"] in fields, f"{env['name']} is not a setting"
        if re.search(r"TOKEN|SECRET|PRIVATE_KEY|DATABASE_URL|APP_ID", env["name"]):
            assert "value" not in env and "secretKeyRef" in env["valueFrom"], env
            credentials.add(env["name"])
    assert credentials == {
        "GITOPS_BOT_DATABASE_URL",
        "GITOPS_BOT_GITHUB_TOKEN",
        "GITOPS_BOT_GITHUB_APP_ID",
        "GITOPS_BOT_GITHUB_APP_PRIVATE_KEY",
        "GITOPS_BOT_GITLAB_TOKEN",
        "GITOPS_BOT_GITLAB_WEBHOOK_SECRET",
        "GITOPS_BOT_GITHUB_WEBHOOK_SECRET",
        "GITOPS_BOT_REGISTRY_TOKEN",
        "GITOPS_BOT_MLFLOW_WEBHOOK_SECRET",
        "GITOPS_BOT_SLACK_SIGNING_SECRET",
        "GITOPS_BOT_SLACK_BOT_TOKEN",
        "GITOPS_BOT_CONSOLE_TOKEN",
        "GITOPS_BOT_CONSOLE_SESSION_SECRET",
        "GITOPS_BOT_GITHUB_OAUTH_CLIENT_SECRET",
    }
    (role,) = kinds["Role"]
    assert role["metadata"]["namespace"] == "ops"
    assert role["rules"] == [
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["get", "create", "update"]}
    ]


def test_everything_on_renders_ingress_tls_rbac_per_namespace_and_monitoring() -> None:
    kinds = _kinds(_render(ALL_ON))
    (ingress,) = kinds["Ingress"]
    assert ingress["spec"]["tls"] == [{"hosts": ["bot.example.com"], "secretName": "gitops-bot-tls"}]
    paths = [p["path"] for p in ingress["spec"]["rules"][0]["http"]["paths"]]
    assert paths == ["/webhooks", "/slack"]
    readers = [r for r in kinds["Role"] if r["metadata"]["name"].endswith("read-deployments")]
    assert sorted(r["metadata"]["namespace"] for r in readers) == ["serving-prod", "serving-staging"]
    for reader in readers:
        assert reader["rules"] == [
            {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "list", "watch"]}
        ]
    for kind in ("Role", "RoleBinding"):
        for item in kinds[kind]:
            assert item["kind"] != "ClusterRole"
    assert "ClusterRole" not in kinds and "ClusterRoleBinding" not in kinds
    assert kinds["ServiceMonitor"][0]["spec"]["endpoints"][0]["path"] == "/metrics"
    exprs = [r["expr"] for g in kinds["PrometheusRule"][0]["spec"]["groups"] for r in g["rules"]]
    assert any("gitops_bot_queue_depth" in e for e in exprs)
    deployments = {d["metadata"]["name"]: d for d in kinds["Deployment"]}
    worker = deployments["bot-gitops-bot-worker"]["spec"]
    assert worker["replicas"] == 2
    assert worker["template"]["spec"]["containers"][0]["args"] == ["worker"]
    server = deployments["bot-gitops-bot"]["spec"]["template"]["spec"]
    assert "--no-workers" in server["containers"][0]["args"]
    env = {e["name"]: e.get("value") for e in server["containers"][0]["env"]}
    assert env["GITOPS_BOT_GITOPS_REPOS"] == "acme/serving-config"
    assert env["GITOPS_BOT_KUBERNETES_IN_CLUSTER"] == "true"
    assert server["volumes"][0]["persistentVolumeClaim"]["claimName"] == "bot-gitops-bot-data"
    assert "PersistentVolumeClaim" in kinds


def test_notes_list_the_webhook_urls() -> None:
    notes = _helm().render(ALL_ON, name="bot", namespace="ops", is_install=True)[
        "gitops-bot/templates/NOTES.txt"
    ]
    for path in (
        "/webhooks/github",
        "/webhooks/registry",
        "/webhooks/mlflow",
        "/webhooks/alertmanager",
        "/slack/commands",
        "/slack/interactions",
    ):
        assert f"https://bot.example.com{path}" in notes


@pytest.mark.parametrize(
    "values",
    [
        {"replicaCount": "two"},
        {"replicaCount": 0},
        {"service": {"type": "Internal"}},
        {"config": {"github_token": "x"}},
        {"database": {"existingSecret": ""}},
        {"githubToken": "ghp_plaintext"},
        {"rbac": {"watchNamespaces": ["Not_A_Namespace"]}},
    ],
)
def test_the_schema_refuses_bad_values(values: dict[str, Any]) -> None:
    chart = _helm()
    with pytest.raises(HelmError):
        chart.validate_schema(chart.merge_values(values))


# --- the Terraform sandbox -------------------------------------------------------------------

SANDBOX_WORKER = {"worker": {"replicaCount": 1}}


def _terraform_containers(values: dict[str, Any]) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """(pod spec, container) of each container that runs Terraform: the bot and the worker."""
    kinds = _kinds(_render({**SANDBOX_WORKER, **values}))
    found = {}
    for deployment in kinds["Deployment"]:
        pod = deployment["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        found[container["name"]] = (pod, container)
    assert set(found) == {"gitops-bot", "worker"}
    return found


def test_the_executor_and_the_hidden_paths_reach_the_bot_and_the_worker() -> None:
    for executor in ("sandbox", "local"):
        hide = ["/etc/cloud-credentials", "/mnt/vault/token"]
        values = {"terraform": {"executor": executor, "sandbox": {"hide": hide}}}
        for _pod, container in _terraform_containers(values).values():
            env = {e["name"]: e.get("value") for e in container["env"]}
            assert env["GITOPS_BOT_TERRAFORM_EXECUTOR"] == executor
            assert env["GITOPS_BOT_TERRAFORM_SANDBOX_HIDE"] == "/etc/cloud-credentials,/mnt/vault/token"
            # ... and the bot reads them back as the chart meant them
            parsed = Settings(
                terraform_executor=env["GITOPS_BOT_TERRAFORM_EXECUTOR"],
                terraform_sandbox_hide=env["GITOPS_BOT_TERRAFORM_SANDBOX_HIDE"],
            )
            assert [str(path) for path in parsed.terraform_sandbox_hide] == hide
    for _pod, container in _terraform_containers({}).values():
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert env["GITOPS_BOT_TERRAFORM_EXECUTOR"] == "sandbox"  # the default: isolated
        assert "GITOPS_BOT_TERRAFORM_SANDBOX_HIDE" not in env


def _hardened(context: dict[str, Any]) -> None:
    assert context["readOnlyRootFilesystem"] is True
    assert context["allowPrivilegeEscalation"] is False
    assert context["capabilities"] == {"drop": ["ALL"]}
    assert "privileged" not in context and "add" not in context["capabilities"]


def test_the_sandbox_gets_the_security_context_bubblewrap_needs_and_nothing_else() -> None:
    for pod, container in _terraform_containers({}).values():
        context = container["securityContext"]
        _hardened(context)
        # RuntimeDefault refuses unshare/mount/pivot_root; the runtimes' AppArmor has `deny mount`.
        assert context["seccompProfile"] == {"type": "Unconfined"}
        assert context["appArmorProfile"] == {"type": "Unconfined"}
        assert "procMount" not in context and "hostUsers" not in pod
        # The pod default stays RuntimeDefault: the migration container does not get the relaxation.
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        for init in pod.get("initContainers", []):
            assert "seccompProfile" not in init["securityContext"]
            assert "appArmorProfile" not in init["securityContext"]


def test_local_terraform_keeps_the_runtime_defaults() -> None:
    for pod, container in _terraform_containers({"terraform": {"executor": "local"}}).values():
        context = container["securityContext"]
        _hardened(context)
        assert not {"seccompProfile", "appArmorProfile", "procMount"} & set(context)
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert "hostUsers" not in pod


def test_localhost_profiles_an_own_proc_and_a_user_namespace() -> None:
    sandbox = {
        "seccompProfile": {"type": "Localhost", "localhostProfile": "profiles/gitops-bot-sandbox.json"},
        "appArmorProfile": {"type": "Localhost", "localhostProfile": "gitops-bot-sandbox"},
        "procMount": "Unmasked",
        "userNamespace": True,
    }
    for pod, container in _terraform_containers({"terraform": {"sandbox": sandbox}}).values():
        context = container["securityContext"]
        _hardened(context)
        assert context["seccompProfile"] == sandbox["seccompProfile"]
        assert context["appArmorProfile"] == sandbox["appArmorProfile"]
        assert context["procMount"] == "Unmasked"
        assert pod["hostUsers"] is False
    local = {"terraform": {"executor": "local", "sandbox": sandbox}}
    for pod, container in _terraform_containers(local).values():
        assert "procMount" not in container["securityContext"] and "hostUsers" not in pod


def test_before_kubernetes_1_30_the_apparmor_profile_is_an_annotation(tmp_path: Path, capfd: Any) -> None:
    """``appArmorProfile`` is a field from 1.30; older API servers refuse it, so the chart writes
    the annotation there. Rendering takes no Kubernetes version, ``helm lint`` does: a probe
    template reports the helper's output through ``fail`` (which lint reports, not raises)."""
    _helm()
    chart = tmp_path / "gitops-bot"
    shutil.copytree(CHART, chart)
    (chart / "templates" / "zz-probe.yaml").write_text(
        '{{ fail (printf "PROBE<%s>" (include "gitops-bot.podAnnotations" (list . "worker" dict))) }}\n'
    )
    localhost = {
        "terraform": {"sandbox": {"appArmorProfile": {"type": "Localhost", "localhostProfile": "bwrap"}}}
    }
    expected = {
        ("1.28.0", None): "container.apparmor.security.beta.kubernetes.io/worker: unconfined",
        ("1.28.0", "localhost"): "container.apparmor.security.beta.kubernetes.io/worker: localhost/bwrap",
        ("1.30.0", None): "",
        ("1.36.0", "localhost"): "",
    }
    for (version, variant), annotation in expected.items():
        capfd.readouterr()
        lint(chart, localhost if variant else None, kube_version=version)
        output = "".join(capfd.readouterr())
        probes = re.findall(r"PROBE<([^>]*)>", output)
        assert probes == [annotation], (version, variant, output)


@pytest.mark.parametrize(
    "values",
    [
        {"terraform": {"executor": "none"}},
        {"terraform": {"sandbox": {"procMount": "Unmasked"}}},  # needs a user namespace
        {"terraform": {"sandbox": {"seccompProfile": {"type": "Localhost"}}}},  # which profile?
        {"terraform": {"sandbox": {"appArmorProfile": {"type": "Unconfined", "localhostProfile": "x"}}}},
        {"terraform": {"sandbox": {"hide": ["relative/path"]}}},
        {"terraform": {"sandbox": {"hide": ["/a,/b"]}}},  # the variable is comma-separated
        {"config": {"TERRAFORM_EXECUTOR": "local"}},  # set by terraform.executor
    ],
)
def test_the_schema_refuses_bad_sandbox_values(values: dict[str, Any]) -> None:
    chart = _helm()
    with pytest.raises(HelmError):
        chart.validate_schema(chart.merge_values(values))


def test_the_schema_takes_the_documented_sandbox_values() -> None:
    chart = _helm()
    for values in (
        {"terraform": {"executor": "local"}},
        {"terraform": {"sandbox": {"procMount": "Unmasked", "userNamespace": True, "hide": ["/etc/x"]}}},
        {"terraform": {"sandbox": {"seccompProfile": {"type": "Localhost", "localhostProfile": "p.json"}}}},
        {"terraform": {"sandbox": {"appArmorProfile": {"type": "RuntimeDefault"}}}},
    ):
        chart.validate_schema(chart.merge_values(values))


def test_the_notes_warn_when_terraform_runs_without_a_sandbox() -> None:
    def notes(values: dict[str, Any] | None) -> str:
        return _helm().render(values, name="bot", namespace="ops", is_install=True)[
            "gitops-bot/templates/NOTES.txt"
        ]

    assert "WITHOUT a sandbox" in notes({"terraform": {"executor": "local"}})
    sandboxed = notes(None)
    assert "WITHOUT a sandbox" not in sandboxed and "terraform.sandbox_unavailable" in sandboxed


# --- Terraform as Kubernetes Jobs ------------------------------------------------------------

JOBS: dict[str, Any] = {
    "namespace": "terraform",
    "envSecret": "terraform-aws",
    "envSecrets": {"acme/infra:prod": "terraform-aws-prod", "acme/network": "terraform-network"},
    "resources": {"requests": {"cpu": 1, "memory": "1Gi"}, "limits": {"memory": "4Gi"}},
    "nodeSelector": {"pool": "terraform"},
    "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "terraform", "effect": "NoSchedule"}],
    "keepSeconds": 600,
}
JOB_RULES = [
    {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["create", "get", "list", "watch", "delete"]},
    {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]},
    {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]},
]
JOB_JSON_SETTINGS = ("ENV_SECRETS", "RESOURCES", "NODE_SELECTOR", "TOLERATIONS")


def _env(container: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container["env"] if "value" in e}


def _job_settings(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The settings the bot reads from the rendered environment (as its process would)."""
    for name, value in env.items():
        if name.startswith("GITOPS_BOT_TERRAFORM_") or name == "GITOPS_BOT_KUBERNETES_IN_CLUSTER":
            monkeypatch.setenv(name, value)
    return Settings(_env_file=None)


def test_kubernetes_executor_renders_the_job_role_the_runner_account_and_the_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from bot.adapters.terraform_jobs.manifest import JobSettings, env_secret_for, job_manifest

    values = {**SANDBOX_WORKER, "terraform": {"executor": "kubernetes", "jobs": JOBS}}
    kinds = _kinds(_render(values))

    # A Role with exactly these rules, in the Jobs' namespace only, bound to the bot's account.
    (role,) = [r for r in kinds["Role"] if r["metadata"]["name"] == "bot-gitops-bot-terraform-jobs"]
    assert role["metadata"]["namespace"] == "terraform"
    assert role["rules"] == JOB_RULES
    assert [r["metadata"]["namespace"] for r in kinds["Role"] if r["metadata"]["namespace"] != "ops"] == [
        "terraform"
    ]
    (binding,) = [b for b in kinds["RoleBinding"] if b["roleRef"]["name"] == "bot-gitops-bot-terraform-jobs"]
    assert binding["metadata"]["namespace"] == "terraform"
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "bot-gitops-bot", "namespace": "ops"}]
    assert "ClusterRole" not in kinds and "ClusterRoleBinding" not in kinds

    # The runner's account: in the Jobs' namespace, no token, bound to nothing.
    accounts = {a["metadata"]["name"]: a for a in kinds["ServiceAccount"]}
    runner = accounts["bot-gitops-bot-terraform"]
    assert runner["metadata"]["namespace"] == "terraform"
    assert runner["automountServiceAccountToken"] is False
    assert all(s["name"] != "bot-gitops-bot-terraform" for b in kinds["RoleBinding"] for s in b["subjects"])

    deployments = {d["metadata"]["name"]: d["spec"]["template"] for d in kinds["Deployment"]}
    for template in deployments.values():
        pod = template["spec"]
        (container,) = pod["containers"]
        # The bot's own token is mounted: the in-cluster client creates the Jobs with it.
        assert pod["serviceAccountName"] == "bot-gitops-bot" and pod["automountServiceAccountToken"] is True
        # No bubblewrap here: the runtime defaults stay.
        _hardened(container["securityContext"])
        assert not {"seccompProfile", "appArmorProfile", "procMount"} & set(container["securityContext"])
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert "hostUsers" not in pod
        assert not any("apparmor" in key for key in template["metadata"].get("annotations", {}))

        env = _env(container)
        assert env["GITOPS_BOT_TERRAFORM_EXECUTOR"] == "kubernetes"
        assert env["GITOPS_BOT_KUBERNETES_IN_CLUSTER"] == "true"
        assert env["GITOPS_BOT_TERRAFORM_JOB_NAMESPACE"] == "terraform"
        assert (
            env["GITOPS_BOT_TERRAFORM_JOB_IMAGE"]
            == container["image"]
            == "ghcr.io/gitops-bot/gitops-bot:0.1.0"
        )
        assert env["GITOPS_BOT_TERRAFORM_JOB_SERVICE_ACCOUNT"] == "bot-gitops-bot-terraform"
        assert env["GITOPS_BOT_TERRAFORM_JOB_ENV_SECRET"] == "terraform-aws"
        assert env["GITOPS_BOT_TERRAFORM_JOB_KEEP_SECONDS"] == "600"
        assert env["GITOPS_BOT_TERRAFORM_JOB_CALLBACK_URL"] == "http://bot-gitops-bot.ops.svc:80"
        parsed = {name: json.loads(env[f"GITOPS_BOT_TERRAFORM_JOB_{name}"]) for name in JOB_JSON_SETTINGS}
        assert parsed == {
            "ENV_SECRETS": JOBS["envSecrets"],
            # quantities as strings: Kubernetes takes either, the bot's setting reads strings
            "RESOURCES": {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"memory": "4Gi"}},
            "NODE_SELECTOR": JOBS["nodeSelector"],
            "TOLERATIONS": JOBS["tolerations"],
        }

    # ... and the bot reads them back into the Job the chart meant.
    settings = _job_settings(_env(deployments["bot-gitops-bot"]["spec"]["containers"][0]), monkeypatch)
    assert settings.terraform_executor == "kubernetes" and settings.kubernetes_in_cluster is True
    assert settings.terraform_job_env_secrets == JOBS["envSecrets"]
    assert settings.terraform_job_tolerations == JOBS["tolerations"]
    assert settings.terraform_job_keep_seconds == 600
    assert settings.terraform_job_namespace and settings.terraform_job_image
    job_settings = JobSettings(
        namespace=settings.terraform_job_namespace,
        image=settings.terraform_job_image,
        service_account=settings.terraform_job_service_account,
        env_secret=settings.terraform_job_env_secret,
        env_secrets=settings.terraform_job_env_secrets,
        resources=settings.terraform_job_resources,
        node_selector=settings.terraform_job_node_selector,
        tolerations=settings.terraform_job_tolerations,
        keep_seconds=settings.terraform_job_keep_seconds,
    )
    secret = env_secret_for(job_settings, "acme/infra", "prod")
    job = job_manifest(
        job_settings,
        name="tf-plan-infra-prod-1",
        run_id=1,
        operation="plan",
        spec_json="{}",
        callback_url=f"{settings.terraform_job_callback_url}/internal/terraform-jobs/1",
        token="t",
        env_secret=secret,
        deadline_seconds=60,
    )
    pod = job["spec"]["template"]["spec"]
    assert job["metadata"]["namespace"] == role["metadata"]["namespace"]
    assert pod["serviceAccountName"] == runner["metadata"]["name"]
    assert pod["containers"][0]["envFrom"] == [{"secretRef": {"name": "terraform-aws-prod"}}]
    assert pod["containers"][0]["resources"]["requests"] == {"cpu": "1", "memory": "1Gi"}
    assert pod["nodeSelector"] == {"pool": "terraform"} and pod["tolerations"] == JOBS["tolerations"]
    assert job["spec"]["ttlSecondsAfterFinished"] == 600


def test_kubernetes_executor_defaults_the_release_namespace_the_bots_image_and_its_service() -> None:
    values = {
        "image": {"repository": "registry.example.com/gitops-bot", "tag": "1.2.3"},
        "service": {"port": 8080},
        "terraform": {"executor": "kubernetes"},
    }
    kinds = _kinds(_render(values))
    (role,) = [r for r in kinds["Role"] if r["metadata"]["name"].endswith("terraform-jobs")]
    assert role["metadata"]["namespace"] == "ops" and role["rules"] == JOB_RULES
    runner = next(a for a in kinds["ServiceAccount"] if a["metadata"]["name"] == "bot-gitops-bot-terraform")
    assert runner["metadata"]["namespace"] == "ops" and runner["automountServiceAccountToken"] is False
    (deployment,) = kinds["Deployment"]
    env = _env(deployment["spec"]["template"]["spec"]["containers"][0])
    assert env["GITOPS_BOT_TERRAFORM_JOB_NAMESPACE"] == "ops"
    assert env["GITOPS_BOT_TERRAFORM_JOB_IMAGE"] == "registry.example.com/gitops-bot:1.2.3"
    assert env["GITOPS_BOT_TERRAFORM_JOB_CALLBACK_URL"] == "http://bot-gitops-bot.ops.svc:8080"
    # No Secret configured: none named (the pod gets no credentials), not an empty name.
    assert "GITOPS_BOT_TERRAFORM_JOB_ENV_SECRET" not in env
    assert json.loads(env["GITOPS_BOT_TERRAFORM_JOB_ENV_SECRETS"]) == {}
    assert json.loads(env["GITOPS_BOT_TERRAFORM_JOB_RESOURCES"]) == Settings.model_fields[
        "terraform_job_resources"
    ].get_default(call_default_factory=True)


def test_kubernetes_executor_with_own_account_image_callback_and_rbac() -> None:
    jobs = {
        "image": "registry.example.com/terraform-runner:9",
        "callbackUrl": "https://gitops-bot.internal.example.com",
        "serviceAccount": {"create": False, "name": "terraform-runner"},
    }
    kinds = _kinds(_render({"terraform": {"executor": "kubernetes", "jobs": jobs}}))
    assert all(a["metadata"]["name"] != "bot-gitops-bot-terraform" for a in kinds["ServiceAccount"])
    (deployment,) = kinds["Deployment"]
    env = _env(deployment["spec"]["template"]["spec"]["containers"][0])
    assert env["GITOPS_BOT_TERRAFORM_JOB_IMAGE"] == jobs["image"]
    assert env["GITOPS_BOT_TERRAFORM_JOB_CALLBACK_URL"] == jobs["callbackUrl"]
    assert env["GITOPS_BOT_TERRAFORM_JOB_SERVICE_ACCOUNT"] == "terraform-runner"

    # Not created and not named: the namespace's default account, so the variable is left out.
    unnamed = {"terraform": {"executor": "kubernetes", "jobs": {"serviceAccount": {"create": False}}}}
    (deployment,) = _kinds(_render(unnamed))["Deployment"]
    assert "GITOPS_BOT_TERRAFORM_JOB_SERVICE_ACCOUNT" not in _env(
        deployment["spec"]["template"]["spec"]["containers"][0]
    )

    # rbac.create false: the operator grants the Role; the bot still uses its in-cluster token.
    kinds = _kinds(_render({"rbac": {"create": False}, "terraform": {"executor": "kubernetes"}}))
    assert "Role" not in kinds and "RoleBinding" not in kinds
    (deployment,) = kinds["Deployment"]
    pod = deployment["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is True
    assert _env(pod["containers"][0])["GITOPS_BOT_KUBERNETES_IN_CLUSTER"] == "true"


@pytest.mark.parametrize("executor", ["sandbox", "local"])
def test_other_executors_render_no_job_role_account_or_settings(executor: str) -> None:
    kinds = _kinds(_render({**SANDBOX_WORKER, "terraform": {"executor": executor, "jobs": JOBS}}))
    assert not [r for r in kinds["Role"] if "terraform" in r["metadata"]["name"]]
    assert not [b for b in kinds["RoleBinding"] if "terraform" in b["metadata"]["name"]]
    assert [a["metadata"]["name"] for a in kinds["ServiceAccount"]] == ["bot-gitops-bot"]
    assert {r["metadata"]["namespace"] for r in kinds["Role"]} == {"ops"}
    for deployment in kinds["Deployment"]:
        pod = deployment["spec"]["template"]["spec"]
        assert "automountServiceAccountToken" not in pod
        env = _env(pod["containers"][0])
        assert not [name for name in env if name.startswith("GITOPS_BOT_TERRAFORM_JOB_")]
        assert env["GITOPS_BOT_KUBERNETES_IN_CLUSTER"] == "false"


@pytest.mark.parametrize(
    "values",
    [
        {"terraform": {"jobs": {"namespace": "Not_A_Namespace"}}},
        {"terraform": {"jobs": {"envSecret": "Bad Secret"}}},
        {"terraform": {"jobs": {"envSecrets": {"not-a-repo": "terraform-aws"}}}},
        {"terraform": {"jobs": {"envSecrets": {"acme/infra": ""}}}},
        {"terraform": {"jobs": {"keepSeconds": -1}}},
        {"terraform": {"jobs": {"callbackUrl": "gitops-bot:8080"}}},
        {"terraform": {"jobs": {"resources": {"request": {"cpu": "1"}}}}},
        {"terraform": {"jobs": {"serviceAccount": {"token": True}}}},
        {"terraform": {"jobs": {"secret": "x"}}},
        {"config": {"TERRAFORM_JOB_IMAGE": "x"}},  # set by terraform.jobs.image
    ],
)
def test_the_schema_refuses_bad_job_values(values: dict[str, Any]) -> None:
    chart = _helm()
    with pytest.raises(HelmError):
        chart.validate_schema(chart.merge_values(values))


def test_the_schema_takes_the_documented_job_values() -> None:
    chart = _helm()
    for values in (
        {"terraform": {"executor": "kubernetes"}},
        {"terraform": {"executor": "kubernetes", "jobs": JOBS}},
        {"terraform": {"jobs": {"serviceAccount": {"annotations": {"eks.amazonaws.com/role-arn": "arn:x"}}}}},
        {"terraform": {"jobs": {"callbackUrl": "http://gitops-bot.ops.svc:80"}}},
        {"config": {"TERRAFORM_JOB_POLL_SECONDS": "2"}},  # not set by the chart
    ):
        chart.validate_schema(chart.merge_values(values))
    for lint_values in (None, {"terraform": {"executor": "kubernetes", "jobs": JOBS}}):
        report = lint(CHART, lint_values, strict=False)
        assert not report["errors"], report


def test_the_notes_name_the_jobs_namespace_and_the_callback() -> None:
    notes = _helm().render(
        {"terraform": {"executor": "kubernetes", "jobs": JOBS}}, name="bot", namespace="ops", is_install=True
    )["gitops-bot/templates/NOTES.txt"]
    assert "as Kubernetes Jobs in the namespace terraform" in notes and '"terraform-aws"' in notes
    assert "http://bot-gitops-bot.ops.svc:80" in notes and "bubblewrap" not in notes
