"""What `gitops-bot serve` says when it starts: one block with everything a person checks first.

Where it serves and where the console is (and how one signs in), which forge it acts on, whether
it runs dry, which webhooks accept deliveries and why the others do not, how pull requests'
Terraform runs (or why it is refused), the workers, the GitOps repositories, the database and
the log format. :func:`startup_facts` decides it from the settings (pure), the text is
``templates/cli/startup.txt.j2``; with JSON logs the same facts are one ``serving`` log line, so a
log collector never meets a line that is not JSON.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

import jinja2
import structlog
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from bot import installed_version
from bot.console.access import effective_mode, start_address
from bot.logging import wants_json
from bot.settings import Settings

if TYPE_CHECKING:
    from bot.adapters.terraform_cli.sandbox import ExecutorStatus
    from bot.services import Services

TEMPLATE = "cli/startup.txt.j2"


@dataclass(frozen=True)
class Webhook:
    """A sender's endpoint: on when its secret is set, else off and why."""

    name: str
    paths: tuple[str, ...]
    variable: str
    enabled: bool
    note: str | None = None  # when on: what it still lacks; when off: why


@dataclass(frozen=True)
class Terraform:
    mode: str
    ok: bool
    isolated: bool
    detail: str


@dataclass(frozen=True)
class StartupFacts:
    version: str
    host: str
    port: int
    url: str
    console: str
    console_auth: str
    forge: str
    dry_run: bool
    dry_run_why: str
    webhooks: tuple[Webhook, ...]
    terraform: Terraform | None  # None: this process runs no jobs (--no-workers)
    workers: int  # 0: none in this process
    gitops_repos: tuple[str, ...]
    database: str
    log_format: str  # "json" or "text"

    def as_log_fields(self) -> dict[str, Any]:
        """The facts as one structured log line's fields (``GITOPS_BOT_LOG_JSON``)."""
        return {
            "version": self.version,
            "host": self.host,
            "port": self.port,
            "url": self.url,
            "console": self.console,
            "console_auth": self.console_auth,
            "forge": self.forge,
            "dry_run": self.dry_run,
            "dry_run_why": self.dry_run_why,
            "webhooks_on": [hook.name for hook in self.webhooks if hook.enabled],
            "webhooks_off": {hook.name: hook.note for hook in self.webhooks if not hook.enabled},
            "terraform": None if self.terraform is None else self.terraform.__dict__,
            "workers": self.workers,
            "gitops_repos": list(self.gitops_repos),
            "database": self.database,
        }


def _is_set(value: object) -> bool:
    secret = getattr(value, "get_secret_value", None)
    return bool(secret() if secret is not None else value)


def webhooks(settings: Settings) -> tuple[Webhook, ...]:
    """Each sender's endpoint and the setting that turns it on (the intake answers 503 without)."""
    table = (
        ("github", ("/webhooks/github",), "GITOPS_BOT_GITHUB_WEBHOOK_SECRET", settings.github_webhook_secret),
        ("gitlab", ("/webhooks/gitlab",), "GITOPS_BOT_GITLAB_WEBHOOK_SECRET", settings.gitlab_webhook_secret),
        ("registry", ("/webhooks/registry",), "GITOPS_BOT_REGISTRY_TOKEN", settings.registry_token),
        ("mlflow", ("/webhooks/mlflow",), "GITOPS_BOT_MLFLOW_WEBHOOK_SECRET", settings.mlflow_webhook_secret),
        ("alertmanager", ("/webhooks/alertmanager",), "GITOPS_BOT_REGISTRY_TOKEN", settings.registry_token),
        (
            "slack",
            ("/slack/commands", "/slack/interactions"),
            "GITOPS_BOT_SLACK_SIGNING_SECRET",
            settings.slack_signing_secret,
        ),
    )
    hooks = []
    for name, paths, variable, secret in table:
        if not _is_set(secret):
            hooks.append(Webhook(name, paths, variable, False, f"{variable} is not set"))
            continue
        note = None
        if name == "slack" and not _is_set(settings.slack_bot_token):
            note = "answers and threads need GITOPS_BOT_SLACK_BOT_TOKEN"
        hooks.append(Webhook(name, paths, variable, True, note))
    return tuple(hooks)


