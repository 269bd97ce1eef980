"""Terraform as Kubernetes Jobs, end to end (``GITOPS_BOT_TERRAFORM_EXECUTOR=kubernetes``).

The bot is served over real HTTP (the pods call it back), the Kubernetes API is the stand-in,
driven by the official ``kubernetes`` client, whose Jobs really run their container's command
(``gitops-bot terraform-job``) as sandboxed local processes with real Terraform; pull requests
come from the GitHub stand-in over real git.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import structlog

from bot.adapters.terraform_cli import RunContext
from bot.adapters.terraform_jobs.runner import KubernetesJobRunner
from bot.cancellation import JobCancelled, run_with_stop
from tests.integration.terraform.test_pull_request_flow import FILES, MAIN_TF, REPO, comments, open_pr, say
from tests.support.botenv import TOKEN, BotEnv, bot_env, free_port, served
from tests.support.kubernetes_standin import KubernetesStandIn
from tests.support.requirements import require
from tests.support.terraform_shim import TerraformShim

NAMESPACE = "terraform-runs"
BIGGER = MAIN_TF.replace("default = 2", "default = 4")


@pytest.fixture
def shim_for_pods(terraform_shim: TerraformShim, monkeypatch: pytest.MonkeyPatch) -> TerraformShim:
    # `gitops-bot` (the Job's command) from this interpreter's environment, and a Terraform that
    # announces itself and waits: the pod finds both on PATH, as the image has them.
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    for seconds, name in ((1, "slow-terraform"), (120, "stuck-terraform")):
        script = terraform_shim.bin_dir / name
        script.write_text(f'#!/bin/sh\necho "warming up" >&2\nsleep {seconds}\nexec terraform "$@"\n')
        script.chmod(0o755)
    return terraform_shim


@contextmanager
def jobs_env(
    root: Path, database_url: str, shim: TerraformShim, **settings: Any
) -> Iterator[tuple[BotEnv, KubernetesStandIn]]:
    require(shutil.which("git") is not None, "the git executable")
    require(shutil.which("bwrap") is not None, "bubblewrap (the stand-in runs pods in it)")
    port = free_port()
    values: dict[str, Any] = {
        "terraform_executor": "kubernetes",
        "terraform_job_namespace": NAMESPACE,
        "terraform_job_image": "ghcr.io/acme/gitops-bot:test",
        "terraform_job_env_secret": "cloud",
        "terraform_job_callback_url": f"http://127.0.0.1:{port}",
        "terraform_job_poll_seconds": 0.05,
        "gitops_repos": [],
    }
    values.update(settings)
    with KubernetesStandIn(expose_paths=[shim.bin_dir, shim.cli_config.parent], hide_paths=[root]) as cluster:
        # The operator's Secret: what Terraform gets besides its work tree (TF_VAR_ overrides the
        # variable's default, so the plan shows it arrived).
        offline = {"CHECKPOINT_DISABLE": "1", "TF_CLI_CONFIG_FILE": str(shim.cli_config)}
        cluster.jobs.put_secret(NAMESPACE, "cloud", {"TF_VAR_gpu_nodes": "7", **offline})
        cluster.jobs.put_secret(NAMESPACE, "cloud-staging", {"TF_VAR_gpu_nodes": "3", **offline})
        with bot_env(
            root, database_url, repo=REPO, files=FILES, kubernetes_api_url=cluster.url, **values
        ) as env:
            for login, role in (("dev", "write"), ("alice", "write")):
                env.standin.set_permission(REPO, login, role)
            with served(env.client.app, port=port):
                yield env, cluster


@pytest.fixture
def both(
    tmp_path: Path, database_url: str, shim_for_pods: TerraformShim
) -> Iterator[tuple[BotEnv, KubernetesStandIn]]:
    """On SQLite and PostgreSQL: the runs, their work trees and results go through the database.
    The staging project has a Secret of its own (set server-side)."""
    secrets = {f"{REPO}:staging": "cloud-staging"}
    with jobs_env(tmp_path, database_url, shim_for_pods, terraform_job_env_secrets=secrets) as built:
        yield built


@pytest.fixture
def env(
    tmp_path: Path, sqlite_database_url: str, shim_for_pods: TerraformShim
) -> Iterator[tuple[BotEnv, KubernetesStandIn]]:
    with jobs_env(tmp_path, sqlite_database_url, shim_for_pods) as built:
        yield built


def jobs(cluster: KubernetesStandIn) -> list[dict[str, Any]]:
    with cluster.jobs.lock:
        names = sorted(name for (namespace, name) in cluster.jobs.jobs if namespace == NAMESPACE)
    found = [cluster.jobs.job_object(NAMESPACE, name) for name in names]
    return sorted(found, key=lambda job: int(job["metadata"]["labels"]["gitops-bot/run-id"]))


def wait_until(condition: Callable[[], object], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.05)


def test_plans_and_applies_run_as_jobs_with_the_operators_secret_only(
    both: tuple[BotEnv, KubernetesStandIn],
) -> None:
    bot, cluster = both
    with structlog.testing.capture_logs() as logged:
        number = open_pr(bot, "more-gpus", {"terraform/staging/main.tf": BIGGER})
    (plan,) = comments(bot, number)
    assert "**Plan: 1 to add, 0 to change, 0 to destroy.**" in plan
    assert "+ input  = 3" in plan  # TF_VAR_gpu_nodes came from the project's Secret, through envFrom
    # The pod's output reached the job log line by line.
    output = [entry["line"] for entry in logged if entry["event"] == "terraform.output"]
    assert "--- terraform plan" in output and any("Plan: 1 to add" in line for line in output)

    (job,) = jobs(cluster)
    assert job["metadata"]["labels"]["gitops-bot/operation"] == "plan"
    assert job["status"]["succeeded"] == 1
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "ghcr.io/acme/gitops-bot:test"
    assert container["envFrom"] == [{"secretRef": {"name": "cloud-staging"}}]
    # None of the bot's own credentials is in the Job.
    text = json.dumps(job)
    assert TOKEN not in text and "gh-webhook-secret" not in text

    bot.standin.add_review(REPO, number, "alice", "APPROVED")
    applied = say(bot, number, "/gitops apply")
    assert "Apply complete! Resources: 1 added, 0 changed, 0 destroyed." in applied
    assert [j["metadata"]["labels"]["gitops-bot/operation"] for j in jobs(cluster)] == ["plan", "apply"]


def test_a_pod_that_cannot_start_fails_the_plan_at_once_and_its_job_is_deleted(
    tmp_path: Path, sqlite_database_url: str, shim_for_pods: TerraformShim
) -> None:
    with jobs_env(tmp_path, sqlite_database_url, shim_for_pods, terraform_job_env_secret="missing") as (
        bot,
        cluster,
    ):
        started = time.monotonic()
        number = open_pr(bot, "more-gpus", {"terraform/staging/main.tf": BIGGER})
        (plan,) = comments(bot, number)
        assert "Plan failed for staging" in plan
        assert "cannot start: CreateContainerConfigError" in plan and "missing" in plan
        assert time.monotonic() - started < 20
        assert jobs(cluster) == []


def plan_in_thread(
    runner: KubernetesJobRunner, tree: Path, stop: threading.Event, context: RunContext
) -> tuple[threading.Thread, dict[str, Any]]:
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["result"] = run_with_stop(
                stop, lambda: asyncio.run(runner.plan(tree / "terraform/staging", root=tree, context=context))
            )
        except BaseException as error:  # the test reads what happened
            outcome["error"] = error

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def work_tree(root: Path) -> Path:
    tree = root / "tree"
    (tree / "terraform/staging").mkdir(parents=True)
    (tree / "terraform/staging/main.tf").write_text(BIGGER)
    return tree


def test_a_stopped_plan_deletes_its_job_and_terraform_stops(
    env: tuple[BotEnv, KubernetesStandIn], tmp_path: Path
) -> None:
    bot, cluster = env
    runner = bot.services.terraform("stuck-terraform")
    assert isinstance(runner, KubernetesJobRunner)
    stop = threading.Event()
    context = RunContext(REPO, 7, "a" * 40, "staging")
    thread, outcome = plan_in_thread(runner, work_tree(tmp_path), stop, context)
    wait_until(lambda: jobs(cluster) and "warming up" in pod_log(cluster))
    assert cluster.jobs.live_processes() == 1

    stop.set()  # the lease was lost, or /gitops cancel
    thread.join(timeout=30)
    assert isinstance(outcome.get("error"), JobCancelled)
    assert jobs(cluster) == []
    wait_until(lambda: cluster.jobs.live_processes() == 0, timeout=15)


def pod_log(cluster: KubernetesStandIn) -> str:
    (job,) = jobs(cluster)
    pods = cluster.jobs.pod_objects(NAMESPACE, job["metadata"]["name"])
    return cluster.jobs.pod_log(NAMESPACE, pods[0]["metadata"]["name"]) if pods else ""


def test_a_plan_streams_while_the_job_runs(env: tuple[BotEnv, KubernetesStandIn], tmp_path: Path) -> None:
    bot, cluster = env
    runner = bot.services.terraform("slow-terraform")
    assert isinstance(runner, KubernetesJobRunner)
    lines: list[tuple[str, bool]] = []

    def on_line(step: str, line: str) -> None:
        # Whether the Job was still running when the line arrived.
        running = bool(jobs(cluster)) and not jobs(cluster)[0]["status"].get("succeeded")
        lines.append((line, running))

    tree = work_tree(tmp_path)
    context = RunContext(REPO, 8, "b" * 40, "staging")
    result = asyncio.run(runner.plan(tree / "terraform/staging", root=tree, context=context, on_line=on_line))
    assert result.ok and result.has_changes and result.planfile is not None and result.planfile.is_file()
    assert ("warming up", True) in lines  # forwarded while Terraform still ran
    assert "Plan: 1 to add" in result.output


def test_a_pod_that_never_starts_times_out_and_its_job_is_deleted(
    env: tuple[BotEnv, KubernetesStandIn], tmp_path: Path
) -> None:
    bot, cluster = env
    runner = bot.services.terraform()
    assert isinstance(runner, KubernetesJobRunner)
    from bot.adapters.terraform_cli import StepTimeouts

    impatient = runner.with_binary("terraform")
    impatient.timeouts = StepTimeouts(init=1, workspace=1, plan=1, show=1, apply=1)
    impatient.start_timeout_seconds = 1
    cluster.jobs.hold_pod_starts()
    tree = work_tree(tmp_path)
    result = asyncio.run(
        impatient.plan(tree / "terraform/staging", root=tree, context=RunContext(REPO, 9, "c" * 40, "s"))
    )
    assert not result.ok and result.timed_out and "did not start in time" in (result.error or "")
    assert jobs(cluster) == []


_KILLED_BOT = """
import asyncio, json, sys
from pathlib import Path
from bot.adapters.terraform_cli import RunContext
from bot.services import build_services
from bot.settings import Settings

