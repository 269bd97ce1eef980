"""Custom workflows (Atlantis's ``workflows:``): which steps a plan and an apply run, and the rules
they follow (pure). :mod:`bot.adapters.terraform_cli.sequence` puts a stage's steps in order
(pure); :mod:`bot.adapters.terraform_cli.stages` runs them.

A workflow is plain data: ``Workflow.model_validate(workflow.model_dump(mode="json"))`` gives it
back, checked again, so it can travel to wherever Terraform runs (a Kubernetes Job's spec).

A workflow has a ``plan`` and an ``apply`` stage, each a list of ``steps``:

- ``init``, ``plan``, ``apply``: Terraform itself, optionally ``{extra_args: [...]}``; the
  arguments are checked against the same allowlist as a comment's (``safety``), and a comment's
  own extra arguments are added after the workflow's for ``plan`` and ``apply``.
- ``run: "shell command"``: ``sh -c`` in the project directory, in the same executor as Terraform
  (the sandbox by default; the Job's pod with the Kubernetes executor), with the variables of
  :func:`.sequence.run_variables`; its output is streamed and shown like Terraform's.
- ``env: {name: X, value: "v"}`` or ``env: {name: X, command: "..."}``: sets ``X`` for the
  steps after it, Terraform's included (the command's stdout, stripped, is the value; it is
  neither logged nor shown).

Rules (checked when the config is read, and again when a workflow arrives as JSON):

- a plan stage has exactly one ``plan`` and exactly one ``init`` before it (explicit, as
  Atlantis: no init is added for you); no ``apply``.
- an apply stage has exactly one ``apply``, at most one ``init`` (before the apply) and no
  ``plan``. Without an ``init`` one runs first anyway, with the plan stage's ``init``
  arguments: the apply happens in a fresh work tree, which has no providers until init.
- ``show -json`` always runs right after ``plan`` (summaries and policies read it); steps after
  the plan find it in ``$SHOWFILE``.
- a non-default workspace is selected right after ``init``, as without a workflow.
- a step that fails (non-zero exit, or its timeout) fails the stage; the steps after it do not
  run, and a plan stage that failed leaves no plan file.
- env names are identifiers; ``TF_WORKSPACE``, ``TF_CLI_ARGS*``, ``TF_IN_AUTOMATION``,
  ``TF_INPUT`` (which would change the state used or the flags that run) and the names of
  :data:`RUN_VARIABLES` are refused.

Without a workflow a project runs today's sequence exactly: init, workspace, plan, show; and for
apply init, workspace, apply (:data:`DEFAULT_WORKFLOW`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    model_serializer,
    model_validator,
)

from bot.adapters.terraform_cli.safety import ExtraArgsRefused, check_extra_args

RUN_VARIABLES: tuple[str, ...] = (
    "WORKSPACE",
    "DIR",
    "REPO_REL_DIR",
    "PROJECT_NAME",
    "PLANFILE",
    "SHOWFILE",
    "PULL_NUM",
    "HEAD_COMMIT",
    "BASE_REPO_OWNER",
    "BASE_REPO_NAME",
)
"""What a ``run`` step (and an ``env`` command) finds in its environment, as Atlantis names them."""

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_REFUSED_ENV = re.compile(r"TF_WORKSPACE|TF_CLI_ARGS(_.*)?|TF_IN_AUTOMATION|TF_INPUT")


class _Model(BaseModel):
    # Attribute docstrings become field descriptions in `gitops-bot schema`.
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


def _allowed_args(args: tuple[str, ...]) -> tuple[str, ...]:
    checked = check_extra_args(args)
    if isinstance(checked, ExtraArgsRefused):
        raise ValueError(checked.message)
    return checked


def _env_name(name: str) -> str:
    if not _ENV_NAME.fullmatch(name):
        raise ValueError(f"{name!r} is not an environment variable name (letters, digits, '_')")
    if _REFUSED_ENV.fullmatch(name):
        raise ValueError(f"{name} may not be set by a workflow (it would change the state or flags used)")
    if name in RUN_VARIABLES:
        raise ValueError(f"{name} is set by the bot for run steps")
    return name


class TerraformStep(_Model):
    extra_args: Annotated[tuple[str, ...], AfterValidator(_allowed_args)] = ()
    """Checked like a comment's extra arguments (the allowlist of ``safety``)."""


class EnvStep(_Model):
    name: Annotated[str, AfterValidator(_env_name)]
    value: str | None = None
    command: Annotated[str, Field(min_length=1)] | None = None

    @model_validator(mode="after")
    def _value_or_command(self) -> EnvStep:
        if (self.value is None) == (self.command is None):
            raise ValueError("an env step needs either value or command")
        return self


