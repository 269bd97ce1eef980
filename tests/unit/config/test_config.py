"""``.gitops-bot.yaml``: the example loads, defaults are sensible, every error names file, line and key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from bot.config import (
    DEFAULT_WHEN_MODIFIED,
    ConfigError,
    ConfigInvalid,
    RepoConfig,
    check_config_file,
    format_duration,
    load_repo_config,
    parse_duration,
)

EXAMPLE = Path(__file__).resolve().parents[3] / "deploy" / "examples" / "gitops-repo" / ".gitops-bot.yaml"

MINIMAL = """\
version: 1
deployments:
  - name: chat
    trigger:
      image: {repository: registry.example.com/serving/chat-llm}
    targets:
      - {file: apps/chat/values.yaml, key: image.tag}
"""


def test_example_loads() -> None:
    config = load_repo_config(EXAMPLE.read_text(encoding="utf-8"), str(EXAMPLE))
    staging = config.deployment("chat-llm-staging")
    assert staging is not None and staging.canary is not None
    assert staging.canary.interval == 30 and staging.canary.duration == 600
    assert staging.canary.intervals == 20
    assert staging.canary.metrics[1].baseline is not None
    assert staging.canary.metrics[1].baseline.relative_max == 1.5
    assert staging.canary.readiness is not None and staging.canary.readiness.timeout == 300
    assert staging.promote is not None and staging.promote.to == "chat-llm-prod"
    assert staging.targets[1].key == 'podAnnotations."example.com/image-digest"'
    assert config.project("serving-staging") is not None
    assert config.github_login("U2CERLKJA") == "alice"
    assert config.notify.slack is not None and config.notify.slack.channel == "#ml-deploys"
    assert check_config_file(EXAMPLE) == []


def _fields_set(model: BaseModel, seen: set[tuple[str, str]]) -> None:
    for name in model.model_fields_set:
        seen.add((type(model).__name__, name))
        value = getattr(model, name)
        values: list[Any] = [value]
        if isinstance(value, tuple | dict):
            values = list(value.values() if isinstance(value, dict) else value)
        for item in values:
            if isinstance(item, BaseModel):
                _fields_set(item, seen)


def _all_fields(model: type[BaseModel], out: set[tuple[str, str]]) -> None:
    import typing

    for name, field in model.model_fields.items():
        if (model.__name__, name) in out:
            continue
        out.add((model.__name__, name))
        stack = [field.annotation]
        while stack:
            annotation = stack.pop()
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                _all_fields(annotation, out)
            stack.extend(typing.get_args(annotation))


def test_example_uses_every_key() -> None:
    config = load_repo_config(EXAMPLE.read_text(encoding="utf-8"))
    used: set[tuple[str, str]] = set()
    _fields_set(config, used)
    every: set[tuple[str, str]] = set()
    _all_fields(RepoConfig, every)
    assert every - used == set()


def test_defaults() -> None:
    config = load_repo_config(
        MINIMAL + "projects:\n  - dir: terraform/staging\n  - {dir: ./terraform/prod/, workspace: blue}\n"
    )
    deployment = config.deployments[0]
    assert deployment.trigger.image is not None
    assert deployment.trigger.image.tags == "semver:*"
    assert deployment.targets[0].format == "tag"
    assert deployment.pull_request.automerge is False
    assert deployment.canary is None and deployment.promote is None
    staging, prod = config.projects
    assert (staging.name, staging.dir, staging.workspace) == (
        "terraform/staging",
        "terraform/staging",
        "default",
    )
    assert (prod.name, prod.dir, prod.workspace) == ("terraform/prod/blue", "terraform/prod", "blue")
    assert staging.autoplan.enabled and staging.autoplan.when_modified == DEFAULT_WHEN_MODIFIED
    assert staging.apply_requirements == ()
    assert config.permissions.plan == ("write",) and config.permissions.deploy == ("maintain",)
    assert config.users == {}
    assert config.notify.slack is None


def test_canary_defaults() -> None:
    config = load_repo_config(MINIMAL + "    canary: {}\n")
    canary = config.deployments[0].canary
    assert canary is not None
    assert (canary.interval, canary.duration, canary.failure_limit) == (60, 600, 2)
    assert (canary.min_requests, canary.inconclusive_limit, canary.on_failure) == (1, 3, "revert")
    assert canary.rollback.automerge is False and canary.metrics == () and canary.readiness is None


def _errors(text: str) -> list[str]:
    with pytest.raises(ConfigInvalid) as raised:
        load_repo_config(text)
    return [str(error) for error in raised.value.errors]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            MINIMAL + "    canary:\n      interval: 30s\n      failure_limit: 0\n",
            ".gitops-bot.yaml:10:7: deployments[0].canary.failure_limit: "
            "Input should be greater than or equal to 1",
        ),
        (
            MINIMAL + "    canary:\n      min_requets: 5\n",
            ".gitops-bot.yaml:9:7: deployments[0].canary.min_requets: unknown key 'min_requets' (allowed: "
            "interval, duration, failure_limit, min_requests, inconclusive_limit, metrics, readiness, "
            "on_failure, rollback, steps, weight_target, steps_via, shadow, judge); "
            "did you mean 'min_requests'?",
        ),
        (
            MINIMAL + "    canary: {interval: 5 minutes}\n",
            ".gitops-bot.yaml:8:14: deployments[0].canary.interval: "
            "expected a duration like 30s, 10m, 1h or 1h30m, got '5 minutes'",
        ),
        (
            MINIMAL + "    canary: {interval: 10m, duration: 5m}\n",
            ".gitops-bot.yaml:8:5: deployments[0].canary: duration (5m) is shorter than interval (10m)",
        ),
        (
            MINIMAL + "    canary:\n      metrics:\n        - {name: ttft, query: up}\n",
            ".gitops-bot.yaml:10:11: deployments[0].canary.metrics[0]: give at least one of "
            "min, max or baseline",
        ),
        (
            MINIMAL + "    canary:\n      metrics:\n        - {name: a, query: up, max: 1, baseline: "
            "{relative_max: 0}}\n",
            ".gitops-bot.yaml:10:51: deployments[0].canary.metrics[0].baseline.relative_max: "
            "Input should be greater than 0",
        ),
        (
            MINIMAL + "    canary: {on_failure: rollback}\n",
            ".gitops-bot.yaml:8:14: deployments[0].canary.on_failure: Input should be 'revert' or 'notify'",
        ),
        (
            MINIMAL + "    promote: {to: chat-prod}\n",
            ".gitops-bot.yaml:8:15: deployments[0].promote.to: no deployment named "
            "'chat-prod' (deployments: chat)",
        ),
        (
            MINIMAL + "    promote: {to: chat}\n",
            ".gitops-bot.yaml:8:15: deployments[0].promote.to: a deployment cannot promote to itself",
        ),
        (
            MINIMAL + MINIMAL.split("deployments:\n")[1],
            ".gitops-bot.yaml:8:5: deployments[1].name: deployment name 'chat' is already "
            "used by deployments[0]",
        ),
        (
            "version: 1\ndeployments:\n  - name: a\n    trigger: {model: {name: m}}\n    targets: []\n",
            ".gitops-bot.yaml:5:5: deployments[0].targets: needs at least 1 item(s)",
        ),
        (
            "version: 1\ndeployments:\n  - name: a\n    trigger: {}\n    targets:\n      - "
            "{file: v.yaml, key: a}\n",
            ".gitops-bot.yaml:4:5: deployments[0].trigger: give exactly one of image or model",
        ),
        (
            "version: 1\ndeployments:\n  - name: a\n    trigger: {image: {repository: x:1.0}}\n"
            "    targets:\n      - {file: v.yaml, key: a}\n",
            ".gitops-bot.yaml:4:23: deployments[0].trigger.image.repository: "
            "name the repository only, without a tag or digest (the tags key chooses tags)",
        ),
        (
            "version: 1\ndeployments:\n  - name: a\n    trigger: {image: {repository: x, "
            "tags: 'semver:>=banana'}}\n"
            "    targets:\n      - {file: v.yaml, key: a}\n",
            ".gitops-bot.yaml:4:38: deployments[0].trigger.image.tags: invalid version "
            "'banana' in range '>=banana': 'banana' is not a number (nor x or *): each of "
            "MAJOR.MINOR.PATCH is one",
        ),
        (
            "version: 1\ndeployments:\n  - name: a\n    trigger: {model: {name: m}}\n"
            "    targets:\n      - {file: v.yaml, key: a, format: digest}\n",
            ".gitops-bot.yaml:6:32: deployments[0].targets[0].format: format 'digest' needs "
            "an image trigger; "
            "a model trigger writes its version (format: tag)",
        ),
        (
            MINIMAL + "      - {file: apps/chat/values.yaml, variable: image.tag}\n",
            ".gitops-bot.yaml:8:9: deployments[0].targets[1]: "
            "apps/chat/values.yaml is a YAML file: address the value with key, not variable",
        ),
        (
            MINIMAL + "      - {file: main.tf, variable: v}\n",
            ".gitops-bot.yaml:8:9: deployments[0].targets[1]: "
            "main.tf: only .yaml, .yml, .tfvars and .tfvars.json files can be targets",
        ),
        (
            MINIMAL + "      - {file: x.tfvars, key: v, variable: v}\n",
            ".gitops-bot.yaml:8:9: deployments[0].targets[1]: "
            "give exactly one of key (YAML files) or variable (.tfvars / .tfvars.json files)",
        ),
        (
            MINIMAL + "      - {file: apps/chat/values.yaml, key: 'image.tag'}\n",
            ".gitops-bot.yaml:8:9: deployments[0].targets[1]: apps/chat/values.yaml "
            "image.tag is already targets[0]",
        ),
        (
            MINIMAL + "      - {file: ../outside.yaml, key: a}\n",
            ".gitops-bot.yaml:8:10: deployments[0].targets[1].file: "
            "must be relative to the repository root and stay inside it (no leading / or ..)",
        ),
        (
            "version: 1\nprojects:\n  - {name: p, dir: a}\n  - {name: p, dir: b}\n",
            ".gitops-bot.yaml:4:6: projects[1].name: project name 'p' is already used by projects[0]",
        ),
        (
            "version: 1\nprojects:\n  - {dir: a}\n  - {name: other, dir: a}\n",
            ".gitops-bot.yaml:4:19: projects[1].dir: dir 'a' with workspace 'default' is already projects[0]",
        ),
        (
            "version: 1\nprojects:\n  - {dir: a, apply_requirements: [approved, reviewed]}\n",
            ".gitops-bot.yaml:3:45: projects[0].apply_requirements[1]: "
            "Input should be 'approved', 'mergeable' or 'undiverged'",
        ),
        (
            "version: 1\nusers:\n  alice: U2CERLKJA\n",
            ".gitops-bot.yaml:3:3: users.alice: 'alice' is not a valid Slack user id (like U2CERLKJA)",
        ),
        (
            "version: 1\npermissions:\n  apply: [maintain, 'team:', -bad-]\n",
            ".gitops-bot.yaml:3:21: permissions.apply[1]: 'team:': team:<slug> needs a team slug such as "
            "team:ml-platform",
        ),
        (
            "version: 1\npermissions:\n  destroy: [admin]\n",
            ".gitops-bot.yaml:3:3: permissions.destroy: unknown key 'destroy' (allowed: plan, apply, unlock, "
            "rollback, promote, pause, resume, deploy, approve_policies); did you mean 'deploy'?",
        ),
        ("version: 2\n", ".gitops-bot.yaml:1:1: version: Input should be 1"),
        ("projects: []\n", ".gitops-bot.yaml:1:1: version: required key is missing"),
        ("", ".gitops-bot.yaml:1:1: expected a mapping with 'version: 1' at the top, but the file is empty"),
        (
            "- 1\n",
            ".gitops-bot.yaml:1:1: expected a mapping with 'version: 1' at the top, but the file is a list",
        ),
        (
            "version: 1\nprojects: [\n",
            ".gitops-bot.yaml:3:1: YAML syntax error: while parsing a flow node expected the node content, "
            "but found '<stream end>'",
        ),
        (
            "version: 1\nversion: 1\n",
            ".gitops-bot.yaml:2:1: YAML syntax error: while constructing a mapping found "
            'duplicate key "version" '
            'with value "1" (original value: "1")',
        ),
    ],
)
def test_errors_name_file_line_and_key(text: str, expected: str) -> None:
    assert expected in _errors(text)


def test_several_errors_are_reported_in_file_order() -> None:
    text = MINIMAL + "    canary: {failure_limit: 0, inconclusive_limit: 0}\nnotify: {email: x}\n"
    errors = _errors(text)
    assert [error.split(": ")[1] for error in errors] == [
        "deployments[0].canary.failure_limit",
        "deployments[0].canary.inconclusive_limit",
        "notify.email",
    ]


def test_promotion_loops_are_refused() -> None:
    text = """\
