"""`gitops-bot serve`'s start-up block: where, how to sign in, the forge, dry run, the webhooks on
and off (and why), the Terraform executor (and why it is refused), from one template."""

from __future__ import annotations

import io

import pytest
import structlog

from bot.adapters.terraform_cli.sandbox import ExecutorStatus
from bot.settings import Settings
from bot.startup import StartupFacts, announce, render_block, startup_facts
from bot.templating import template_environment

SANDBOX = ExecutorStatus("sandbox", True, "bubblewrap sandbox with its own /proc")
SECRETS = {
    "github_webhook_secret": "gh-secret-0123456789",
    "registry_token": "registry-token-0123456789",
    "slack_signing_secret": "slack-secret-0123456789",
}


def facts(
    *,
    host: str = "127.0.0.1",
    workers: bool = True,
    terraform: ExecutorStatus | None = SANDBOX,
    **settings: object,
) -> StartupFacts:
    values = {**SECRETS, **settings}
    return startup_facts(
        Settings(_env_file=None, **values),  # type: ignore[arg-type]
        host=host,
        port=8080,
        workers=workers,
        terraform=terraform,
        log_json=False,
    )


def block(**kwargs: object) -> str:
    return render_block(template_environment(), facts(**kwargs))  # type: ignore[arg-type]


def line(text: str, label: str) -> str:
    """The block's line for ``label`` (``forge``, ``dry run`` …), without the label."""
    for row in text.splitlines():
        if row.startswith(f"  {label} "):
            return row[len(label) + 2 :].strip()
    raise AssertionError(f"no {label!r} line in:\n{text}")


def test_the_block_of_a_bot_out_of_the_box() -> None:
    """`make run`'s first start: the local forge (acting), loopback without sign-in, MLflow off."""
    text = block()
    first, *_ = text.splitlines()
    assert first.startswith("gitops-bot ") and first.endswith(" serving on http://127.0.0.1:8080/")
    assert line(text, "console") == "http://127.0.0.1:8080/"
    assert "sign-in: none (loopback only" in text
    assert line(text, "forge").startswith("local: repositories in ")
    assert line(text, "forge").endswith(", pull requests in the database (`gitops-bot pr list`)")
    assert line(text, "dry run") == (
        "no: the local forge: pull requests, comments and merges are made in its own repositories"
    )
    assert line(text, "webhooks") == "github       on   /webhooks/github"
    assert "registry     on   /webhooks/registry" in text
    assert "mlflow       off  GITOPS_BOT_MLFLOW_WEBHOOK_SECRET is not set" in text
    assert "slack        on   /slack/commands, /slack/interactions (answers and threads need" in text
    assert line(text, "terraform") == "sandbox: bubblewrap sandbox with its own /proc"
    assert line(text, "jobs") == "4 workers and the scheduler"
    assert line(text, "gitops").startswith("none: set GITOPS_BOT_GITOPS_REPOS")
    assert line(text, "database") == "sqlite:///./gitops-bot.db"
    assert "{" not in text and "None" not in text


def test_credentials_token_sign_in_and_repositories() -> None:
    text = block(
        github_token="ghp_0123456789abcdef",
        console_auth="token",
        console_token="console-token-0123",
        gitops_repos="acme/gitops,acme/other",
        database_url="postgresql+psycopg://bot:s3cret-pw@db:5432/bot",
        workers=1,
    )
    assert line(text, "console") == "http://127.0.0.1:8080/login?token=console-token-0123"
    assert "sign-in: token (GITOPS_BOT_CONSOLE_TOKEN; the link above carries it)" in text
    assert line(text, "forge") == "GitHub (token) at https://api.github.com"
    assert line(text, "dry run").startswith("no: forge credentials are set")
    assert line(text, "gitops") == "acme/gitops, acme/other"
    assert line(text, "database") == "postgresql+psycopg://bot:***@db:5432/bot"
    assert "s3cret-pw" not in text and "ghp_0123456789abcdef" not in text


def test_beyond_loopback_the_token_stays_out_of_the_block() -> None:
    text = block(host="0.0.0.0", console_auth="token", console_token="console-token-0123")
    assert line(text, "console") == "http://0.0.0.0:8080/" and "console-token-0123" not in text


def test_dry_run_asked_for_says_so() -> None:
    text = block(github_token="ghp_0123456789abcdef", dry_run=True)
    assert line(text, "dry run").startswith("yes: GITOPS_BOT_DRY_RUN=true")


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (
            ExecutorStatus("sandbox", False, "bwrap is not installed: apt-get install bubblewrap"),
            "REFUSED (sandbox): bwrap is not installed: apt-get install bubblewrap",
        ),
        (ExecutorStatus("local", True, "no isolation"), "local, NOT ISOLATED: no isolation"),
        (None, "not run here (--no-workers: the workers run it)"),
    ],
)
def test_the_terraform_line_says_why_it_is_refused(status: ExecutorStatus | None, expected: str) -> None:
    assert line(block(terraform=status, workers=status is not None), "terraform") == expected


def test_no_workers_says_where_the_jobs_run() -> None:
    assert line(block(workers=False, terraform=None), "jobs") == (
        "no workers here (--no-workers): run `gitops-bot worker` beside it"
    )


def test_every_webhook_is_off_without_its_secret_naming_the_variable() -> None:
    bare = Settings(_env_file=None)
    found = startup_facts(bare, host="127.0.0.1", port=8080, workers=True, terraform=SANDBOX, log_json=False)
    text = render_block(template_environment(), found)
    for name, variable in [
        ("github", "GITOPS_BOT_GITHUB_WEBHOOK_SECRET"),
        ("registry", "GITOPS_BOT_REGISTRY_TOKEN"),
        ("mlflow", "GITOPS_BOT_MLFLOW_WEBHOOK_SECRET"),
        ("alertmanager", "GITOPS_BOT_REGISTRY_TOKEN"),
        ("slack", "GITOPS_BOT_SLACK_SIGNING_SECRET"),
    ]:
        assert f"{name:<13}off  {variable} is not set" in text


def test_readable_logs_get_the_block_json_logs_one_serving_line() -> None:
    stream = io.StringIO()
    readable = facts()
    announce(template_environment(), readable, logger=structlog.get_logger("test"), stream=stream)
    assert stream.getvalue() == render_block(template_environment(), readable)

    as_json = StartupFacts(**{**readable.__dict__, "log_format": "json"})
    quiet = io.StringIO()
    with structlog.testing.capture_logs() as logs:
        announce(template_environment(), as_json, logger=structlog.get_logger("test"), stream=quiet)
    assert quiet.getvalue() == ""
    (serving,) = logs
    assert serving["event"] == "serving" and serving["console"] == "http://127.0.0.1:8080/"
    assert serving["webhooks_off"] == {
        "gitlab": "GITOPS_BOT_GITLAB_WEBHOOK_SECRET is not set",
        "mlflow": "GITOPS_BOT_MLFLOW_WEBHOOK_SECRET is not set",
    }
    assert serving["terraform"] == {
        "mode": "sandbox",
        "ok": True,
        "isolated": True,
        "detail": "bubblewrap sandbox with its own /proc",
    }
    assert serving["dry_run"] is False and serving["workers"] == 4