def forge_description(settings: Settings) -> str:
    if settings.effective_forge == "local":
        where = settings.local_repos_dir.resolve()
        return f"local: repositories in {where}, pull requests in the database (`gitops-bot pr list`)"
    forges = []
    if settings.github_app_id is not None and settings.github_app_private_key is not None:
        forges.append(f"GitHub App {settings.github_app_id} at {settings.github_api_url}")
    elif settings.github_token is not None:
        forges.append(f"GitHub (token) at {settings.github_api_url}")
    if settings.has_gitlab_credentials:
        forges.append(f"GitLab (token) at {settings.gitlab_url} (projects named gitlab:group/project)")
    if forges:
        return "; ".join(forges)
    return (
        "none: set GITOPS_BOT_GITHUB_TOKEN, or GITOPS_BOT_GITHUB_APP_ID and "
        "GITOPS_BOT_GITHUB_APP_PRIVATE_KEY, or GITOPS_BOT_GITLAB_TOKEN"
    )


def dry_run_reason(settings: Settings) -> str:
    if settings.dry_run is True:
        return "GITOPS_BOT_DRY_RUN=true: every decision is recorded in /api/actions, nothing is performed"
    if settings.dry_run is False:
        return "GITOPS_BOT_DRY_RUN=false: pull requests, comments and merges are made"
    if settings.effective_dry_run:
        return "no forge credentials: every decision is recorded in /api/actions, nothing is performed"
    if settings.effective_forge == "local":
        return "the local forge: pull requests, comments and merges are made in its own repositories"
    return "forge credentials are set: pull requests, comments and merges are made"


def shown_database(url: str) -> str:
    """The database URL without its password."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(not a database URL)"


def startup_facts(
    settings: Settings,
    *,
    host: str,
    port: int,
    workers: bool,
    terraform: ExecutorStatus | None,
    log_json: bool,
) -> StartupFacts:
    """What the block says for ``serve --host host --port port`` (``terraform``: the executor's
    probe, None when this process runs no jobs)."""
    shown = f"[{host}]" if ":" in host else host
    return StartupFacts(
        version=installed_version(),
        host=host,
        port=port,
        url=f"http://{shown}:{port}/",
        console=start_address(settings, host, port),
        console_auth=effective_mode(settings.console_auth),
        forge=forge_description(settings),
        dry_run=settings.effective_dry_run,
        dry_run_why=dry_run_reason(settings),
        webhooks=webhooks(settings),
        terraform=None
        if terraform is None
        else Terraform(terraform.mode, terraform.ok, terraform.mode != "local", terraform.detail),
        workers=settings.workers if workers else 0,
        gitops_repos=tuple(settings.gitops_repos),
        database=shown_database(settings.database_url),
        log_format="json" if log_json else "text",
    )


def render_block(templates: jinja2.Environment, facts: StartupFacts) -> str:
    return templates.get_template(TEMPLATE).render(facts=facts).rstrip() + "\n"


def announce(
    templates: jinja2.Environment, facts: StartupFacts, *, logger: Any, stream: IO[str] | None = None
) -> None:
    """Readable logs: the block, on ``stream`` (stderr). JSON logs: one ``serving`` line."""
    if facts.log_format == "json":
        logger.info("serving", **facts.as_log_fields())
        return
    target = stream if stream is not None else sys.stderr
    target.write(render_block(templates, facts))
    target.flush()


def announce_serving(services: Services, *, host: str, port: int, workers: bool) -> None:
    """`serve`'s announcement, once the app is built and before it listens. The executor is probed
    here (once per process; the workers reuse the result) only when this process runs jobs."""
    settings = services.settings
    facts = startup_facts(
        settings,
        host=host,
        port=port,
        workers=workers,
        terraform=services.terraform_status() if workers else None,
        log_json=wants_json(settings.log_json),
    )
    announce(services.templates, facts, logger=structlog.get_logger("gitops_bot.serve"))
