"""What every mirror and work tree of one :class:`~bot.adapters.git.workspace.GitWorkspaces` shares:
the git runner, the bot's identity, credentials and time limits."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bot.adapters.git.askpass import askpass_env
from bot.adapters.git.identity import GitIdentity
from bot.adapters.git.remotes import RemoteRepo
from bot.adapters.git.runner import GitRunner

TokenProvider = Callable[[RemoteRepo], str | None]
"""Returns the token for a repository (or None for anonymous access); called once per network
command, so GitHub App installation tokens may rotate between calls. Should be cheap (cache)."""


@dataclass(frozen=True)
class GitContext:
    """Settings and tools handed down from the workspaces to each mirror and its work trees."""

    runner: GitRunner
    identity: GitIdentity
    askpass: Path
    token_provider: TokenProvider | None
    username: str
    network_timeout: float
    lock_timeout: float
    partial_clone: bool

    def auth(self, remote: RemoteRepo) -> tuple[dict[str, str], tuple[str, ...]]:
        """The environment that hands ``remote``'s token to git, and the secrets to redact."""
        if self.token_provider is None or not remote.uses_http:
            return {}, ()
        token = self.token_provider(remote)
        if not token:
            return {}, ()
        return askpass_env(self.askpass, self.username, token), (token,)
