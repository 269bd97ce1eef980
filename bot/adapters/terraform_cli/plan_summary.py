"""What a saved plan will do, from ``terraform show -json <planfile>`` (pure).

The JSON plan format (format_version 1.x) is Terraform's stable machine interface; we read
``resource_changes`` and ``output_changes`` and count the way Terraform's own
"Plan: N to add, N to change, N to destroy." line does: managed resources only (data source
reads are not changes), a replacement counts as one add and one destroy, an import is
counted on its own besides the action it comes with. Values are never copied into the
summary: the plan JSON carries sensitive values in clear text.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

Action = Literal["create", "update", "delete", "replace", "read", "no-op", "forget"]


class PlanJSONError(ValueError):
    """The text is not a JSON plan this code understands."""


@dataclass(frozen=True)
class ResourceChange:
    address: str
    action: Action
    actions: tuple[str, ...]  # Terraform's own list, e.g. ("delete", "create")
    mode: str  # "managed" or "data"
    importing: bool
    previous_address: str | None  # set when a moved block renamed the resource
    action_reason: str | None


@dataclass(frozen=True)
class OutputChange:
    name: str
    action: Action
    sensitive: bool


@dataclass(frozen=True)
class PlanSummary:
    add: int
    change: int
    destroy: int
    imports: int
    forget: int
    resources: tuple[ResourceChange, ...]  # every resource that is not a no-op (or is moved/imported)
    outputs: tuple[OutputChange, ...]  # outputs that change
    terraform_version: str | None
    errored: bool

    @property
    def has_changes(self) -> bool:
        return bool(self.add or self.change or self.destroy or self.imports or self.forget or self.moved)

    @property
    def has_output_changes(self) -> bool:
        return bool(self.outputs)

    def addresses(self, action: Action) -> tuple[str, ...]:
        """Managed resource addresses planned for ``action``, in the plan's order."""
        return tuple(r.address for r in self.resources if r.action == action and r.mode == "managed")

    @property
    def imported(self) -> tuple[str, ...]:
        return tuple(r.address for r in self.resources if r.importing)

    @property
    def moved(self) -> tuple[tuple[str, str], ...]:
        """(from, to) for every resource a moved block renames."""
        return tuple((r.previous_address, r.address) for r in self.resources if r.previous_address)

    @property
    def headline(self) -> str:
        """Terraform's own wording, e.g. "Plan: 1 to import, 2 to add, 0 to change, 0 to destroy."."""
        if not self.has_changes and not self.outputs:
            return "No changes."
        parts = [f"{self.add} to add", f"{self.change} to change", f"{self.destroy} to destroy"]
        if self.imports:
            parts.insert(0, f"{self.imports} to import")
        if self.forget:
            parts.append(f"{self.forget} to forget")
        return "Plan: " + ", ".join(parts) + "."


def _action(actions: Sequence[str], where: str) -> Action:
    match tuple(actions):
        case ("create",):
            return "create"
        case ("update",):
            return "update"
        case ("delete",):
            return "delete"
        case ("delete", "create") | ("create", "delete"):
            return "replace"
        case ("read",):
            return "read"
        case ("no-op",):
            return "no-op"
        case ("forget",) | ("create", "forget") | ("forget", "create"):
            return "forget"
    raise PlanJSONError(f"{where}: unknown actions {list(actions)!r}")


def _mapping(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise PlanJSONError(f"{where} must be an object")
    return value


def summarize_plan(plan: Mapping[str, Any]) -> PlanSummary:
    """Summarise a decoded ``terraform show -json`` document."""
    version = plan.get("format_version")
    if not isinstance(version, str) or version.split(".", 1)[0] != "1":
        raise PlanJSONError(f"unsupported plan format_version {version!r} (expected 1.x)")
    resources = _resource_changes(plan)
    outputs = _output_changes(plan)
    terraform_version = plan.get("terraform_version")
    return PlanSummary(
        **_tally(resources),
        resources=tuple(r for r in resources if r.action != "no-op" or r.importing or r.previous_address),
        outputs=tuple(outputs),
        terraform_version=str(terraform_version) if terraform_version else None,
        errored=bool(plan.get("errored", False)),
    )


def _resource_changes(plan: Mapping[str, Any]) -> list[ResourceChange]:
    """Every entry of ``resource_changes``, no-ops included, in the plan's order."""
    raw_changes = plan.get("resource_changes")
    raw_changes = [] if raw_changes is None else raw_changes
    if not isinstance(raw_changes, list):
        raise PlanJSONError("resource_changes must be a list")
    return [_resource_change(raw, index) for index, raw in enumerate(raw_changes)]


def _resource_change(raw: object, index: int) -> ResourceChange:
    entry = _mapping(raw, f"resource_changes[{index}]")
    address = str(entry.get("address", ""))
    where = f"resource_changes[{index}] ({address})"
    change_block = _mapping(entry.get("change"), f"{where}.change")
    actions = tuple(str(a) for a in change_block.get("actions") or ())
    previous = entry.get("previous_address")
    return ResourceChange(
        address=address,
        action=_action(actions, where),
        actions=actions,
        mode=str(entry.get("mode", "managed")),
        importing=isinstance(change_block.get("importing"), Mapping),
        previous_address=str(previous) if previous else None,
        action_reason=str(entry["action_reason"]) if entry.get("action_reason") else None,
    )


def _tally(resources: Sequence[ResourceChange]) -> dict[str, int]:
    """The headline counts, as Terraform counts them: managed resources only (see the module docs)."""
    counts = dict.fromkeys(("add", "change", "destroy", "imports", "forget"), 0)
    for resource in resources:
        if resource.mode == "data":
            continue
        if resource.importing:
            counts["imports"] += 1
        match resource.action:
            case "create":
                counts["add"] += 1
            case "update":
                counts["change"] += 1
            case "delete":
                counts["destroy"] += 1
            case "replace":
                counts["add"] += 1
                counts["destroy"] += 1
            case "forget":
                counts["forget"] += 1
                if "create" in resource.actions:
                    counts["add"] += 1
    return counts


def _output_changes(plan: Mapping[str, Any]) -> list[OutputChange]:
    """The outputs the plan changes (no-ops left out)."""
    outputs: list[OutputChange] = []
    raw_outputs = plan.get("output_changes")
    raw_outputs = _mapping({} if raw_outputs is None else raw_outputs, "output_changes")
    for name, raw in raw_outputs.items():
        entry = _mapping(raw, f"output_changes.{name}")
        action = _action(tuple(str(a) for a in entry.get("actions") or ()), f"output_changes.{name}")
        if action == "no-op":
            continue
        sensitive = bool(entry.get("before_sensitive")) or bool(entry.get("after_sensitive"))
        outputs.append(OutputChange(name=str(name), action=action, sensitive=sensitive))
    return outputs


def parse_plan_json(text: str) -> PlanSummary:
    """Summarise the text printed by ``terraform show -json <planfile>``."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise PlanJSONError(f"terraform show -json printed no valid JSON: {error}") from error
    return summarize_plan(_mapping(document, "the plan"))
