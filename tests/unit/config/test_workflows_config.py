"""``workflows:``, ``workflow:``, ``execution_order_group`` and ``abort_on_execution_order_fail`` in
``.gitops-bot.yaml``: what is accepted, and what each mistake is told (with its line)."""

from __future__ import annotations

import json

import pytest

from bot.config import ConfigInvalid, load_repo_config
from bot.config.workflows import Workflow

HEADER = """\
version: 1
projects:
  - name: staging
    dir: terraform/staging
    workflow: custom
workflows:
  custom:
"""


def errors(text: str) -> list[str]:
    with pytest.raises(ConfigInvalid) as raised:
        load_repo_config(text, ".gitops-bot.yaml")
    return [f"{error.line}: {error.key_path}: {error.message}" for error in raised.value.errors]


def test_a_workflow_is_read_with_its_short_forms_and_survives_json() -> None:
    config = load_repo_config(
        HEADER
        + """\
    plan:
      steps:
        - env: {name: TF_VAR_region, value: eu}
        - env: {name: TOKEN, command: cat token.txt}
        - init:
        - run: tflint
        - plan: {extra_args: [-var, "size=large", --lock-timeout, 5m]}
    apply:
      steps: [{init: {extra_args: [-lock=false]}}, apply, {run: ./notify.sh}]
"""
    )
    workflow = config.project_workflow("staging")
    assert workflow is not None
    assert [step.kind for step in workflow.plan.steps] == ["env", "env", "init", "run", "plan"]
    # Extra arguments are kept in the one-word form the allowlist normalises them to.
    assert workflow.plan.steps[4].terraform.extra_args == ("-var=size=large", "-lock-timeout=5m")
    dumped = workflow.model_dump(mode="json")
    assert dumped["plan"]["steps"][3] == {"run": "tflint"}
    assert dumped["apply"]["steps"][1] == {"apply": {"extra_args": []}}
    assert Workflow.model_validate(json.loads(json.dumps(dumped))) == workflow


def test_defaults_leave_projects_as_they_were() -> None:
    config = load_repo_config(
        "version: 1\nprojects:\n  - dir: a\n  - {dir: b, execution_order_group: -1}\n"
        "workflows:\n  default: {plan: {steps: [init, {run: echo}, plan]}}\n"
    )
    first, second = config.projects
    assert first.workflow is None and first.execution_order_group == 0
    assert second.execution_order_group == -1
    # A workflow named "default" is not special: only the projects naming it use it.
    assert config.project_workflow("a") is None and config.project_workflow("nope") is None
    assert config.abort_on_execution_order_fail is False
    assert Workflow() == Workflow.model_validate(
        {"plan": {"steps": ["init", "plan"]}, "apply": {"steps": ["apply"]}}
    )


@pytest.mark.parametrize(
    ("stage", "expected"),
    [
        ("plan: {steps: [plan]}", "needs one init step before its plan step"),
        ("plan: {steps: [plan, init]}", "needs one init step before its plan step"),
        ("plan: {steps: [init, init, plan]}", "needs one init step before its plan step"),
        ("plan: {steps: [init]}", "needs exactly one plan step (it has 0)"),
        ("plan: {steps: [init, plan, plan]}", "needs exactly one plan step (it has 2)"),
        ("plan: {steps: [init, plan, apply]}", "apply is not a step of a plan workflow"),
        ("apply: {steps: [init]}", "an apply workflow needs exactly one apply step (it has 0)"),
        ("apply: {steps: [apply, apply]}", "an apply workflow needs exactly one apply step (it has 2)"),
        ("apply: {steps: [apply, init]}", "may have one init step, before its apply step"),
        ("apply: {steps: [plan, apply]}", "plan is not a step of an apply workflow"),
        (
            "plan: {steps: [init, plan, destroy]}",
            "'destroy' is not a step: use init, plan, apply, run: or env:",
        ),
        ("plan: {steps: [init, plan, {run: a, env: {name: X, value: b}}]}", "a step is exactly one of"),
        ("plan: {steps: [init, plan, {run: ''}]}", "at least 1 character"),
        ("plan: {steps: [init, plan, {runs: a}]}", "unknown key 'runs'"),
        ("plan: {steps: [init, {plan: {extra_args: [-chdir=/etc]}}]}", "`-chdir=/etc` is not allowed"),
        ("plan: {steps: [{init: {extra_args: [-plugin-dir=/x]}}, plan]}", "`-plugin-dir=/x` is not allowed"),
        ("apply: {steps: [{apply: {extra_args: [-var-file=/etc/passwd]}}]}", "inside the project directory"),
        ("plan: {steps: [init, plan, {env: {name: X}}]}", "an env step needs either value or command"),
        ("plan: {steps: [init, plan, {env: {name: X, value: a, command: b}}]}", "either value or command"),
        ("plan: {steps: [init, plan, {env: {name: 1X, value: a}}]}", "not an environment variable name"),
        (
            "plan: {steps: [init, plan, {env: {name: TF_CLI_ARGS_plan, value: a}}]}",
            "may not be set by a workflow",
        ),
        (
            "plan: {steps: [init, plan, {env: {name: TF_WORKSPACE, value: a}}]}",
            "may not be set by a workflow",
        ),
        ("plan: {steps: [init, plan, {env: {name: PLANFILE, value: a}}]}", "PLANFILE is set by the bot"),
    ],
)
def test_a_broken_workflow_is_told_what_to_fix(stage: str, expected: str) -> None:
    (problem,) = errors(HEADER + "    " + stage + "\n")
    assert expected in problem and problem.startswith("8: workflows.custom."), problem


def test_a_project_naming_an_unknown_workflow_is_refused() -> None:
    text = HEADER.replace("workflow: custom", "workflow: custon") + "    plan: {steps: [init, plan]}\n"
    assert errors(text) == ["5: projects[0].workflow: no workflow is named 'custon' (workflows: custom)"]
    none = "version: 1\nprojects:\n  - {dir: a, workflow: checked}\n"
    assert errors(none) == [
        "3: projects[0].workflow: no workflow is named 'checked' (workflows: none are defined)"
    ]


@pytest.mark.parametrize("value", ['"1"', "true", "1.5"])
def test_an_execution_order_group_is_a_whole_number(value: str) -> None:
    (problem,) = errors(f"version: 1\nprojects:\n  - {{dir: a, execution_order_group: {value}}}\n")
    assert problem.startswith("3: projects[0].execution_order_group:"), problem


def test_abort_on_execution_order_fail_is_a_boolean() -> None:
    assert load_repo_config("version: 1\nabort_on_execution_order_fail: true\n").abort_on_execution_order_fail
    (problem,) = errors("version: 1\nabort_on_execution_order_fail: sometimes\n")
    assert problem.startswith("2: abort_on_execution_order_fail:")
