"""Who commits: the bot's identity and the environment that tells git about it (pure)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GitIdentity:
    """Who commits: the bot (committer, and author unless another is given)."""

    name: str
    email: str

    def __post_init__(self) -> None:
        for label, value in (("name", self.name), ("email", self.email)):
            if not value.strip() or any(ch in value for ch in "<>\n\r\0"):
                raise ValueError(f"git identity {label} {value!r} is empty or contains <, >, or a newline")


def identity_env(bot: GitIdentity, author: GitIdentity | None = None) -> dict[str, str]:
    """The bot always commits; ``author`` (default: the bot) is credited as the author."""
    who = author or bot
    return {
        "GIT_AUTHOR_NAME": who.name,
        "GIT_AUTHOR_EMAIL": who.email,
        "GIT_COMMITTER_NAME": bot.name,
        "GIT_COMMITTER_EMAIL": bot.email,
    }
