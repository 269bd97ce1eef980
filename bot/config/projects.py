"""Terraform projects in ``.gitops-bot.yaml``: root modules, with Atlantis's meaning of each key."""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, model_validator

from bot.config.fields import Name, NonEmpty, ProjectName, RelativePath, StrictModel, WorkspaceName
from bot.terraform.drift_schedule import check_schedule

# Path relative to the project dir, fnmatch-style, as Atlantis's autoplan.when_modified.
DEFAULT_WHEN_MODIFIED: tuple[str, ...] = ("*.tf*", "*.tofu", ".terraform.lock.hcl")


class Autoplan(StrictModel):
    enabled: bool = True
    when_modified: tuple[NonEmpty, ...] = DEFAULT_WHEN_MODIFIED
    """Patterns relative to the project dir; a PR touching a matching file plans the project."""


# An exact release (pre-releases too: 1.10.0-rc1): it names a file, terraform-<version>, so nothing
# else (no constraint, no path) may reach the binary lookup.
_EXACT_VERSION = re.compile(r"\d+\.\d+\.\d+(?:-[0-9A-Za-z]+(?:\.[0-9A-Za-z]+)*)?")


def _exact_version(value: str) -> str:
    if not _EXACT_VERSION.fullmatch(value):
        raise ValueError(f"{value!r} is not an exact Terraform version such as 1.15.5 (or 1.10.0-rc1)")
    return value


TerraformVersion = Annotated[str, AfterValidator(_exact_version)]
ApplyRequirement = Literal["approved", "mergeable", "undiverged"]
DriftSchedule = Annotated[str, AfterValidator(check_schedule)]


class Drift(StrictModel):
    """Drift detection: the project is planned on the default branch on this schedule, and an
    issue "Drift in <project>" says what the plan would change (closed once it plans no change)."""

    schedule: DriftSchedule
    """A five-field cron expression in UTC, such as ``"0 */6 * * *"``."""


ApplyOn = Literal["comment", "merge"]


class Project(StrictModel):
    """A Terraform root module, with Atlantis's meaning of each key."""

    name: ProjectName
    """Defaults to ``dir`` (``dir/workspace`` when the workspace is not ``default``)."""
    dir: RelativePath
    workspace: WorkspaceName = "default"
    autoplan: Autoplan = Autoplan()
    apply_requirements: tuple[ApplyRequirement, ...] = ()
    """As Atlantis: none by default; ``permissions.apply`` still limits who may apply."""
    apply_on: ApplyOn = "comment"
    """``comment``: applied by ``/gitops apply``. ``merge``: the plan of the merged head is applied
    when the pull request merges, so the default branch equals the applied state; ``/gitops apply``
    is then refused for the project."""
    terraform_version: TerraformVersion | None = None
    """Atlantis's key: plan and apply with ``terraform-<version>`` (``tofu-<version>`` when the bot
    runs OpenTofu) instead of the default binary; when this bot has no such binary the project is
    refused, never run with another version."""
    drift: Drift | None = None
    """When set, the project is checked for drift on ``drift.schedule`` (none without)."""
    workflow: Name | None = None
    """A key of ``workflows:`` (:mod:`bot.config.workflows`): the steps its plan and apply run.
    None: init, plan, show; and init, apply."""
    execution_order_group: Annotated[int, Field(strict=True)] = 0
    """Atlantis's key: a pull request's plans and applies run group by group, lowest first (the
    projects of one group side by side, as many as the plan pool allows). With the repository's
    ``abort_on_execution_order_fail``, a group that failed stops the groups after it."""

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
