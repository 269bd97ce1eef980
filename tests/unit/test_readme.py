"""The README documents every setting."""

from __future__ import annotations

from pathlib import Path

from bot.settings import Settings

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_setting_is_in_the_readme() -> None:
    text = README.read_text()
    missing = [
        f"GITOPS_BOT_{name.upper()}"
        for name in Settings.model_fields
        if f"GITOPS_BOT_{name.upper()}" not in text
    ]
    assert missing == []
