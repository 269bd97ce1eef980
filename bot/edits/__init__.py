"""Minimal file edits: change one value's characters and nothing else, then verify by re-parsing.

:func:`apply_edit` picks the editor by file name: ``.yaml``/``.yml`` (a ``key``), ``.tfvars``
(a ``variable``), ``.tfvars.json``/``.json`` (a ``variable``). Paths follow :mod:`bot.edits.paths`.
"""

from __future__ import annotations

from typing import Protocol

from bot.edits.base import EditError, EditResult, KeyNotFound, UnsupportedValue, VerificationFailed
from bot.edits.paths import InvalidPath, format_path, parse_path
from bot.edits.tfvars import edit_tfvars_value
from bot.edits.tfvars_json import edit_json_value
from bot.edits.yaml_values import edit_yaml_value

__all__ = [
    "EditError",
    "EditResult",
    "EditTarget",
    "InvalidPath",
    "KeyNotFound",
    "UnsupportedValue",
    "VerificationFailed",
    "apply_edit",
    "edit_json_value",
    "edit_tfvars_value",
    "edit_yaml_value",
    "file_kind",
    "format_path",
    "parse_path",
]


class EditTarget(Protocol):
    """What :func:`apply_edit` needs from a target (``bot.config.Target`` fits)."""

    @property
    def key(self) -> str | None: ...

    @property
    def variable(self) -> str | None: ...


def file_kind(path: str) -> str | None:
    """``"yaml"``, ``"tfvars"`` or ``"json"`` by the file name's suffix, or None for anything else."""
    name = path.lower()
    if name.endswith((".yaml", ".yml")):
        return "yaml"
    if name.endswith(".tfvars"):
        return "tfvars"
    if name.endswith(".json"):  # covers .tfvars.json
        return "json"
    return None


def apply_edit(
    path: str, text: str, target: EditTarget | str, new_value: str, *, number: bool = False
) -> EditResult:
    """Write ``new_value`` at the target's location in ``text`` (the contents of the file at ``path``).

    ``target`` is a config target (its ``key`` for YAML, its ``variable`` for tfvars) or a path string.
    ``number``: write ``new_value`` (an integer's digits) as a number, not a string (traffic weights).
    Errors are :class:`EditError` subclasses whose message starts with the file path.
    """
    kind = file_kind(path)
    if kind is None:
        raise EditError(
            f"{path}: cannot edit this kind of file (expected .yaml, .yml, .tfvars or .tfvars.json)"
        )
    location: str | None
    if isinstance(target, str):
        location = target
    else:
        location = target.key if kind == "yaml" else target.variable
        if location is None:
            wanted = "key" if kind == "yaml" else "variable"
            raise EditError(f"{path}: the target names no {wanted}, which a {kind} file needs")
    editor = {"yaml": edit_yaml_value, "tfvars": edit_tfvars_value, "json": edit_json_value}[kind]
    try:
        return editor(text, location, new_value, number=number)
    except EditError as exc:
        raise type(exc)(f"{path}: {exc}") from exc
    except RecursionError:
        # A file nested thousands of levels deep (no values file is) exhausts a recursive parser:
        # an answer about the file, not a job retried until it is dead.
        raise EditError(f"{path}: nested too deeply to edit") from None