version: 1
deployments:
  - {name: a, trigger: {image: {repository: x}}, targets: [{file: a.yaml, key: t}], promote: {to: b}}
  - {name: b, trigger: {image: {repository: x}}, targets: [{file: b.yaml, key: t}], promote: {to: a}}
"""
    errors = _errors(text)
    assert ".gitops-bot.yaml:3:95: deployments[0].promote.to: promotions form a loop: a -> b -> a" in errors
    assert ".gitops-bot.yaml:4:95: deployments[1].promote.to: promotions form a loop: b -> a -> b" in errors


def test_direct_validation_without_the_loader_still_checks_references() -> None:
    with pytest.raises(ValidationError, match=r"deployments\[0\]\.promote\.to: no deployment named 'b'"):
        RepoConfig.model_validate(
            {
                "version": 1,
                "deployments": [
                    {
                        "name": "a",
                        "trigger": {"image": {"repository": "x"}},
                        "targets": [{"file": "a.yaml", "key": "t"}],
                        "promote": {"to": "b"},
                    }
                ],
            }
        )


def test_models_are_frozen() -> None:
    config = load_repo_config(MINIMAL)
    with pytest.raises(ValidationError):
        config.deployments[0].name = "other"  # type: ignore[misc]


def test_lookups() -> None:
    config = load_repo_config(EXAMPLE.read_text(encoding="utf-8"))
    assert config.deployment("nope") is None
    by_image = [d.name for d in config.deployments_for_image("serving/chat-llm", "registry.example.com")]
    assert by_image == ["chat-llm-staging", "chat-llm-prod"]
    assert config.deployments_for_image("serving/chat-llm", "ghcr.io") == ()
    assert [d.name for d in config.deployments_for_model("reranker", "champion")] == ["reranker-staging"]
    assert config.deployments_for_model("reranker", "challenger") == ()
    assert config.deployments_for_model("reranker") == ()


@pytest.mark.parametrize(
    ("entries", "login", "permission", "teams", "allowed"),
    [
        (["write"], "carol", "write", (), True),
        (["write"], "carol", "admin", (), True),
        (["write"], "carol", "triage", (), False),
        (["write"], "carol", None, (), False),
        (["maintain", "team:ml-platform"], "carol", "write", ("ML-Platform",), True),
        (["maintain", "team:ml-platform"], "carol", "write", ("sre",), False),
        (["alice"], "Alice", None, (), True),
        ([], "alice", "admin", (), False),
    ],
)
def test_permissions_allow(
    entries: list[str], login: str, permission: str | None, teams: tuple[str, ...], allowed: bool
) -> None:
    config = load_repo_config(f"version: 1\npermissions:\n  apply: {entries}\n".replace("'", ""))
    assert config.permissions.allows("apply", login=login, permission=permission, teams=teams) is allowed


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("10m", 600), ("1h", 3600), ("1h30m", 5400), ("2m5s", 125), (45, 45)],
)
def test_durations(text: str | int, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "10", "1.5m", "5 minutes", "1d", True, 1.5, "m"])
def test_invalid_durations(text: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


@pytest.mark.parametrize(("seconds", "text"), [(30, "30s"), (600, "10m"), (5400, "1h30m"), (3601, "1h1s")])
def test_format_duration(seconds: int, text: str) -> None:
    assert format_duration(seconds) == text


def test_check_config_file(tmp_path: Path) -> None:
    good = tmp_path / ".gitops-bot.yaml"
    good.write_text(MINIMAL, encoding="utf-8")
    assert check_config_file(good) == []
    bad = tmp_path / "bad.yaml"
    bad.write_text(MINIMAL + "extra: 1\n", encoding="utf-8")
    errors = check_config_file(bad)
    assert errors == [
        ConfigError(
            str(bad),
            8,
            1,
            "extra",
            "unknown key 'extra' (allowed: version, projects, deployments, notify, users, permissions, "
            "policies, workflows, abort_on_execution_order_fail)",
        )
    ]
    missing = check_config_file(tmp_path / "absent.yaml")
    assert len(missing) == 1 and "cannot read the file" in missing[0].message


def test_config_error_text_without_key() -> None:
    assert str(ConfigError("f.yaml", 2, 3, "", "YAML syntax error: x")) == "f.yaml:2:3: YAML syntax error: x"


def test_policies_name_configured_projects() -> None:
    config = RepoConfig.model_validate(
        {
            "version": 1,
            "projects": [{"name": "staging", "dir": "terraform/staging"}],
            "policies": [{"name": "gpu-limits", "paths": ["policies/"], "projects": ["staging"]}],
        }
    )
    assert config.policies[0].applies_to("staging")
    assert config.permissions.approve_policies == ("maintain",)
    with pytest.raises(ValidationError, match="no project is named 'prod'"):
        RepoConfig.model_validate(
            {"version": 1, "policies": [{"name": "gpu-limits", "paths": ["policies/"], "projects": ["prod"]}]}
        )
    with pytest.raises(ValidationError):
        RepoConfig.model_validate({"version": 1, "policies": [{"name": "p", "paths": []}]})
