"""Runtime settings, read from ``GITOPS_BOT_*`` environment variables and a ``.env`` file.

Nothing reads the environment anywhere else: the app factory and the CLI build one
``Settings`` and pass it down, so tests build theirs explicitly.
"""

from __future__ import annotations

import fnmatch
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.adapters.forge.names import ForgeKind, canonical_pattern, canonical_repo, gitlab_path, is_gitlab


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="GITOPS_BOT_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
    )

    database_url: str = "sqlite:///./gitops-bot.db"

    github_api_url: str = "https://api.github.com"
    github_token: SecretStr | None = None
    github_app_id: int | None = None
    # PEM text, or a path to a PEM file.
    github_app_private_key: SecretStr | None = None
    github_webhook_secret: SecretStr | None = None

    # GitLab (gitlab.com or self-managed): projects are named gitlab:group/subgroup/project.
    gitlab_url: str = "https://gitlab.com"
    # A project, group or bot-user access token with the api scope (and write_repository).
    gitlab_token: SecretStr | None = None
    gitlab_webhook_secret: SecretStr | None = None

    registry_token: SecretStr | None = None
    mlflow_webhook_secret: SecretStr | None = None
    # Where reviewers open a model version from the PR body, and the REST API the model gates read
    # (trigger.model.gates): the bot's only calls to MLflow.
    mlflow_tracking_url: str | None = None

    slack_signing_secret: SecretStr | None = None
    slack_bot_token: SecretStr | None = None
    slack_api_url: str = "https://slack.com/api/"

    prometheus_url: str = "http://127.0.0.1:9090"
    # Prometheus as people reach it, for the graph links in comments, Slack and the console
    # (prometheus_url is often an in-cluster address); None: prometheus_url.
    prometheus_public_url: str | None = None
    terraform_bin: str = "terraform"
    # Where projects' pinned versions (terraform_version: 1.15.5 → terraform-1.15.5 or tofu-1.15.5)
    # are looked for first; then PATH.
    terraform_bin_dir: Path | None = None
    data_dir: Path = Path("./.gitops-bot")

    repo_allowlist: Annotated[list[str], NoDecode] = Field(default_factory=list)
    gitops_repos: Annotated[list[str], NoDecode] = Field(default_factory=list)

    # None means "decide from credentials": dry-run when no forge credentials are set.
    dry_run: bool | None = None

    # Additions beyond the contract (documented in the README).
    # The handler set: "module:attribute" naming a Router, or a function returning one.
    # Operators add their own handlers with a module whose router includes the default one.
    handlers: str = "handlers:default_router"
    github_timeout_seconds: float = 15.0
    github_seconds_between_writes: float = 1.0
    github_max_retry_wait_seconds: float = 60.0
    gitlab_timeout_seconds: float = 15.0
    gitlab_retries: int = 3
    # How to clone a GitLab project, e.g. "ssh://git@gitlab.example.com/{repo}.git" ({repo}: its path);
    # default: {gitlab_url}/{repo}.git over HTTPS with the token.
    gitlab_git_url_template: str | None = None
    git_author_name: str = "gitops-bot"
    git_author_email: str = "gitops-bot@users.noreply.github.com"
    git_command_timeout_seconds: float = 120.0
    git_network_timeout_seconds: float = 900.0
    git_lock_timeout_seconds: float = 900.0
    git_partial_clone: bool = True
    # Where GitOps repositories and their pull requests live: github, gitlab, or local (bare
    # repositories under local_repos_dir, pull requests in the database). None: github when GitHub
    # credentials are set, else gitlab when a GitLab token is, else local. GitHub and GitLab may be
    # configured together: a repository's name says which it is on (gitlab:group/project).
    forge: Literal["github", "gitlab", "local"] | None = None
    local_repos_dir: Path = Path(".gitops-bot/repos")
    # How to clone a repository, e.g. "https://git.example.com/{repo}.git"; derived from the
    # API URL when unset (api.github.com → https://github.com/{repo}.git).
    git_url_template: str | None = None

    terraform_max_parallel_plans: int = 3
    terraform_init_timeout_seconds: float = 600.0
    terraform_plan_timeout_seconds: float = 1800.0
    terraform_apply_timeout_seconds: float = 3600.0
    terraform_kill_grace_seconds: float = 10.0
    # How long a saved plan (stored in the database) may be applied; older ones: plan again.
    terraform_plan_ttl_seconds: float = Field(default=7 * 24 * 3600.0, gt=0)
    # Extra environment variable patterns passed to terraform (e.g. AWS_*,GOOGLE_*,ARM_*).
    terraform_env_passthrough: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # sandbox: every terraform command in bubblewrap (sees only its work tree, none of the bot's
    # secrets); local: a plain child process, announced at start-up, in /readyz and on every plan.
    # kubernetes: each plan and apply runs as a Job in terraform_job_namespace (the job_* settings).
    terraform_executor: Literal["sandbox", "local", "kubernetes"] = "sandbox"
    # More paths the sandbox hides (mounted secret directories or files), comma-separated.
    terraform_sandbox_hide: Annotated[list[Path], NoDecode] = Field(default_factory=list)
    # The Kubernetes Job runner (terraform_executor=kubernetes). The chart sets the image to the
    # bot's own and the callback URL to the bot's Service; the pod fetches its work tree from there
    # and sends its result back, with a token that only serves that one run.
    terraform_job_namespace: str | None = None
    terraform_job_image: str | None = None
    terraform_job_service_account: str | None = None
    # The Secret whose keys become the Job's environment (cloud credentials); the operator's,
    # never named by a repository.
    terraform_job_env_secret: str | None = None
    # Per project, server-side: {"owner/repo:project": "secret", "owner/repo": "secret"} (JSON).
    terraform_job_env_secrets: dict[str, str] = Field(default_factory=dict)
    terraform_job_callback_url: str | None = None
    # Container resources ({"requests": {...}, "limits": {...}}), node selector and tolerations (JSON).
    terraform_job_resources: dict[str, dict[str, str]] = Field(
        default_factory=lambda: {"requests": {"cpu": "500m", "memory": "512Mi"}, "limits": {"memory": "2Gi"}}
    )
    terraform_job_node_selector: dict[str, str] = Field(default_factory=dict)
    terraform_job_tolerations: list[dict[str, str | int]] = Field(default_factory=list)
    # How long a finished Job stays for kubectl logs (ttlSecondsAfterFinished).
    terraform_job_keep_seconds: int = Field(default=3600, ge=0)
    terraform_job_poll_seconds: float = Field(default=1.0, gt=0)
    # The base URL of links the bot writes (statuses, comments, Slack); default: the serve address.
    public_url: str | None = None
    # Who may look at the console and act in it: github (an OAuth app), token, or none (only
    # when `serve` binds loopback). None: none on loopback; `serve` elsewhere refuses to start.
    console_auth: Literal["github", "token", "none"] | None = None
    console_token: SecretStr | None = None
    github_oauth_client_id: str | None = None
    github_oauth_client_secret: SecretStr | None = None
    # The GitHub login `token` and `none` act as, for `permissions:` and the audit log.
    console_login: str = "console"
    # Signs the session cookie; None: derived from the console token or the OAuth client secret.
    console_session_secret: SecretStr | None = None
    # The cookie's Secure flag; None: decided by `serve` (off only on loopback over http).
    console_cookie_secure: bool | None = None
    allow_fork_prs: bool = False

    prometheus_timeout_seconds: float = 10.0
    prometheus_retries: int = 1
    canary_selector: str = 'deployment="{{ deployment }}",version="{{ version }}"'
    canary_http_selector: str | None = None
    canary_replica_label: str = "instance"
    canary_gpu_price_per_hour: float | None = None
    canary_gpus_per_replica: int = 1

    # Kubernetes readiness gate: off unless one way to reach the API is configured.
    kubernetes_in_cluster: bool = False
    kubeconfig: Path | None = None
    kubernetes_context: str | None = None
    kubernetes_api_url: str | None = None
    kubernetes_token: SecretStr | None = None
    kubernetes_ca_cert: Path | None = None
    kubernetes_verify_ssl: bool = True
    kubernetes_request_timeout_seconds: float = 10.0
    rollout_poll_seconds: float = 5.0

    max_body_bytes: int = 25 * 1024 * 1024
    signature_window_seconds: int = 300
    workers: int = 4
    job_lease_seconds: float = 60.0
    job_max_attempts: int = 5
    job_poll_interval_seconds: float = 0.5
    # PostgreSQL: idle workers are told of new jobs (LISTEN/NOTIFY) instead of polling every
    # job_poll_interval_seconds. Off for a pooler that does not pass LISTEN through (PgBouncer
    # in transaction mode); the workers then poll, as on SQLite.
    job_notifications: bool = True
    scheduler_tick_seconds: float = 1.0
    scheduler_lease_seconds: float = 15.0
    log_level: str = "INFO"
    # JSON lines (true) or readable lines (false); None: readable on a terminal, JSON otherwise.
    log_json: bool | None = None
    # GITOPS_BOT_URL: where `gitops-bot send-event` finds the running bot (its --url overrides it).
    url: str = "http://127.0.0.1:8080"

    @field_validator(
        "repo_allowlist", "gitops_repos", "terraform_env_passthrough", "terraform_sandbox_hide", mode="before"
    )
    @classmethod
    def _csv(cls, value: object) -> object:
        return _split_csv(value)

    @property
    def has_github_credentials(self) -> bool:
        return self.github_token is not None or (
            self.github_app_id is not None and self.github_app_private_key is not None
        )

    @property
    def has_gitlab_credentials(self) -> bool:
        return self.gitlab_token is not None and bool(self.gitlab_token.get_secret_value())

    @property
    def has_forge_credentials(self) -> bool:
        return self.has_github_credentials or self.has_gitlab_credentials

    @property
    def default_repo_forge(self) -> ForgeKind:
        """The forge of a repository named without a prefix: GitHub, unless GitLab is the only one."""
        return "gitlab" if self.effective_forge == "gitlab" else "github"

    @model_validator(mode="after")
    def _canonical_repos(self) -> Settings:
        """``github:owner/name`` → ``owner/name``; with GitLab the only forge, ``group/project`` →
        ``gitlab:group/project``: every repository has one name everywhere."""
        default = self.default_repo_forge
        try:
            repos = [canonical_repo(name, default) for name in self.gitops_repos]
        except ValueError as error:
            raise ValueError(f"GITOPS_BOT_GITOPS_REPOS: {error}") from None
        patterns = [canonical_pattern(pattern, default) for pattern in self.repo_allowlist]
        self.gitops_repos, self.repo_allowlist = repos, patterns
        return self

    @property
    def kubernetes_configured(self) -> bool:
        return (
            self.kubernetes_in_cluster or self.kubeconfig is not None or self.kubernetes_api_url is not None
        )

    @property
    def effective_forge(self) -> str:
        """``GITOPS_BOT_FORGE``, or when unset: github with GitHub credentials, else local."""
        if self.forge is not None:
            return self.forge
        if self.has_github_credentials:
            return "github"
        return "gitlab" if self.has_gitlab_credentials else "local"

    @property
    def effective_dry_run(self) -> bool:
        """``GITOPS_BOT_DRY_RUN``, or when unset: dry run on GitHub without credentials (nothing
        could be written); the local forge writes its own repositories, so it acts."""
        if self.dry_run is not None:
            return self.dry_run
        if self.effective_forge == "local":
            return False
        return not self.has_forge_credentials

    @property
    def github_web_url(self) -> str:
        """GitHub's web address (OAuth sign-in, clones): api.github.com → https://github.com;
        GitHub Enterprise Server's https://host/api/v3 → https://host."""
        api = self.github_api_url.rstrip("/")
        if api == "https://api.github.com":
            return "https://github.com"
        return api.removesuffix("/api/v3")

    def pull_url_pattern(self, repo: str) -> str:
        """A pull request's web address, ``{number}`` left to fill in."""
        if is_gitlab(repo):
            return f"{self.gitlab_url.rstrip('/')}/{gitlab_path(repo)}/-/merge_requests/{{number}}"
        return f"{self.github_web_url}/{repo}/pull/{{number}}"

    def clone_url(self, repo: str) -> str:
        if is_gitlab(repo):
            path = gitlab_path(repo)
            if self.gitlab_git_url_template:
                return self.gitlab_git_url_template.format(repo=path)
            return f"{self.gitlab_url.rstrip('/')}/{path}.git"
        if self.git_url_template:
            return self.git_url_template.format(repo=repo)
        if self.effective_forge == "local":
            return (self.local_repos_dir.resolve() / f"{repo}.git").as_uri()
        return f"{self.github_web_url}/{repo}.git"

    def repo_allowed(self, full_name: str) -> bool:
        """An empty allowlist allows every repository the credentials reach."""
        if not self.repo_allowlist:
            return True
        name = full_name.lower()
        return any(fnmatch.fnmatchcase(name, pattern.lower()) for pattern in self.repo_allowlist)
