"""Plan summaries from real ``terraform show -json`` output (fixtures made with Terraform 1.15)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.adapters.terraform_cli import OutputChange, PlanJSONError, parse_plan_json, summarize_plan

FIXTURES = Path(__file__).parent / "fixtures"


def load(name: str) -> str:
    return (FIXTURES / f"{name}.json").read_text(encoding="utf-8")


def test_first_plan_creates_everything() -> None:
    summary = parse_plan_json(load("create"))
    assert (summary.add, summary.change, summary.destroy, summary.imports, summary.forget) == (6, 0, 0, 0, 0)
    assert summary.addresses("create") == (
        "terraform_data.forget",
        "terraform_data.gone",
        "terraform_data.keep",
        "terraform_data.old_name",
        "terraform_data.replace",
        "terraform_data.update",
    )
    assert summary.has_changes
    assert summary.headline == "Plan: 6 to add, 0 to change, 0 to destroy."
    assert summary.terraform_version == "1.15.5"
    assert {output.name for output in summary.outputs} == {"stable", "removed", "secret"}


def test_mixed_plan_counts_like_terraform() -> None:
    # Terraform printed: "Plan: 1 to import, 2 to add, 2 to change, 2 to destroy."
    summary = parse_plan_json(load("mixed"))
    assert (summary.add, summary.change, summary.destroy, summary.imports, summary.forget) == (2, 2, 2, 1, 1)
    assert summary.addresses("create") == ("terraform_data.added",)
    assert summary.addresses("update") == ("terraform_data.imported", "terraform_data.update")
    assert summary.addresses("delete") == ("terraform_data.gone",)
    assert summary.addresses("replace") == ("terraform_data.replace",)
    assert summary.addresses("forget") == ("terraform_data.forget",)
    assert summary.imported == ("terraform_data.imported",)
    assert summary.moved == (("terraform_data.old_name", "terraform_data.new_name"),)
    assert "terraform_data.keep" not in {r.address for r in summary.resources}
    replace = next(r for r in summary.resources if r.action == "replace")
    assert (
        replace.actions == ("delete", "create") and replace.action_reason == "replace_because_cannot_update"
    )
    assert summary.headline == "Plan: 1 to import, 2 to add, 2 to change, 2 to destroy, 1 to forget."
    assert summary.outputs == (
        OutputChange("added", "create", sensitive=False),
        OutputChange("removed", "delete", sensitive=False),
        OutputChange("secret", "update", sensitive=True),
    )


def test_no_changes() -> None:
    summary = parse_plan_json(load("nochange"))
    assert (summary.add, summary.change, summary.destroy, summary.imports) == (0, 0, 0, 0)
    assert not summary.has_changes and not summary.outputs and summary.resources == ()
    assert summary.headline == "No changes."


def test_sensitive_values_never_reach_the_summary() -> None:
    assert "p2" in load("mixed")  # the plan JSON carries it in clear text...
    assert "p2" not in repr(parse_plan_json(load("mixed")))  # ...the summary does not


def plan_with(*changes: dict) -> dict:
    return {"format_version": "1.2", "resource_changes": list(changes)}


def change(address: str, *actions: str, mode: str = "managed", **extra: object) -> dict:
    return {"address": address, "mode": mode, "change": {"actions": list(actions), **extra}}


@pytest.mark.parametrize(
    ("changes", "counts"),
    [
        ([change("a.b", "create")], (1, 0, 0, 0)),
        ([change("a.b", "update")], (0, 1, 0, 0)),
        ([change("a.b", "delete")], (0, 0, 1, 0)),
        ([change("a.b", "delete", "create")], (1, 0, 1, 0)),
        ([change("a.b", "create", "delete")], (1, 0, 1, 0)),
        ([change("data.a.b", "read", mode="data")], (0, 0, 0, 0)),  # reads are not changes
        ([change("a.b", "no-op", importing={"id": "x"})], (0, 0, 0, 1)),
        ([change("a.b", "no-op")], (0, 0, 0, 0)),
    ],
)
def test_counting_rules(changes: list[dict], counts: tuple[int, int, int, int]) -> None:
    summary = summarize_plan(plan_with(*changes))
    assert (summary.add, summary.change, summary.destroy, summary.imports) == counts


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "terraform show -json printed no valid JSON"),
        ("[]", "the plan must be an object"),
        ('{"format_version": "2.0"}', "unsupported plan format_version '2.0'"),
        ("{}", "unsupported plan format_version None"),
        ('{"format_version": "1.2", "resource_changes": {}}', "resource_changes must be a list"),
        (
            json.dumps(plan_with(change("a.b", "explode"))),
            "resource_changes[0] (a.b): unknown actions ['explode']",
        ),
        (json.dumps(plan_with({"address": "a.b"})), "resource_changes[0] (a.b).change must be an object"),
    ],
)
def test_malformed_plans(text: str, message: str) -> None:
    with pytest.raises(PlanJSONError) as raised:
        parse_plan_json(text)
    assert message in str(raised.value)
