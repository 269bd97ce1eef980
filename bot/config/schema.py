"""Version 1 of ``.gitops-bot.yaml``, the GitOps repository's own configuration.

Every model forbids unknown keys, so a typo is an error rather than a silently ignored setting.
Durations are written ``30s``, ``10m``, ``1h`` or combined (``1h30m``) and stored as whole seconds;
a bare integer means seconds. Paths (``dir``, ``file``) are relative to the repository root.
Cross-references (``promote.to``, unique names) are checked by :class:`RepoConfig` and reported
with the path of the offending key; :func:`bot.config.loader.load_repo_config` adds line numbers.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from pathlib import PurePosixPath
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    model_validator,
)

from bot.config.permissions import CONFIG_LEVELS
from bot.edits import file_kind
from bot.edits.paths import InvalidPath, format_path, parse_path
from bot.images import InvalidImageReference, TargetFormat, repository_matches, split_repository_name
from bot.versions import DEFAULT_TAG_POLICY, InvalidPolicy, TagPolicy, parse_tag_policy

# Path relative to the project dir, fnmatch-style, as Atlantis's autoplan.when_modified.
DEFAULT_WHEN_MODIFIED: tuple[str, ...] = ("*.tf*", "*.tofu", ".terraform.lock.hcl")

PERMISSION_LEVELS: tuple[str, ...] = CONFIG_LEVELS
"""GitHub repository permission levels, weakest first: a level entry admits that level and above."""

CROSS_CHECK_CONTEXT_KEY = "cross_check_errors"
"""Validation-context key: when it holds a list, cross-reference problems are appended to it as
``(loc, message)`` instead of being raised, so the loader can report each with its line."""

_DURATION = re.compile(r"(?:(?P<h>\d+)h)?(?:(?P<m>\d+)m)?(?:(?P<s>\d+)s)?")
_GITHUB_LOGIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}")
_TEAM_SLUG = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_SLACK_USER_ID = re.compile(r"[UW][A-Z0-9]{2,}")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_PROJECT_NAME = re.compile(r"[A-Za-z0-9._][A-Za-z0-9._/-]*")
_DNS_LABEL = re.compile(r"[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9](?:[-a-z0-9.]{0,251}[a-z0-9])?")
_METRIC_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_:.-]*")


def parse_duration(value: object) -> int:
    """``30s``/``10m``/``1h``/``1h30m`` or an integer number of seconds → seconds."""
    if isinstance(value, bool):
        raise ValueError("expected a duration like 30s, 10m or 1h")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        match = _DURATION.fullmatch(value.strip())
        if match and any(match.groupdict().values()):
            hours, minutes, seconds = (int(match.group(unit) or 0) for unit in "hms")
            return hours * 3600 + minutes * 60 + seconds
    raise ValueError(f"expected a duration like 30s, 10m, 1h or 1h30m, got {value!r}")


def format_duration(seconds: int) -> str:
    """Seconds as a Prometheus range duration (``90`` → ``1m30s``), used for ``{{ interval }}``."""
    if seconds <= 0:
        return "0s"
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return "".join(
        f"{amount}{unit}" for amount, unit in ((hours, "h"), (minutes, "m"), (secs, "s")) if amount
    )


def _relative_path(value: str) -> str:
    if not value.strip() or value != value.strip():
        raise ValueError("must be a non-empty path without surrounding spaces")
    if "\\" in value:
        raise ValueError("use forward slashes")
    path = PurePosixPath(value)
    if path.is_absolute() or ".." in path.parts:
        raise ValueError("must be relative to the repository root and stay inside it (no leading / or ..)")
    return str(path)


def _pattern(regex: re.Pattern[str], what: str) -> AfterValidator:
    def check(value: str) -> str:
        if not regex.fullmatch(value):
            raise ValueError(f"{value!r} is not a valid {what}")
        return value

    return AfterValidator(check)


def _permission_entry(value: str) -> str:
    if value in PERMISSION_LEVELS:
        return value
    if value.startswith("team:"):
        if _TEAM_SLUG.fullmatch(value.removeprefix("team:")):
            return value
        raise ValueError(f"{value!r}: team:<slug> needs a team slug such as team:ml-platform")
    if _GITHUB_LOGIN.fullmatch(value):
        return value
    raise ValueError(
        f"{value!r} is not a GitHub login, team:<slug>, "
        f"or a permission level ({', '.join(PERMISSION_LEVELS)})"
    )


def _reviewer(value: str) -> str:
    if value.startswith("team:") and _TEAM_SLUG.fullmatch(value.removeprefix("team:")):
        return value
    if _GITHUB_LOGIN.fullmatch(value):
        return value
    raise ValueError(f"{value!r} is not a GitHub login or team:<slug>")


def _key_path(value: str) -> str:
    try:
        parse_path(value)
    except InvalidPath as exc:
        raise ValueError(str(exc)) from exc
    return value


def _image_repository(value: str) -> str:
    last = value.rsplit("/", 1)[-1]
    if "@" in value or ":" in last:
        raise ValueError("name the repository only, without a tag or digest (the tags key chooses tags)")
    try:
        split_repository_name(value)
    except InvalidImageReference as exc:
        raise ValueError(str(exc)) from exc
    return value


def _tag_policy(value: str) -> str:
    try:
        parse_tag_policy(value)
    except InvalidPolicy as exc:
        raise ValueError(str(exc)) from exc
    return value


Duration = Annotated[int, BeforeValidator(parse_duration), Field(ge=1)]
RelativePath = Annotated[str, AfterValidator(_relative_path)]
Name = Annotated[str, _pattern(_NAME, "name (letters, digits, '.', '_', '-')")]
GitHubLogin = Annotated[str, _pattern(_GITHUB_LOGIN, "GitHub login")]
SlackUserId = Annotated[str, _pattern(_SLACK_USER_ID, "Slack user id (like U2CERLKJA)")]
PermissionEntry = Annotated[str, AfterValidator(_permission_entry)]
Reviewer = Annotated[str, AfterValidator(_reviewer)]
NonEmpty = Annotated[str, Field(min_length=1)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --------------------------------------------------------------------------- Terraform projects


class Autoplan(_Model):
    enabled: bool = True
    when_modified: tuple[NonEmpty, ...] = DEFAULT_WHEN_MODIFIED
    """Patterns relative to the project dir; a PR touching a matching file plans the project."""


ApplyRequirement = Literal["approved", "mergeable", "undiverged"]
ApplyOn = Literal["comment", "merge"]


class Project(_Model):
    """A Terraform root module, with Atlantis's meaning of each key."""

    name: Annotated[str, _pattern(_PROJECT_NAME, "project name")]
    """Defaults to ``dir`` (``dir/workspace`` when the workspace is not ``default``)."""
    dir: RelativePath
    workspace: Annotated[str, _pattern(_NAME, "Terraform workspace name")] = "default"
    autoplan: Autoplan = Autoplan()
    apply_requirements: tuple[ApplyRequirement, ...] = ()
    """As Atlantis: none by default; ``permissions.apply`` still limits who may apply."""
    apply_on: ApplyOn = "comment"
    """``comment``: applied by ``/gitops apply``. ``merge``: the plan of the merged head is applied
    when the pull request merges, so the default branch equals the applied state; ``/gitops apply``
    is then refused for the project."""

    @model_validator(mode="before")
    @classmethod
    def _default_name(cls, data: Any) -> Any:
        if isinstance(data, dict) and "name" not in data and isinstance(data.get("dir"), str):
            data = dict(data)
            directory = str(PurePosixPath(data["dir"])) if data["dir"].strip() else data["dir"]
            workspace = data.get("workspace", "default")
            data["name"] = directory if workspace == "default" else f"{directory}/{workspace}"
        return data

    @model_validator(mode="after")
    def _no_repeated_requirements(self) -> Project:
        if len(set(self.apply_requirements)) != len(self.apply_requirements):
            raise ValueError("apply_requirements lists a requirement twice")
        return self


