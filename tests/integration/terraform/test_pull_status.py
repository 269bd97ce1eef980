"""``/gitops status`` on a Terraform pull request, and the commit statuses besides plan and apply:
the GitHub stand-in over real git, real Terraform, the bot's handlers and a real database."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from bot.adapters.terraform_cli import SandboxExecutor, TerraformRunner
from tests.integration.terraform.test_pull_request_flow import BIGGER, FILES, REPO, open_pr, say
from tests.support.botenv import BotEnv, bot_env
from tests.support.markdown import render, swallowed_lines
from tests.support.requirements import require
from tests.support.terraform_shim import TerraformShim

PUBLIC = "https://gitops.example.com"


@contextmanager
def _env(root: Path, database_url: str) -> Iterator[BotEnv]:
    require(shutil.which("git") is not None, "the git executable")
    with bot_env(root, database_url, repo=REPO, files=FILES, gitops_repos=[], public_url=PUBLIC) as built:
        for login in ("dev", "alice"):
            built.standin.set_permission(REPO, login, "write")
        yield built


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def env(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_database_url: str, terraform_shim: TerraformShim
) -> Iterator[BotEnv]:
    if request.param == "sqlite":
        with _env(tmp_path, sqlite_database_url) as built:
            yield built
        return
    schemas = request.getfixturevalue("postgres_schemas")
    with schemas.lease() as url, _env(tmp_path, url) as built:
        yield built


def test_status_shows_the_pull_requests_plans_locks_and_runs(env: BotEnv) -> None:
    changed = {"terraform/staging/main.tf": BIGGER, "terraform/prod/main.tf": BIGGER}
    number = open_pr(env, "more-gpus", changed)  # staging autoplans; prod only when asked
    say(env, number, "/gitops plan -p prod")
    head = env.standin.pull(REPO, number).head_sha[:7]

    status = say(env, number, "/gitops status", user="alice")
    runs = f"{PUBLIC}/runs?repo=acme%2Finfra&pr={number}"
    assert status.startswith(f"**#{number}: Terraform plans** ([runs]({runs}))\n\n")
    assert f"| prod | `terraform/prod` | `default` | planned | `{head}` |" in status
    assert f"| staging | `terraform/staging` | `default` | planned | `{head}` |" in status
    held = "`terraform/prod` (`default`, prod), `terraform/staging` (`default`, staging)"
    assert f"**#{number}: locks held:** {held}." in status
    assert f"**#{number}: canary analyses:** none" in status
    # On GitHub the plans table ends at its last plan: the locks are a paragraph of their own.
    assert swallowed_lines(status) == []
    assert f"</table>\n<p><strong>#{number}: locks held:</strong>" in render(status)

    say(env, number, "/gitops unlock")
    status = say(env, number, "/gitops status", user="alice")
    assert "None: comment `/gitops plan` to plan this pull request." in status
    assert f"**#{number}: locks held:** none." in status


def test_a_plan_refused_without_its_sandbox_links_its_status_to_the_runs(env: BotEnv) -> None:
    env.services.terraform_runner = TerraformRunner(
        env.settings.terraform_bin, executor=SandboxExecutor(bwrap="no-such-bwrap")
    )
    number = open_pr(env, "more-gpus", {"terraform/staging/main.tf": BIGGER})
    head = env.standin.pull(REPO, number).head_sha
    (status,) = [s for s in env.standin.statuses(REPO, head) if s["context"] == "gitops-bot/plan"]
    assert (status["state"], status["description"]) == ("failure", "terraform sandbox unavailable")
    assert status["target_url"] == f"{PUBLIC}/runs?repo=acme%2Finfra&pr={number}"
