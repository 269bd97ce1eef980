"""Everything a handler may use, built once per app (or worker process) from settings.

Adapters that talk to the outside (GitHub, git, Terraform, Prometheus, Kubernetes) are
built lazily on first use, so a bot without, say, Kubernetes settings never needs them.
Tests replace an adapter by assigning the attribute before the first use.

The handler set (the ``Router``) is not part of the services: the app factory and the CLI
load it and hand it to what routes work (the intake, the workers, the scheduler), so the
routing table imports nothing of what handlers use.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
from sqlalchemy.engine import make_url

from bot.adapters.forge.dry_run import DryRunForge
from bot.adapters.forge.names import is_gitlab
from bot.audit import record_action
from bot.deployments.due_check import DueCheckState
from bot.deployments.gauges import read_gauges
from bot.deployments.quarantine import QuarantineStore
from bot.metrics import Metrics
from bot.notify import Notifier
from bot.queue import JobQueue, RetryPolicy
from bot.repoconfig import LoadedConfig, RepoConfigLoader
from bot.settings import Settings
from bot.storage.db import Database
from bot.templating import template_environment
from bot.terraform.locks import LockStore

if TYPE_CHECKING:
    from bot.adapters.forge.github import GitHubForgeFactory
    from bot.adapters.forge.gitlab import GitLabForgeFactory
    from bot.adapters.forge.local.forge import LocalForge
    from bot.adapters.forge.port import Forge
    from bot.adapters.git import GitWorkspaces
    from bot.adapters.kubernetes import KubernetesReadiness
    from bot.adapters.prometheus import PrometheusQueries
    from bot.adapters.terraform_cli import TerraformOperations
    from bot.adapters.terraform_cli.binaries import BinaryMissing
    from bot.adapters.terraform_cli.sandbox import Executor, ExecutorStatus
    from bot.events import ParsedEvent
    from bot.redaction import Redactor


@dataclass
class Services:
    settings: Settings
    database: Database
    queue: JobQueue
    metrics: Metrics
    templates: jinja2.Environment
    locks: LockStore
    quarantine: QuarantineStore
    notifier: Notifier
    repo_configs: RepoConfigLoader
    forge_factory: GitHubForgeFactory | None = None
    gitlab_factory: GitLabForgeFactory | None = None
    git_workspaces: GitWorkspaces | None = None
    terraform_runner: TerraformOperations | None = None
    versioned_terraform_runners: dict[str, TerraformOperations] = field(default_factory=dict)
    prometheus_client: PrometheusQueries | None = None
    kubernetes_client: KubernetesReadiness | None = None
    secret_redactor: Redactor | None = None
    local_forge: LocalForge | None = None
    terraform_versions: dict[str, str | None] = field(default_factory=dict)
    # Where the local forge's events go: the intake's event store, set by whoever routes events
    # (create_app, the worker command). None: the local forge writes without telling the bot.
    event_sink: Callable[[Sequence[ParsedEvent]], object] | None = None
    # What the scheduler's due-analysis check last read, and the doorbell that says it is stale.
    due_check: DueCheckState = field(default_factory=DueCheckState)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def dry_run(self) -> bool:
        return self.settings.effective_dry_run

    # -- adapters ------------------------------------------------------------------------

    def _factory(self) -> GitHubForgeFactory:
        with self._lock:
            if self.forge_factory is None:
                from bot.adapters.forge.github import GitHubForgeFactory

                self.forge_factory = GitHubForgeFactory.from_settings(self.settings)
            return self.forge_factory

    def _gitlab(self) -> GitLabForgeFactory:
        with self._lock:
            if self.gitlab_factory is None:
                from bot.adapters.forge.gitlab import GitLabForgeFactory

                self.gitlab_factory = GitLabForgeFactory.from_settings(self.settings)
            return self.gitlab_factory

    def local(self) -> LocalForge:
        """The local forge (``GITOPS_BOT_FORGE=local``): its repositories and its rows."""
        with self._lock:
            if self.local_forge is None:
                from bot.adapters.forge.local.forge import LocalForge
                from bot.adapters.forge.local.repos import LocalRepos
                from bot.adapters.forge.local.store import LocalStore

                settings = self.settings
                web = settings.public_url or settings.url
                self.local_forge = LocalForge(
                    LocalRepos(settings.local_repos_dir),
                    LocalStore(self.database),
                    web_base=web,
                    sink=lambda parsed: self.event_sink(parsed) if self.event_sink is not None else None,
                )
            return self.local_forge

    def forge(self, installation_id: int | None = None) -> Forge:
        """The forge for an event's App installation (ignored with token auth).

        In dry-run the forge refuses every write, so a forgotten dry-run check fails
        loudly instead of changing anything.
        """
        if self.settings.effective_forge == "local":
            local: Forge = self.local()
            return DryRunForge(local) if self.dry_run else local
        factory = self._factory()
        if installation_id is None and factory.uses_app:
            raise ValueError("GitHub App auth needs the installation id; use forge_for_repo()")
        forge = factory.for_installation(installation_id)
        return DryRunForge(forge) if self.dry_run else forge

    def forge_for_repo(self, repo: str, installation_id: int | None = None) -> Forge:
        """The forge ``repo`` lives on: GitLab for ``gitlab:…``; on GitHub, for events that name no
        installation (registry, MLflow, Slack), the installation is looked up."""
        if is_gitlab(repo):
            gitlab_forge: Forge = self._gitlab().forge()
            return DryRunForge(gitlab_forge) if self.dry_run else gitlab_forge
        if self.settings.effective_forge == "local":
            return self.forge()
        factory = self._factory()
        if factory.uses_app and installation_id is None:
            installation_id = factory.installation_id_for(repo)
        return self.forge(installation_id)

    def repo_config(
        self, repo: str, installation_id: int | None = None, *, fresh: bool = False
    ) -> LoadedConfig:
        return self.repo_configs.load(self.forge_for_repo(repo, installation_id), repo, fresh=fresh)

    def git(self) -> GitWorkspaces:
        with self._lock:
            if self.git_workspaces is None:
                from bot.adapters.git import GitIdentity, GitWorkspaces, parse_remote

                settings = self.settings
                installations: dict[str, int] = {}

                # Where GitLab's clones go (its URL or GITOPS_BOT_GITLAB_GIT_URL_TEMPLATE, port
                # included, in parse_remote's form): only there is the GitLab token presented.
                try:
                    gitlab_git_host: str | None = parse_remote(
                        settings.clone_url("gitlab:group/project")
                    ).host
                except ValueError:  # an unusable clone URL: GitLab's clones fail with their own error
                    gitlab_git_host = None

                def token_provider(remote: Any) -> str | None:
                    # Called once per clone/fetch/push, so the installation lookup is cached.
                    if settings.has_gitlab_credentials and remote.host == gitlab_git_host:
                        return self._gitlab().git_token()
                    if not settings.has_github_credentials:
                        return None
                    factory = self._factory()
                    installation = None
                    if factory.uses_app:
                        if remote.full_name not in installations:
                            installations[remote.full_name] = factory.installation_id_for(remote.full_name)
                        installation = installations[remote.full_name]
                    return factory.git_token(installation)

                self.git_workspaces = GitWorkspaces(
                    Path(settings.data_dir) / "git",
                    identity=GitIdentity(settings.git_author_name, settings.git_author_email),
                    token_provider=token_provider,
                    command_timeout=settings.git_command_timeout_seconds,
                    network_timeout=settings.git_network_timeout_seconds,
                    lock_timeout=settings.git_lock_timeout_seconds,
                    partial_clone=settings.git_partial_clone,
                )
            return self.git_workspaces

    def terraform(self, binary: str | None = None) -> TerraformOperations:
        """The runner for ``binary`` (default ``GITOPS_BOT_TERRAFORM_BIN``), one per binary.

        Another binary (a project's pinned version) gets a runner like the default one: the same
        executor (sandbox, or Kubernetes Jobs), timeouts and environment.
        """
        default = self._default_terraform()
        if binary is None or binary == default.binary:
            return default
        with self._lock:
            runner = self.versioned_terraform_runners.get(binary)
            if runner is None:
                runner = default.with_binary(binary)
                self.versioned_terraform_runners[binary] = runner
            return runner

    def terraform_for(self, version: str | None) -> TerraformOperations | BinaryMissing:
        """The runner for a project's ``terraform_version`` (the default one without), or why none."""
        if version is None:
            return self.terraform()
        from bot.adapters.terraform_cli.binaries import find_versioned_binary

        settings = self.settings
        found = find_versioned_binary(
            version,
            settings.terraform_bin,
            bin_dir=settings.terraform_bin_dir,
            path_env=os.environ.get("PATH"),
        )
        if isinstance(found, Path):
            return self.terraform(str(found))
        if self._default_terraform_version() == version:  # the default binary is that version
            return self.terraform()
        return found

    def _default_terraform_version(self) -> str | None:
        """What the default binary reports, asked once per process."""
        from bot.adapters.terraform_cli.binaries import binary_version

        with self._lock:
            if "default" not in self.terraform_versions:
                self.terraform_versions["default"] = binary_version(self.settings.terraform_bin)
            return self.terraform_versions["default"]

    def _default_terraform(self) -> TerraformOperations:
        with self._lock:
            if self.terraform_runner is None:
                from bot.adapters.terraform_cli import StepTimeouts, TerraformRunner
                from bot.adapters.terraform_cli.environment import DEFAULT_INHERITED_ENV

                settings = self.settings
                timeouts = StepTimeouts(
                    init=settings.terraform_init_timeout_seconds,
                    plan=settings.terraform_plan_timeout_seconds,
                    apply=settings.terraform_apply_timeout_seconds,
                )
                if settings.terraform_executor == "kubernetes":
                    from bot.adapters.terraform_jobs.setup import job_runner

                    self.terraform_runner = job_runner(settings, self.database, timeouts)
                    return self.terraform_runner
                self.terraform_runner = TerraformRunner(
                    settings.terraform_bin,
                    timeouts=timeouts,
                    kill_grace_seconds=settings.terraform_kill_grace_seconds,
                    inherit_env=(*DEFAULT_INHERITED_ENV, *settings.terraform_env_passthrough),
                    executor=terraform_executor(settings),
                )
            return self.terraform_runner

    def terraform_status(self) -> ExecutorStatus:
        """Whether terraform commands can run here, and how isolated (probed once)."""
        return self.terraform().status()

    def redactor(self) -> Redactor:
        """Hides every configured secret, in its encoded forms too, from what pull requests are shown."""
        with self._lock:
            if self.secret_redactor is None:
                from bot.redaction import Redactor

                self.secret_redactor = Redactor.from_settings(self.settings, read_file=Path.read_text)
            return self.secret_redactor

    def prometheus(self) -> PrometheusQueries:
        with self._lock:
            if self.prometheus_client is None:
                from bot.adapters.prometheus import PrometheusQueries

                self.prometheus_client = PrometheusQueries(
                    self.settings.prometheus_url,
                    timeout_seconds=self.settings.prometheus_timeout_seconds,
                    retries=self.settings.prometheus_retries,
                )
            return self.prometheus_client

    def kubernetes(self) -> KubernetesReadiness | None:
        """None when no way to reach a Kubernetes API is configured (the gate is then off)."""
        settings = self.settings
        if self.kubernetes_client is None and not settings.kubernetes_configured:
            return None
        with self._lock:
            if self.kubernetes_client is None:
                from bot.adapters.kubernetes import KubernetesReadiness

                self.kubernetes_client = KubernetesReadiness(
                    in_cluster=settings.kubernetes_in_cluster,
                    kubeconfig=settings.kubeconfig,
                    context=settings.kubernetes_context,
                    host=settings.kubernetes_api_url,
                    token=settings.kubernetes_token.get_secret_value() if settings.kubernetes_token else None,
                    ca_cert=settings.kubernetes_ca_cert,
                    verify_ssl=settings.kubernetes_verify_ssl,
                    request_timeout_seconds=settings.kubernetes_request_timeout_seconds,
                )
            return self.kubernetes_client

    # -- audit ---------------------------------------------------------------------------

    def audit(
        self,
        *,
        kind: str,
        actor: str,
        summary: str,
        repo: str | None = None,
        target: str | None = None,
        outcome: str = "done",
        details: Mapping[str, Any] | None = None,
        event_id: int | None = None,
        job_id: int | None = None,
        dry_run: bool | None = None,
    ) -> None:
        """Record an action in its own transaction (use ``record_action`` to join one)."""
        with self.database.transaction() as session:
            record_action(
                session,
                kind=kind,
                actor=actor,
                summary=summary,
                repo=repo,
                target=target,
                outcome=outcome,
                details=details,
                event_id=event_id,
                job_id=job_id,
                dry_run=self.dry_run if dry_run is None else dry_run,
            )

    def close(self) -> None:
        for adapter in (
            self.forge_factory,
            self.gitlab_factory,
            self.prometheus_client,
            self.kubernetes_client,
        ):
            close = getattr(adapter, "close", None)
            if close is not None:
                close()
        self.database.dispose()


def terraform_executor(settings: Settings) -> Executor:
    """The executor ``GITOPS_BOT_TERRAFORM_EXECUTOR`` names; the sandbox hides the bot's secrets."""
    from bot.adapters.terraform_cli.sandbox import LocalExecutor, SandboxExecutor

    if settings.terraform_executor == "local":
        return LocalExecutor()
    return SandboxExecutor(hidden=tuple(secret_paths(settings)))


def secret_paths(settings: Settings) -> list[Path]:
    """Everything of the bot's that a sandboxed Terraform must not see (existing or not)."""
    paths = [Path(settings.data_dir), Path.home(), Path(".env")]
    env_file = settings.model_config.get("env_file")
    if isinstance(env_file, str | Path):
        paths.append(Path(env_file))
    database = make_url(settings.database_url)
    if database.get_backend_name() == "sqlite" and database.database not in (None, "", ":memory:"):
        base = str(database.database)
        paths += [Path(base + suffix) for suffix in ("", "-wal", "-shm", "-journal")]
    key = settings.github_app_private_key
    if key is not None and "-----BEGIN" not in key.get_secret_value():
        paths.append(Path(key.get_secret_value()).expanduser())
    paths += [path for path in (settings.kubeconfig,) if path is not None]
    paths += list(settings.terraform_sandbox_hide)
    return [path.expanduser().absolute() for path in paths]


def build_services(settings: Settings) -> Services:
    database = Database(settings.database_url)
    queue = JobQueue(
        database,
        lease_seconds=settings.job_lease_seconds,
        max_attempts=settings.job_max_attempts,
        retry=RetryPolicy(),
    )
    metrics = Metrics()
    metrics.watch_queue(queue.counts)
    metrics.watch_deployments(lambda: read_gauges(database))
    return Services(
        settings=settings,
        database=database,
        queue=queue,
        metrics=metrics,
        templates=template_environment(),
        locks=LockStore(database),
        quarantine=QuarantineStore(database),
        notifier=Notifier(queue, enabled=settings.slack_bot_token is not None),
        repo_configs=RepoConfigLoader(),
    )