# --------------------------------------------------------------------------- deployments


class ImageTrigger(_Model):
    repository: Annotated[str, AfterValidator(_image_repository)]
    """``registry.example.com/serving/chat-llm``; without a host it means Docker Hub (see bot.images)."""
    tags: Annotated[str, AfterValidator(_tag_policy)] = DEFAULT_TAG_POLICY
    """``semver:<range>``, ``regex:<pattern>`` or an exact tag; default: any stable semantic version."""

    @property
    def policy(self) -> TagPolicy:
        return parse_tag_policy(self.tags)

    def matches(self, repository: str, host: str | None = None) -> bool:
        return repository_matches(self.repository, repository, host)


class ModelTrigger(_Model):
    """An MLflow registered model: with ``alias``, fires when the alias is set; else on each new version."""

    name: NonEmpty
    alias: NonEmpty | None = None
    versions: Annotated[str, AfterValidator(_tag_policy)] = DEFAULT_TAG_POLICY
    """Policy for MLflow version numbers (``7`` reads as 7.0.0); default: any version."""

    @property
    def policy(self) -> TagPolicy:
        return parse_tag_policy(self.versions)


class Trigger(_Model):
    image: ImageTrigger | None = None
    model: ModelTrigger | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Trigger:
        if (self.image is None) == (self.model is None):
            raise ValueError("give exactly one of image or model")
        return self

    @property
    def policy(self) -> TagPolicy:
        source = self.image if self.image is not None else self.model
        assert source is not None  # guaranteed by _exactly_one
        return source.policy


