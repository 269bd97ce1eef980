"""How git operations fail. Every message is already redacted: no token ever reaches a log or a user."""

from __future__ import annotations

from collections.abc import Sequence


class GitError(RuntimeError):
    """A git command failed; ``command`` and ``stderr`` are redacted, safe to log and to show."""

    def __init__(self, command: Sequence[str], returncode: int | None, stderr: str, detail: str = "") -> None:
        self.command: tuple[str, ...] = tuple(command)
        self.returncode = returncode
        self.stderr = stderr
        self.detail = detail
        super().__init__(self._message())

    def _message(self) -> str:
        if not self.command:  # a precondition about the repository, not a failed command
            text = self.detail
        else:
            shown = " ".join(self.command)
            status = "timed out" if self.returncode is None else f"failed (exit {self.returncode})"
            text = f"`{shown}` {status}"
            if self.detail:
                text += f": {self.detail}"
        if self.stderr.strip():
            text += f"\n{self.stderr.strip()}"
        return text


class GitTimeout(GitError):
    """The command ran longer than its timeout and was killed (with every process it started)."""


class UnknownRevision(GitError):
    """A ref or sha does not name a commit in the mirror (even after fetching it)."""


class PushRejected(GitError):
    """The remote refused the push: not a fast-forward, a stale lease, or a protected branch."""


class MirrorLockTimeout(TimeoutError):
    """Another job held the repository's mirror lock for longer than the lock timeout."""
