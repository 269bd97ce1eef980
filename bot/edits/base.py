"""What every file edit returns and how it fails."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EditResult:
    """The edited text; ``changed`` is False (``text`` is then the input) when the value was already set."""

    text: str
    changed: bool
    old_value: str | None


class EditError(ValueError):
    """The edit cannot be made safely; the message names the path and the reason."""


class KeyNotFound(EditError):
    """The addressed key, variable or list item does not exist (edits never create keys)."""


class UnsupportedValue(EditError):
    """The addressed value cannot be rewritten without changing meaning (a mapping, an expression...)."""


class VerificationFailed(EditError):
    """Re-parsing the edited text did not show exactly the one intended change."""