class Target(_Model):
    """A file the new version is written into: a YAML ``key`` or a tfvars ``variable``.

    Paths use ``bot.edits.paths`` syntax: ``image.tag``, ``containers[0].image.tag`` (``a.b.0.c``
    works too), ``serving.chat_llm.version``; quote a key containing dots: ``annotations."a.b/c"``.
    """

    file: RelativePath
    key: Annotated[str, AfterValidator(_key_path)] | None = None
    variable: Annotated[str, AfterValidator(_key_path)] | None = None
    format: TargetFormat = "tag"
    """What is written: ``tag`` (default; the version for model triggers), ``digest``,
    ``tag@digest``, ``image`` (``repository:tag``) or ``image@digest``."""

    @model_validator(mode="after")
    def _one_location(self) -> Target:
        if (self.key is None) == (self.variable is None):
            raise ValueError(
                "give exactly one of key (YAML files) or variable (.tfvars / .tfvars.json files)"
            )
        kind = file_kind(self.file)
        if kind is None:
            raise ValueError(f"{self.file}: only .yaml, .yml, .tfvars and .tfvars.json files can be targets")
        if kind == "yaml" and self.key is None:
            raise ValueError(f"{self.file} is a YAML file: address the value with key, not variable")
        if kind != "yaml" and self.variable is None:
            raise ValueError(f"{self.file} is a tfvars file: address the value with variable, not key")
        return self

    @property
    def location(self) -> str:
        return self.key if self.key is not None else str(self.variable)


class PullRequestSettings(_Model):
    labels: tuple[NonEmpty, ...] = ()
    reviewers: tuple[Reviewer, ...] = ()
    """GitHub logins, or ``team:<slug>`` for team reviewers."""
    automerge: bool = False


class Baseline(_Model):
    relative_max: float = Field(gt=0)
    """The canary's value may be at most this multiple of the stable version's value."""


class Metric(_Model):
    name: Annotated[str, _pattern(_METRIC_NAME, "metric name")]
    query: NonEmpty
    """PromQL; ``{{ deployment }}``, ``{{ version }}`` and ``{{ interval }}`` are filled in."""
    min: float | None = None
    max: float | None = None
    baseline: Baseline | None = None

    @model_validator(mode="after")
    def _has_threshold(self) -> Metric:
        if self.min is None and self.max is None and self.baseline is None:
            raise ValueError("give at least one of min, max or baseline")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is greater than max ({self.max})")
        return self


class Readiness(_Model):
    """Wait for this Kubernetes Deployment's rollout before the first analysis interval."""

    namespace: Annotated[str, _pattern(_DNS_LABEL, "Kubernetes namespace")]
    deployment: Annotated[str, _pattern(_DNS_SUBDOMAIN, "Kubernetes Deployment name")]
    timeout: Duration = 300


class RollbackSettings(_Model):
    automerge: bool = False