StepKind = Literal["init", "plan", "apply", "run", "env"]
_TERRAFORM_KINDS = ("init", "plan", "apply")


class WorkflowStep(_Model):
    """One step: exactly one of its keys. ``- init`` is short for ``- init: {}``."""

    init: TerraformStep | None = None
    plan: TerraformStep | None = None
    apply: TerraformStep | None = None
    run: Annotated[str, Field(min_length=1)] | None = None
    env: EnvStep | None = None

    @model_validator(mode="before")
    @classmethod
    def _short_forms(cls, data: Any) -> Any:
        if isinstance(data, str) and data in _TERRAFORM_KINDS:
            return {data: {}}
        if isinstance(data, str):
            raise ValueError(f"{data!r} is not a step: use init, plan, apply, run: or env:")
        if isinstance(data, dict):
            # ``- init:`` with nothing after it is YAML's null: the step without arguments.
            return {
                key: ({} if key in _TERRAFORM_KINDS and value is None else value)
                for key, value in data.items()
            }
        return data

    @model_validator(mode="after")
    def _exactly_one(self) -> WorkflowStep:
        present = [
            kind for kind in ("init", "plan", "apply", "run", "env") if getattr(self, kind) is not None
        ]
        if len(present) != 1:
            raise ValueError("a step is exactly one of init, plan, apply, run or env")
        return self

    @model_serializer(mode="wrap")
    def _its_key_only(self, handler: SerializerFunctionWrapHandler) -> Any:
        # {"run": "make check"}, not four nulls beside it: the dump reads like the config.
        dumped = handler(self)
        return {key: value for key, value in dumped.items() if value is not None}

    @property
    def kind(self) -> StepKind:
        for kind in ("init", "plan", "apply", "run", "env"):
            if getattr(self, kind) is not None:
                return kind
        raise AssertionError("validated: one key is set")

    @property
    def terraform(self) -> TerraformStep:
        """The init/plan/apply step's arguments."""
        step = self.init or self.plan or self.apply
        assert step is not None
        return step


def _count(steps: Sequence[WorkflowStep], kind: StepKind) -> int:
    return sum(1 for step in steps if step.kind == kind)


def _index(steps: Sequence[WorkflowStep], kind: StepKind) -> int:
    return next(index for index, step in enumerate(steps) if step.kind == kind)


class PlanStage(_Model):
    steps: tuple[WorkflowStep, ...] = (WorkflowStep(init=TerraformStep()), WorkflowStep(plan=TerraformStep()))

    @model_validator(mode="after")
    def _rules(self) -> PlanStage:
        if _count(self.steps, "plan") != 1:
            raise ValueError(
                f"a plan workflow needs exactly one plan step (it has {_count(self.steps, 'plan')})"
            )
        if _count(self.steps, "apply"):
            raise ValueError("apply is not a step of a plan workflow")
        if _count(self.steps, "init") != 1 or _index(self.steps, "init") > _index(self.steps, "plan"):
            raise ValueError(
                "a plan workflow needs one init step before its plan step (a fresh work tree has no "
                "providers or backend until init; it is not added for you)"
            )
        return self

    @property
    def init(self) -> TerraformStep:
        return self.steps[_index(self.steps, "init")].terraform


class ApplyStage(_Model):
    steps: tuple[WorkflowStep, ...] = (WorkflowStep(apply=TerraformStep()),)

    @model_validator(mode="after")
    def _rules(self) -> ApplyStage:
        if _count(self.steps, "apply") != 1:
            raise ValueError(
                f"an apply workflow needs exactly one apply step (it has {_count(self.steps, 'apply')})"
            )
        if _count(self.steps, "plan"):
            raise ValueError("plan is not a step of an apply workflow (apply applies the saved plan)")
        inits = _count(self.steps, "init")
        if inits > 1 or (inits and _index(self.steps, "init") > _index(self.steps, "apply")):
            raise ValueError("an apply workflow may have one init step, before its apply step")
        return self


class Workflow(_Model):
    """A project's plan and apply steps; a stage left out runs as without a workflow."""

    plan: PlanStage = PlanStage()
    apply: ApplyStage = ApplyStage()


DEFAULT_WORKFLOW = Workflow()


__all__ = [
    "DEFAULT_WORKFLOW",
    "RUN_VARIABLES",
    "ApplyStage",
    "EnvStep",
    "PlanStage",
    "StepKind",
    "TerraformStep",
    "Workflow",
    "WorkflowStep",
]
