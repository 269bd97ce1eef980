from __future__ import annotations

from dataclasses import dataclass

import pytest

from bot.edits import EditError, KeyNotFound, apply_edit, file_kind


@dataclass(frozen=True)
class _Target:
    key: str | None = None
    variable: str | None = None


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("apps/chat/values.yaml", "yaml"),
        ("apps/chat/values-prod.YML", "yaml"),
        ("terraform/staging/serving.auto.tfvars", "tfvars"),
        ("terraform/staging/serving.auto.tfvars.json", "json"),
        ("README.md", None),
    ],
)
def test_file_kind(path: str, kind: str | None) -> None:
    assert file_kind(path) == kind


@pytest.mark.parametrize(
    ("path", "text", "target", "expected"),
    [
        ("values.yaml", "image:\n  tag: 1.0.0\n", _Target(key="image.tag"), "image:\n  tag: 1.1.0\n"),
        ("serving.auto.tfvars", 'v = "1.0.0"\n', _Target(variable="v"), 'v = "1.1.0"\n'),
        ("serving.auto.tfvars.json", '{"v": "1.0.0"}', _Target(variable="v"), '{"v": "1.1.0"}'),
        ("values.yml", "tag: 1.0.0\n", "tag", "tag: 1.1.0\n"),
    ],
)
def test_dispatches_by_suffix(path: str, text: str, target: _Target | str, expected: str) -> None:
    result = apply_edit(path, text, target, "1.1.0")
    assert result.text == expected
    assert result.changed


def test_errors_name_the_file() -> None:
    with pytest.raises(KeyNotFound, match=r"^apps/values\.yaml: image\.tag: no such key"):
        apply_edit("apps/values.yaml", "image: {}\n", _Target(key="image.tag"), "1")


@pytest.mark.parametrize(
    ("path", "target", "message"),
    [
        ("values.yaml", _Target(variable="v"), "names no key"),
        ("x.tfvars", _Target(key="v"), "names no variable"),
        ("Dockerfile", _Target(key="v"), "cannot edit this kind of file"),
    ],
)
def test_mismatched_targets_are_refused(path: str, target: _Target, message: str) -> None:
    with pytest.raises(EditError, match=message):
        apply_edit(path, "v: 1\n", target, "2")


@pytest.mark.parametrize(
    ("path", "text", "location", "expected"),
    [
        (
            "values.yaml",
            "predictor:\n  canaryTrafficPercent: 100  # kserve\n",
            "predictor.canaryTrafficPercent",
            "predictor:\n  canaryTrafficPercent: 10  # kserve\n",
        ),
        ("values.yaml", 'w: "100"\n', "w", "w: 10\n"),  # a quoted string becomes the number it meant
        (
            "route.yaml",
            "rules:\n- backendRefs:\n  - {name: new, weight: 0}\n",
            "rules[0].backendRefs[0].weight",
            "rules:\n- backendRefs:\n  - {name: new, weight: 10}\n",
        ),
        ("mesh.tfvars", "weight = 100 # istio\n", "weight", "weight = 10 # istio\n"),
        ("mesh.tfvars.json", '{"weight": 100}\n', "weight", '{"weight": 10}\n'),
    ],
)
def test_a_number_is_written_as_a_number(path: str, text: str, location: str, expected: str) -> None:
    result = apply_edit(path, text, location, "10", number=True)
    assert (result.text, result.changed) == (expected, True)
    assert apply_edit(path, result.text, location, "10", number=True).changed is False


@pytest.mark.parametrize("path", ["values.yaml", "mesh.tfvars", "mesh.tfvars.json"])
def test_only_whole_numbers_are_written_as_numbers(path: str) -> None:
    text = {"values.yaml": "w: 1\n", "mesh.tfvars": "w = 1\n", "mesh.tfvars.json": '{"w": 1}'}[path]
    with pytest.raises(EditError, match="not a whole number"):
        apply_edit(path, text, "w", "1e3", number=True)