class Canary(_Model):
    interval: Duration = 60
    duration: Duration = 600
    failure_limit: int = Field(2, ge=1)
    """Consecutive failing intervals before the on_failure action."""
    min_requests: int = Field(1, ge=0)
    """An interval with fewer samples is inconclusive, not failed."""
    inconclusive_limit: int = Field(3, ge=1)
    """Consecutive inconclusive intervals after which the analysis stops and notifies."""
    metrics: tuple[Metric, ...] = ()
    readiness: Readiness | None = None
    on_failure: Literal["revert", "notify"] = "revert"
    rollback: RollbackSettings = RollbackSettings()

    @model_validator(mode="after")
    def _consistent(self) -> Canary:
        if self.duration < self.interval:
            raise ValueError(
                f"duration ({format_duration(self.duration)}) is shorter than interval "
                f"({format_duration(self.interval)})"
            )
        names = [metric.name for metric in self.metrics]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"metric names must be unique; repeated: {', '.join(repeated)}")
        return self

    @property
    def intervals(self) -> int:
        """How many analysis intervals fit in the duration."""
        return max(1, self.duration // self.interval)


class Promote(_Model):
    to: Name


class Deployment(_Model):
    name: Name
    trigger: Trigger
    targets: tuple[Target, ...] = Field(min_length=1)
    pull_request: PullRequestSettings = PullRequestSettings()
    canary: Canary | None = None
    """Without a canary section a merged update is not analysed."""
    promote: Promote | None = None


# --------------------------------------------------------------------------- repository-wide


class SlackNotify(_Model):
    channel: Annotated[str, Field(min_length=1, pattern=r"^\S+$")]


class Notify(_Model):
    slack: SlackNotify | None = None


Command = Literal["plan", "apply", "unlock", "rollback", "promote", "deploy"]


class Permissions(_Model):
    """Who may run each command: GitHub logins, ``team:<slug>``, or a permission level (or above)."""

    plan: tuple[PermissionEntry, ...] = ("write",)
    apply: tuple[PermissionEntry, ...] = ("write",)
    unlock: tuple[PermissionEntry, ...] = ("write",)
    rollback: tuple[PermissionEntry, ...] = ("write",)
    promote: tuple[PermissionEntry, ...] = ("write",)
    deploy: tuple[PermissionEntry, ...] = ("maintain",)
    """``deploy`` also lifts a rolled-back version's quarantine, hence the stricter default."""

    def allows(
        self, command: Command, *, login: str, permission: str | None = None, teams: Collection[str] = ()
    ) -> bool:
        """Whether ``login`` (with repository ``permission``, member of team slugs ``teams``) may run it."""
        from bot.config.permissions import decide, parse_rule

        rule = parse_rule(getattr(self, command))
        return decide(rule, login=login, level=permission or "none", member_of=teams).allowed


class RepoConfig(_Model):
    version: Literal[1]
    projects: tuple[Project, ...] = ()
    deployments: tuple[Deployment, ...] = ()
    notify: Notify = Notify()
    users: dict[SlackUserId, GitHubLogin] = Field(default_factory=dict)
    """Slack user id → GitHub login, so Slack commands are checked against the same permissions."""
    permissions: Permissions = Permissions()

    @model_validator(mode="after")
    def _cross_references(self, info: ValidationInfo) -> RepoConfig:
        problems = self.cross_reference_problems()
        sink = (info.context or {}).get(CROSS_CHECK_CONTEXT_KEY) if info.context is not None else None
        if isinstance(sink, list):
            sink.extend(problems)
        elif problems:
            raise ValueError("; ".join(f"{_loc_text(loc)}: {message}" for loc, message in problems))
        return self

    def cross_reference_problems(self) -> list[tuple[tuple[str | int, ...], str]]:
        """Problems spanning several entries, each with the location of the key to fix."""
        problems: list[tuple[tuple[str | int, ...], str]] = []
        seen_projects: dict[str, int] = {}
        seen_dirs: dict[tuple[str, str], int] = {}
        for index, project in enumerate(self.projects):
            if project.name in seen_projects:
                problems.append(
                    (
                        ("projects", index, "name"),
                        f"project name {project.name!r} is already used by "
                        f"projects[{seen_projects[project.name]}]",
                    )
                )
            seen_projects.setdefault(project.name, index)
            place = (project.dir, project.workspace)
            if place in seen_dirs:
                problems.append(
                    (
                        ("projects", index, "dir"),
                        f"dir {project.dir!r} with workspace {project.workspace!r} "
                        f"is already projects[{seen_dirs[place]}]",
                    )
                )
            seen_dirs.setdefault(place, index)

        names: dict[str, int] = {}
        for index, deployment in enumerate(self.deployments):
            if deployment.name in names:
                problems.append(
                    (
                        ("deployments", index, "name"),
                        f"deployment name {deployment.name!r} is already used by "
                        f"deployments[{names[deployment.name]}]",
                    )
                )
            names.setdefault(deployment.name, index)
        for index, deployment in enumerate(self.deployments):
            problems.extend(_deployment_problems(index, deployment, names))
            problems.extend(_promotion_cycle(index, deployment, self))
        return problems

    # ----------------------------------------------------------------- lookups

    def deployment(self, name: str) -> Deployment | None:
        return next((deployment for deployment in self.deployments if deployment.name == name), None)

    def project(self, name: str) -> Project | None:
        return next((project for project in self.projects if project.name == name), None)

    def deployments_for_image(self, repository: str, host: str | None = None) -> tuple[Deployment, ...]:
        """Deployments whose image trigger matches this push (rules: ``bot.images.repository_matches``)."""
        return tuple(
            deployment
            for deployment in self.deployments
            if deployment.trigger.image is not None and deployment.trigger.image.matches(repository, host)
        )

    def deployments_for_model(self, name: str, alias: str | None = None) -> tuple[Deployment, ...]:
        """Deployments triggered by MLflow model ``name``: setting ``alias``, or (None) a new version."""
        return tuple(
            deployment
            for deployment in self.deployments
            if deployment.trigger.model is not None
            and deployment.trigger.model.name == name
            and deployment.trigger.model.alias == alias
        )

    def github_login(self, slack_user_id: str) -> str | None:
        return self.users.get(slack_user_id)


def _deployment_problems(
    index: int, deployment: Deployment, names: dict[str, int]
) -> list[tuple[tuple[str | int, ...], str]]:
    problems: list[tuple[tuple[str | int, ...], str]] = []
    if deployment.promote is not None:
        promoted_to = deployment.promote.to
        if promoted_to == deployment.name:
            problems.append(
                (("deployments", index, "promote", "to"), "a deployment cannot promote to itself")
            )
        elif promoted_to not in names:
            known = ", ".join(names) or "none"
            problems.append(
                (
                    ("deployments", index, "promote", "to"),
                    f"no deployment named {promoted_to!r} (deployments: {known})",
                )
            )
    seen: dict[tuple[str, str], int] = {}
    for position, target in enumerate(deployment.targets):
        if deployment.trigger.model is not None and target.format != "tag":
            problems.append(
                (
                    ("deployments", index, "targets", position, "format"),
                    f"format {target.format!r} needs an image trigger; "
                    "a model trigger writes its version (format: tag)",
                )
            )
        place = (target.file, format_path(parse_path(target.location)))
        if place in seen:
            problems.append(
                (
                    ("deployments", index, "targets", position),
                    f"{target.file} {target.location} is already targets[{seen[place]}]",
                )
            )
        seen.setdefault(place, position)
    return problems


def _promotion_cycle(
    index: int, deployment: Deployment, config: RepoConfig
) -> list[tuple[tuple[str | int, ...], str]]:
    chain = [deployment.name]
    current = deployment
    while current.promote is not None:
        following = config.deployment(current.promote.to)
        if following is None or following.name == current.name:
            return []
        if following.name == deployment.name:
            loop = " -> ".join([*chain, deployment.name])
            return [(("deployments", index, "promote", "to"), f"promotions form a loop: {loop}")]
        if following.name in chain:
            return []  # a loop not through this deployment; reported at its own members
        chain.append(following.name)
        current = following
    return []


def _loc_text(loc: tuple[str | int, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text
