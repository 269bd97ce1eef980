"""The spec and the result as they travel: round trips, and every kind of bad input refused by name."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from bot.adapters.terraform_cli.results import RunContext, StepResult
from bot.adapters.terraform_jobs.wire import WIRE_VERSION, JobOutcome, JobSpec, WireError

SPEC: dict[str, Any] = {
    "version": 1,
    "operation": "plan",
    "directory": "terraform/staging",
    "workspace": "default",
    "extra_args": ["-var", "x=1"],
    "binary": "terraform",
    "planfile": "terraform/staging/gitops-bot-default.tfplan",
    "timeouts": {"init": 600.0, "plan": 1800, "apply": 3600.0},
    "workflow": None,
    "context": {
        "repo": "acme/infra",
        "number": 7,
        "head_sha": "abc123",
        "project": "staging|terraform/staging|default",
    },
}

INIT = StepResult("init", ("terraform", "init"), 0, "Initialized!\n", 1.5, False, "Initialized!\n")
PLAN = StepResult("plan", ("terraform", "plan"), 2, "Plan: 1 to add\n", 2.0, False, "Plan: 1 to add\n")
SHOW = StepResult("show", ("terraform", "show", "-json"), 0, "", 0.5, False, '{"format_version":"1.2"}\n')


def step_json(**overrides: Any) -> dict[str, Any]:
    step = {
        "step": "init",
        "argv": ["terraform", "init"],
        "exit_code": 0,
        "output": "ok\n",
        "duration": 1.0,
        "timed_out": False,
        "stdout": "ok\n",
        "truncated": False,
    }
    return {**step, **overrides}


def result_json(**overrides: Any) -> dict[str, Any]:
    result = {
        "version": 1,
        "operation": "plan",
        "steps": [step_json()],
        "has_changes": True,
        "error": None,
        "planfile": base64.b64encode(b"PK\x03\x04plan").decode(),
    }
    return {**result, **overrides}


def without(document: dict[str, Any], key: str) -> dict[str, Any]:
    return {name: value for name, value in document.items() if name != key}


def test_a_spec_goes_and_comes_back_the_same() -> None:
    spec = JobSpec.from_json(json.dumps(SPEC))
    assert spec == JobSpec(
        operation="plan",
        directory="terraform/staging",
        workspace="default",
        extra_args=("-var", "x=1"),
        binary="terraform",
        planfile="terraform/staging/gitops-bot-default.tfplan",
        timeouts={"init": 600.0, "plan": 1800.0, "apply": 3600.0},
        context=RunContext("acme/infra", 7, "abc123", "staging|terraform/staging|default"),
    )
    assert spec.version == WIRE_VERSION
    assert JobSpec.from_json(spec.to_json()) == spec
    assert JobSpec.from_json(spec.to_json().encode()) == spec
    assert json.loads(spec.to_json()) == {
        **SPEC,
        "timeouts": {"init": 600.0, "plan": 1800.0, "apply": 3600.0},
    }


def test_the_root_and_an_opaque_workflow_pass() -> None:
    workflow = {"plan": {"steps": ["init", {"run": "echo hi"}]}}
    spec = JobSpec.from_json(json.dumps({**SPEC, "directory": ".", "workflow": workflow, "timeouts": {}}))
    assert spec.directory == "." and spec.workflow == workflow and spec.timeouts == {}
    assert JobSpec.from_json(spec.to_json()) == spec


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("not json", "spec: not JSON"),
        (b"\xff\xfe", "spec: not"),
        ([], "spec: must be a JSON object"),
        ({**SPEC, "version": 2}, "version 2 is not 1"),
        ({**SPEC, "version": True}, "version True is not 1"),
        ({**SPEC, "version": "1"}, "version '1' is not 1"),
        (without(SPEC, "workflow"), "spec: misses workflow"),
        ({**SPEC, "colour": "blue"}, "spec: has unknown keys colour"),
        ({**SPEC, "operation": "destroy"}, "spec.operation: must be one of plan, apply, not 'destroy'"),
        ({**SPEC, "directory": "/etc"}, "spec.directory: must be relative to the work tree"),
        ({**SPEC, "directory": "../outside"}, "spec.directory: must stay inside the work tree"),
        ({**SPEC, "directory": "a/../../b"}, "spec.directory: must stay inside the work tree"),
        ({**SPEC, "directory": ""}, "spec.directory: must be a non-empty string"),
        ({**SPEC, "directory": 7}, "spec.directory: must be a non-empty string"),
        ({**SPEC, "directory": "a\0b"}, "spec.directory: must not contain a NUL"),
        ({**SPEC, "planfile": "/tmp/x.tfplan"}, "spec.planfile: must be relative"),
        ({**SPEC, "planfile": "../x.tfplan"}, "spec.planfile: must stay inside"),
        ({**SPEC, "workspace": ""}, "spec.workspace: must be a non-empty string"),
        ({**SPEC, "workspace": None}, "spec.workspace: must be a non-empty string"),
        ({**SPEC, "extra_args": "-var x=1"}, "spec.extra_args: must be a list of strings"),
        ({**SPEC, "extra_args": ["-var", 1]}, "spec.extra_args[1]: must be a string"),
        ({**SPEC, "binary": "/usr/bin/terraform"}, "spec.binary: must be an executable's name"),
        ({**SPEC, "binary": ".."}, "spec.binary: must be an executable's name"),
        ({**SPEC, "binary": ""}, "spec.binary: must be a non-empty string"),
        ({**SPEC, "timeouts": [600]}, "spec.timeouts: must be an object"),
        ({**SPEC, "timeouts": {"destroy": 5}}, "spec.timeouts: has the unknown step 'destroy'"),
        ({**SPEC, "timeouts": {"init": "600"}}, "spec.timeouts.init: must be a finite number"),
        ({**SPEC, "timeouts": {"init": True}}, "spec.timeouts.init: must be a finite number"),
        ({**SPEC, "timeouts": {"init": 0}}, "spec.timeouts.init: must be above 0"),
        ({**SPEC, "timeouts": {"init": -1}}, "spec.timeouts.init: must be above 0"),
        ('{"version": 1, "timeouts": {"init": NaN}}', "NaN is not a JSON number"),
        ({**SPEC, "workflow": ["steps"]}, "spec.workflow: must be an object or null"),
        ({**SPEC, "context": {"repo": "acme/infra"}}, "spec.context: misses"),
        ({**SPEC, "context": {**SPEC["context"], "number": "7"}}, "spec.context.number"),
    ],
)
def test_a_bad_spec_is_refused_with_the_reason(document: Any, message: str) -> None:
    text = document if isinstance(document, str | bytes) else json.dumps(document)
    with pytest.raises(WireError) as refused:
        JobSpec.from_json(text)
    assert message in str(refused.value)


def test_a_spec_built_in_code_is_checked_too() -> None:
    arguments: dict[str, Any] = {**without(without(SPEC, "version"), "extra_args"), "extra_args": ()}
    with pytest.raises(WireError, match=r"spec\.directory"):
        JobSpec(**{**arguments, "directory": "/abs"})
    with pytest.raises(WireError, match=r"spec\.operation"):
        JobSpec(**{**arguments, "operation": "destroy"})


def test_a_result_goes_and_comes_back_the_same() -> None:
    outcome = JobOutcome(
        operation="plan", steps=(INIT, PLAN, SHOW), has_changes=True, planfile=b"\x00\x01binary plan\xff"
    )
    assert JobOutcome.from_json(outcome.to_json()) == outcome
    assert JobOutcome.from_json(outcome.to_json().encode()) == outcome
    document = json.loads(outcome.to_json())
    assert document["planfile"] == base64.b64encode(b"\x00\x01binary plan\xff").decode()
    assert document["steps"][0] == {
        "step": "init",
        "argv": ["terraform", "init"],
        "exit_code": 0,
        "output": "Initialized!\n",
        "duration": 1.5,
        "timed_out": False,
        "stdout": "Initialized!\n",
        "truncated": False,
    }


def test_a_failed_apply_and_a_step_pid_that_stays_in_the_pod() -> None:
    apply = StepResult("apply", ("terraform", "apply"), 1, "Error: boom\n", 3.0, False, pid=4242)
    outcome = JobOutcome(operation="apply", steps=(INIT, apply), error="terraform apply failed")
    back = JobOutcome.from_json(outcome.to_json())
    assert back.steps[1].pid is None and back.steps[1].output == "Error: boom\n"
    assert back.error == "terraform apply failed" and back.has_changes is None and back.planfile is None


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("", "result: not JSON"),
        ("[1, 2]", "result: must be a JSON object"),
        ("[" * 100_000 + "]" * 100_000, "result: nested too deeply"),
        (result_json(version=0), "version 0 is not 1"),
        (without(result_json(), "steps"), "result: misses steps"),
        (result_json(extra=1), "result: has unknown keys extra"),
        (result_json(operation="import"), "result.operation: must be one of plan, apply"),
        (result_json(steps={}), "result.steps: must be a list"),
        (result_json(steps=["init"]), "result.steps[0]: must be a JSON object"),
        (result_json(steps=[without(step_json(), "stdout")]), "result.steps[0]: misses stdout"),
        (result_json(steps=[step_json(step="destroy")]), "result.steps[0].step: must be one of"),
        (result_json(steps=[step_json(argv="terraform init")]), "result.steps[0].argv: must be a list"),
        (result_json(steps=[step_json(exit_code="0")]), "result.steps[0].exit_code: must be an integer"),
        (result_json(steps=[step_json(exit_code=False)]), "result.steps[0].exit_code: must be an integer"),
        (result_json(steps=[step_json(output=None)]), "result.steps[0].output: must be a string"),
        (result_json(steps=[step_json(duration=-1)]), "result.steps[0].duration: must be 0 or more"),
        (result_json(steps=[step_json(timed_out=0)]), "result.steps[0].timed_out: must be true or false"),
        (result_json(steps=[step_json(truncated="no")]), "result.steps[0].truncated: must be true or false"),
        (result_json(has_changes="yes"), "result.has_changes: must be true or false"),
        (result_json(error=5), "result.error: must be a string"),
        (result_json(planfile="not base64!"), "result.planfile: not base64"),
        (result_json(planfile=123), "result.planfile: must be a string"),
        (result_json(operation="apply", has_changes=None), "result.planfile: must be null for an apply"),
        (result_json(operation="apply", planfile=None), "result.has_changes: must be null for an apply"),
    ],
)
def test_a_bad_result_is_refused_with_the_reason(document: Any, message: str) -> None:
    text = document if isinstance(document, str) else json.dumps(document)
    with pytest.raises(WireError) as refused:
        JobOutcome.from_json(text)
    assert message in str(refused.value)


def test_a_wire_error_is_a_value_error() -> None:
    # The runner's callers treat a bad spec as a bad argument.
    assert issubclass(WireError, ValueError)
