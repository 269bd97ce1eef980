"""What travels between the bot and a Terraform Job's pod: the spec and the result (pure).

The spec goes to the pod in its environment (``GITOPS_BOT_JOB_SPEC``); the result comes back in
the body of ``PUT .../result``. Both are JSON with a ``version``, read strictly: a missing or
unknown key, a wrong type, an absolute path or one with ``..`` is a :class:`WireError` naming
what is wrong. Paths are POSIX and relative to the root of the work tree the pod unpacks, which
they must not leave; the result is written by a pod that runs code from a pull request, so the
bot trusts nothing in it that it has not checked.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any, Literal, NoReturn, cast, get_args

from bot.adapters.terraform_cli.results import RunContext, Step, StepResult

WIRE_VERSION = 1
Operation = Literal["plan", "apply"]
OPERATIONS: tuple[Operation, ...] = get_args(Operation)
STEPS: tuple[Step, ...] = get_args(Step)
# What the result may weigh (the route refuses more with 413; the pod keeps under it).
MAX_RESULT_BYTES = 256 * 1024 * 1024

_SPEC_KEYS = frozenset(
    {
        "version",
        "operation",
        "directory",
        "workspace",
        "extra_args",
        "binary",
        "planfile",
        "timeouts",
        "workflow",
        "context",
    }
)
_CONTEXT_KEYS = frozenset(("repo", "number", "head_sha", "project"))
_OUTCOME_KEYS = frozenset(("version", "operation", "steps", "has_changes", "error", "planfile"))
_STEP_KEYS = frozenset(
    ("step", "argv", "exit_code", "output", "duration", "timed_out", "stdout", "truncated")
)


class WireError(ValueError):
    """A spec or result that is not what this version of the bot sends; the message says why."""


def _fail(where: str, message: str) -> NoReturn:
    raise WireError(f"{where}: {message}")


def relative_path(value: object, where: str) -> str:
    """``value`` as a relative POSIX path that stays inside the work tree (``.`` is its root)."""
    if not isinstance(value, str) or not value:
        _fail(where, "must be a non-empty string")
    if "\0" in value:
        _fail(where, "must not contain a NUL character")
    path = PurePosixPath(value)
    if path.is_absolute():
        _fail(where, f"must be relative to the work tree, not the absolute path {value!r}")
    if ".." in path.parts:
        _fail(where, f"must stay inside the work tree ({value!r} has '..')")
    return value


def _string(value: object, where: str, *, empty: bool = True) -> str:
    if not isinstance(value, str) or (not empty and not value):
        _fail(where, "must be a " + ("string" if empty else "non-empty string"))
    return value


def _integer(value: object, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        _fail(where, "must be an integer")
    return value


def _boolean(value: object, where: str) -> bool:
    if not isinstance(value, bool):
        _fail(where, "must be true or false")
    return value


def _number(value: object, where: str, *, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        _fail(where, "must be a finite number")
    if value < 0 or (positive and value == 0):
        _fail(where, "must be " + ("above 0" if positive else "0 or more"))
    return float(value)


def _strings(value: object, where: str) -> tuple[str, ...]:
    if not isinstance(value, list | tuple):
        _fail(where, "must be a list of strings")
    return tuple(_string(item, f"{where}[{index}]") for index, item in enumerate(value))


def _operation(value: object, where: str) -> Operation:
    if value not in OPERATIONS:
        _fail(where, f"must be one of {', '.join(OPERATIONS)}, not {value!r}")
    return value


def _binary(value: object, where: str) -> str:
    name = _string(value, where, empty=False)
    if "/" in name or name in (".", "..") or "\0" in name:
        _fail(where, f"must be an executable's name (looked up on PATH), not {name!r}")
    return name


def _timeouts(value: object, where: str) -> dict[str, float]:
    if not isinstance(value, Mapping):
        _fail(where, "must be an object of seconds by step")
    timeouts: dict[str, float] = {}
    for step, seconds in value.items():
        if step not in STEPS:
            _fail(where, f"has the unknown step {step!r} (steps: {', '.join(STEPS)})")
        timeouts[step] = _number(seconds, f"{where}.{step}", positive=True)
    return timeouts


def _workflow(value: object, where: str) -> dict[str, Any] | None:
    if value is not None and not isinstance(value, dict):
        _fail(where, "must be an object or null")
    return value


def _context(value: object, where: str) -> RunContext | None:
    """The pull request and project the run is for (a workflow's run steps see them)."""
    if value is None:
        return None
    document = _object(value, where, _CONTEXT_KEYS)
    return RunContext(
        repo=_string(document["repo"], f"{where}.repo", empty=False),
        number=_integer(document["number"], f"{where}.number"),
        head_sha=_string(document["head_sha"], f"{where}.head_sha"),
        project=_string(document["project"], f"{where}.project"),
    )


def _object(value: object, where: str, keys: frozenset[str]) -> dict[str, Any]:
    """A JSON object with exactly ``keys`` (a missing or an unknown one is named)."""
    if not isinstance(value, dict):
        _fail(where, "must be a JSON object")
    missing, unknown = sorted(keys - value.keys()), sorted(value.keys() - keys)
    if missing:
        _fail(where, f"misses {', '.join(missing)}")
    if unknown:
        _fail(where, f"has unknown keys {', '.join(map(str, unknown))}")
    return cast(dict[str, Any], value)


def _version(value: object, where: str) -> int:
    if isinstance(value, bool) or value != WIRE_VERSION:
        _fail(where, f"version {value!r} is not {WIRE_VERSION} (the bot and the pod run different versions?)")
    return WIRE_VERSION


def _refuse_constant(name: str) -> NoReturn:
    raise WireError(f"{name} is not a JSON number")


def _load(text: str | bytes, where: str) -> object:
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except UnicodeDecodeError as error:
        raise WireError(f"{where}: not UTF-8 ({error.reason})") from error
    except json.JSONDecodeError as error:
        where_in = f"line {error.lineno} column {error.colno}"
        raise WireError(f"{where}: not JSON ({error.msg} at {where_in})") from error
    except RecursionError as error:
        raise WireError(f"{where}: nested too deeply") from error


def _dump(document: Mapping[str, Any]) -> str:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


@dataclass(frozen=True, kw_only=True)
class JobSpec:
    """What one Job runs: the operation, in which directory of the work tree, how."""

    operation: Operation
    directory: str  # relative to the work tree's root ("." for the root itself)
    workspace: str
    extra_args: tuple[str, ...]
    binary: str  # an executable's name, looked up on the pod's PATH
    planfile: str  # relative to the work tree's root: written by a plan, applied by an apply
    timeouts: Mapping[str, float] = field(default_factory=dict)  # seconds by step; others: defaults
    workflow: dict[str, Any] | None = None  # the project's workflow as JSON (None: the default)
    context: RunContext | None = None
    version: int = WIRE_VERSION

    def __post_init__(self) -> None:
        _version(self.version, "spec")
        _operation(self.operation, "spec.operation")
        relative_path(self.directory, "spec.directory")
        relative_path(self.planfile, "spec.planfile")
        _string(self.workspace, "spec.workspace", empty=False)
        _strings(self.extra_args, "spec.extra_args")
        _binary(self.binary, "spec.binary")
        _timeouts(self.timeouts, "spec.timeouts")
        _workflow(self.workflow, "spec.workflow")
        if self.context is not None and not isinstance(self.context, RunContext):
            _fail("spec.context", "must be a RunContext")

    def to_json(self) -> str:
        return _dump(
            {
                "version": self.version,
                "operation": self.operation,
                "directory": self.directory,
                "workspace": self.workspace,
                "extra_args": list(self.extra_args),
                "binary": self.binary,
                "planfile": self.planfile,
                "timeouts": dict(self.timeouts),
                "workflow": self.workflow,
                "context": None if self.context is None else dataclasses.asdict(self.context),
            }
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> JobSpec:
        document = _object(_load(text, "spec"), "spec", _SPEC_KEYS)
        return cls(
            version=_version(document["version"], "spec"),
            operation=_operation(document["operation"], "spec.operation"),
            directory=relative_path(document["directory"], "spec.directory"),
            workspace=_string(document["workspace"], "spec.workspace", empty=False),
            extra_args=_strings(document["extra_args"], "spec.extra_args"),
            binary=_binary(document["binary"], "spec.binary"),
            planfile=relative_path(document["planfile"], "spec.planfile"),
            timeouts=_timeouts(document["timeouts"], "spec.timeouts"),
            workflow=_workflow(document["workflow"], "spec.workflow"),
            context=_context(document["context"], "spec.context"),
        )


def step_to_json(step: StepResult) -> dict[str, Any]:
    """A step as the result carries it (the pid means nothing outside the pod: left out)."""
    return {
        "step": step.step,
        "argv": list(step.argv),
        "exit_code": step.exit_code,
        "output": step.output,
        "duration": step.duration,
        "timed_out": step.timed_out,
        "stdout": step.stdout,
        "truncated": step.truncated,
    }


def step_from_json(value: object, where: str) -> StepResult:
    document = _object(value, where, _STEP_KEYS)
    if document["step"] not in STEPS:
        _fail(f"{where}.step", f"must be one of {', '.join(STEPS)}, not {document['step']!r}")
    return StepResult(
        step=cast(Step, document["step"]),
        argv=_strings(document["argv"], f"{where}.argv"),
        exit_code=_integer(document["exit_code"], f"{where}.exit_code"),
        output=_string(document["output"], f"{where}.output"),
        duration=_number(document["duration"], f"{where}.duration"),
        timed_out=_boolean(document["timed_out"], f"{where}.timed_out"),
        stdout=_string(document["stdout"], f"{where}.stdout"),
        truncated=_boolean(document["truncated"], f"{where}.truncated"),
    )


def _has_changes(value: object, operation: Operation) -> bool | None:
    if value is None:
        return None
    if operation != "plan":
        _fail("result.has_changes", "must be null for an apply")
    return _boolean(value, "result.has_changes")


def _error(value: object) -> str | None:
    return None if value is None else _string(value, "result.error")


def _planfile(value: object, operation: Operation) -> bytes | None:
    if value is None:
        return None
    if operation != "plan":
        _fail("result.planfile", "must be null for an apply")
    encoded = _string(value, "result.planfile")
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as error:
        raise WireError(f"result.planfile: not base64 ({error})") from error


@dataclass(frozen=True, kw_only=True)
class JobOutcome:
    """What the pod reports: every step it ran, and for a plan whether it changes anything and the
    plan file it wrote. ``error`` says why the operation failed (None: it succeeded)."""

    operation: Operation
    steps: tuple[StepResult, ...]
    has_changes: bool | None = None  # a plan only; None when it failed
    error: str | None = None
    planfile: bytes | None = None  # a plan only, when it wrote one
    version: int = WIRE_VERSION

    def __post_init__(self) -> None:
        _version(self.version, "result")
        _operation(self.operation, "result.operation")
        for index, step in enumerate(self.steps):
            if not isinstance(step, StepResult):
                _fail(f"result.steps[{index}]", "must be a step result")
        _has_changes(self.has_changes, self.operation)
        _error(self.error)
        if self.planfile is not None and (self.operation != "plan" or not isinstance(self.planfile, bytes)):
            _fail("result.planfile", "must be bytes, and only for a plan")

    def to_json(self) -> str:
        planfile = None if self.planfile is None else base64.b64encode(self.planfile).decode("ascii")
        return _dump(
            {
                "version": self.version,
                "operation": self.operation,
                "steps": [step_to_json(step) for step in self.steps],
                "has_changes": self.has_changes,
                "error": self.error,
                "planfile": planfile,
            }
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> JobOutcome:
        document = _object(_load(text, "result"), "result", _OUTCOME_KEYS)
        operation = _operation(document["operation"], "result.operation")
        steps = document["steps"]
        if not isinstance(steps, list):
            _fail("result.steps", "must be a list")
        return cls(
            version=_version(document["version"], "result"),
            operation=operation,
            steps=tuple(step_from_json(step, f"result.steps[{index}]") for index, step in enumerate(steps)),
            has_changes=_has_changes(document["has_changes"], operation),
            error=_error(document["error"]),
            planfile=_planfile(document["planfile"], operation),
        )
