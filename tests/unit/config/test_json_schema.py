"""`gitops-bot schema`: the JSON Schema of `.gitops-bot.yaml`, judged by a real validator.

The committed `deploy/gitops-bot.schema.json` must be what the command prints (editors point at
it); the example repository's config must pass it, and typical mistakes must not.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from ruamel.yaml import YAML

from bot.cli import main
from bot.config.json_schema import repo_config_json_schema, repo_config_json_schema_text

ROOT = Path(__file__).resolve().parents[3]
COMMITTED = ROOT / "deploy" / "gitops-bot.schema.json"
EXAMPLE = ROOT / "deploy" / "examples" / "gitops-repo" / ".gitops-bot.yaml"


def example() -> dict[str, Any]:
    return json.loads(json.dumps(YAML(typ="safe").load(EXAMPLE.read_text())))


def errors(document: object) -> list[str]:
    validator = Draft202012Validator(repo_config_json_schema())
    return [error.message for error in validator.iter_errors(document)]


def test_the_schema_is_a_valid_2020_12_schema() -> None:
    Draft202012Validator.check_schema(repo_config_json_schema())


def test_the_committed_file_is_what_the_command_prints(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    printed = capsys.readouterr().out
    assert printed == repo_config_json_schema_text()
    assert COMMITTED.read_text() == printed, "regenerate: gitops-bot schema > deploy/gitops-bot.schema.json"


def test_the_example_config_passes() -> None:
    assert errors(example()) == []


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda c: c.update(version="one"), "'one'"),
        (lambda c: c.update(projetcs=[]), "projetcs"),
        (lambda c: c["projects"][0].update(dir=7), "7 is not"),
        (lambda c: c["projects"][0].update(workflow_typo="x"), "workflow_typo"),
    ],
    ids=["version-not-a-number", "unknown-top-level-key", "dir-not-a-string", "unknown-project-key"],
)
def test_typical_mistakes_fail(mutate: Any, expected: str) -> None:
    config = example()
    mutate(config)
    found = errors(config)
    assert found, "the schema accepted a broken config"
    assert any(expected in message for message in found), found
