"""The settings as every command reads them: a bad one is one line naming the variable (exit 1),
never a traceback."""

from __future__ import annotations

from pydantic import ValidationError

from bot.settings import Settings


def settings_or_exit() -> Settings:
    """``Settings()``, or ``SystemExit`` with one ``gitops-bot: GITOPS_BOT_<NAME>: why`` line per error."""
    try:
        return Settings()
    except ValidationError as invalid:
        lines = [
            f"gitops-bot: GITOPS_BOT_{'_'.join(str(part) for part in error['loc']).upper()}: "
            f"{error['msg'].removeprefix('Value error, ')}"
            for error in invalid.errors()
        ]
        raise SystemExit("\n".join(lines)) from None