settings = Settings(_env_file=None, **json.loads(sys.argv[1]))
runner = build_services(settings).terraform("slow-terraform")
tree = Path(sys.argv[2])
asyncio.run(runner.plan(tree / "terraform/staging", root=tree, context=RunContext(*json.loads(sys.argv[3]))))
"""


def test_a_restarted_bot_reattaches_to_the_running_job_instead_of_starting_another(
    env: tuple[BotEnv, KubernetesStandIn], tmp_path: Path
) -> None:
    bot, cluster = env
    tree = work_tree(tmp_path)
    context = RunContext(REPO, 10, "d" * 40, "staging")
    names = (
        "database_url",
        "data_dir",
        "kubernetes_api_url",
        "terraform_executor",
        "terraform_job_poll_seconds",
    )
    settings = bot.settings.model_dump(
        mode="json",
        include={*names, *(n for n in type(bot.settings).model_fields if n.startswith("terraform_job_"))},
    )
    killed = subprocess.Popen(
        [
            sys.executable,
            "-c",
            _KILLED_BOT,
            json.dumps(settings),
            str(tree),
            json.dumps(list(context.__dict__.values())),
        ],
        start_new_session=True,
    )
    try:
        wait_until(lambda: jobs(cluster) and "warming up" in pod_log(cluster))
    finally:
        os.killpg(killed.pid, signal.SIGKILL)  # the bot dies mid-plan; its Job goes on
        killed.wait()

    runner = bot.services.terraform("slow-terraform")
    result = asyncio.run(runner.plan(tree / "terraform/staging", root=tree, context=context))
    assert result.ok and result.has_changes
    assert len(jobs(cluster)) == 1  # re-attached: Terraform ran once
