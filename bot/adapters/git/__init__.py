"""Git workspaces: a cached mirror per repository and a throw-away work tree per job (real ``git``).

Blocking API, meant for worker threads::

    workspaces = GitWorkspaces(data_dir, identity=GitIdentity("gitops-bot", "bot@example.com"),
                               token_provider=lambda repo: token_for(repo.full_name))
    with workspaces.worktree("https://github.com/acme/gitops.git") as tree:   # default branch
        tree.write_text("apps/chat/values.yaml", edited)
        if tree.commit("chat-llm 1.4.0") is not None:
            tree.push("gitops-bot/chat-llm-1.4.0", force_with_lease=True)
"""

from __future__ import annotations

from bot.adapters.git.askpass import ASKPASS_SCRIPT, askpass_env, install_askpass
from bot.adapters.git.context import TokenProvider
from bot.adapters.git.errors import GitError, GitTimeout, MirrorLockTimeout, PushRejected, UnknownRevision
from bot.adapters.git.identity import GitIdentity
from bot.adapters.git.locking import file_lock
from bot.adapters.git.mirror import Mirror
from bot.adapters.git.remotes import RemoteRepo, parse_remote, redact
from bot.adapters.git.revert import RevertOutcome, RevertResult
from bot.adapters.git.runner import GitOutput, GitRunner, git_environment
from bot.adapters.git.workspace import GitWorkspaces
from bot.adapters.git.worktree import WorkTree

__all__ = [
    "ASKPASS_SCRIPT",
    "GitError",
    "GitIdentity",
    "GitOutput",
    "GitRunner",
    "GitTimeout",
    "GitWorkspaces",
    "Mirror",
    "MirrorLockTimeout",
    "PushRejected",
    "RemoteRepo",
    "RevertOutcome",
    "RevertResult",
    "TokenProvider",
    "UnknownRevision",
    "WorkTree",
    "askpass_env",
    "file_lock",
    "git_environment",
    "install_askpass",
    "parse_remote",
    "redact",
]
