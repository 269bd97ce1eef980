"""Version 1 of ``.gitops-bot.yaml``, the GitOps repository's own configuration.

Every model forbids unknown keys, so a typo is an error rather than a silently ignored setting.
Durations are written ``30s``, ``10m``, ``1h`` or combined (``1h30m``) and stored as whole seconds;
a bare integer means seconds. Paths (``dir``, ``file``) are relative to the repository root.
Cross-references (``promote.to``, unique names) are checked by :class:`RepoConfig` and reported
with the path of the offending key; :func:`bot.config.loader.load_repo_config` adds line numbers.

The sections live beside this module (``fields``, ``projects``, ``deployments``, ``canary``) and
are re-exported here, so ``bot.config.schema`` still names every model.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Annotated, Literal

from pydantic import Field, ValidationInfo, model_validator

from bot.config.canary import Baseline, Canary, Metric, Readiness, RollbackSettings
from bot.config.deployments import (
    Deployment,
    ImageTrigger,
    ModelTrigger,
    Promote,
    PullRequestSettings,
    Target,
    Trigger,
)
from bot.config.fields import (
    PERMISSION_LEVELS,
    GitHubLogin,
    Name,
    PermissionEntry,
    SlackUserId,
    StrictModel,
    format_duration,
    parse_duration,
)
from bot.config.policies import Policy
from bot.config.projects import DEFAULT_WHEN_MODIFIED, ApplyOn, ApplyRequirement, Autoplan, Project
from bot.config.workflows import Workflow, workflow_problems
from bot.edits.paths import format_path, parse_path

__all__ = [
    "CROSS_CHECK_CONTEXT_KEY",
    "DEFAULT_WHEN_MODIFIED",
    "PERMISSION_LEVELS",
    "ApplyOn",
    "ApplyRequirement",
    "Autoplan",
    "Baseline",
    "Canary",
    "Command",
    "Deployment",
    "ImageTrigger",
    "Metric",
    "ModelTrigger",
    "Notify",
    "Permissions",
    "Policy",
    "Project",
    "Promote",
    "PullRequestSettings",
    "Readiness",
    "RepoConfig",
    "RollbackSettings",
    "SlackNotify",
    "Target",
    "Trigger",
    "Workflow",
    "format_duration",
    "parse_duration",
]

CROSS_CHECK_CONTEXT_KEY = "cross_check_errors"
"""Validation-context key: when it holds a list, cross-reference problems are appended to it as
``(loc, message)`` instead of being raised, so the loader can report each with its line."""


class SlackNotify(StrictModel):
    channel: Annotated[str, Field(min_length=1, pattern=r"^\S+$")]


class Notify(StrictModel):
    slack: SlackNotify | None = None


Command = Literal[
    "plan", "apply", "unlock", "rollback", "promote", "pause", "resume", "deploy", "approve_policies"
]


class Permissions(StrictModel):
    """Who may run each command: GitHub logins, ``team:<slug>``, or a permission level (or above)."""

    plan: tuple[PermissionEntry, ...] = ("write",)
    apply: tuple[PermissionEntry, ...] = ("write",)
    unlock: tuple[PermissionEntry, ...] = ("write",)
    rollback: tuple[PermissionEntry, ...] = ("write",)
    promote: tuple[PermissionEntry, ...] = ("write",)
    pause: tuple[PermissionEntry, ...] = ("write",)
    """Holds a canary's traffic steps where they are (``resume`` releases them)."""
    resume: tuple[PermissionEntry, ...] = ("write",)
    deploy: tuple[PermissionEntry, ...] = ("maintain",)
    """``deploy`` also lifts a rolled-back version's quarantine, hence the stricter default."""
    approve_policies: tuple[PermissionEntry, ...] = ("maintain",)
    """Lets an apply past failing policies: a maintainer's call, as Atlantis's policy owners."""

    def allows(
        self, command: Command, *, login: str, permission: str | None = None, teams: Collection[str] = ()
    ) -> bool:
        """Whether ``login`` (with repository ``permission``, member of team slugs ``teams``) may run it."""
        from bot.config.permissions import decide, parse_rule

        rule = parse_rule(getattr(self, command))
        return decide(rule, login=login, level=permission or "none", member_of=teams).allowed


class RepoConfig(StrictModel):
    version: Literal[1]
    projects: tuple[Project, ...] = ()
    deployments: tuple[Deployment, ...] = ()
    notify: Notify = Notify()
    users: dict[SlackUserId, GitHubLogin] = Field(default_factory=dict)
    """Slack user id → GitHub login, so Slack commands are checked against the same permissions."""
    permissions: Permissions = Permissions()
    policies: tuple[Policy, ...] = ()
    workflows: dict[Name, Workflow] = Field(default_factory=dict)
    """Custom Terraform workflows by name (:mod:`bot.config.workflows`); projects name them."""
    abort_on_execution_order_fail: bool = False
    """Atlantis's key: a group of ``execution_order_group`` that failed stops the later groups."""

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
        problems.extend(_policy_problems(self.policies, seen_projects))
        problems.extend(workflow_problems(self.projects, self.workflows))
        return problems

    # ----------------------------------------------------------------- lookups

    def deployment(self, name: str) -> Deployment | None:
        return next((deployment for deployment in self.deployments if deployment.name == name), None)

    def project(self, name: str) -> Project | None:
        return next((project for project in self.projects if project.name == name), None)

    def project_workflow(self, name: str) -> Workflow | None:
        """The workflow project ``name`` names (None: none, so the default steps run)."""
        project = self.project(name)
        return self.workflows.get(project.workflow) if project and project.workflow else None

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


def _policy_problems(
    policies: tuple[Policy, ...], projects: dict[str, int]
) -> list[tuple[tuple[str | int, ...], str]]:
    """Policy names are unique and name only configured projects."""
    problems: list[tuple[tuple[str | int, ...], str]] = []
    seen: set[str] = set()
    for index, policy in enumerate(policies):
        if policy.name in seen:
            problems.append((("policies", index, "name"), f"policy name {policy.name!r} is already used"))
        seen.add(policy.name)
        for position, project in enumerate(policy.projects):
            if project not in projects:
                problems.append(
                    (("policies", index, "projects", position), f"no project is named {project!r}")
                )
    return problems


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
