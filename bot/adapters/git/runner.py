"""The one place that starts git: argument lists, a timeout, a clean environment, redacted errors.

Blocking by design: callers (workers) run git in their own threads. Every call gets
``LC_ALL=C`` (stable, parseable messages), ``GIT_TERMINAL_PROMPT=0`` (fail, never wait for a human),
no inherited ``GIT_DIR``-style variables, and, unless ``isolate_config`` is off, no global or
system git config, so a developer's ``commit.gpgsign`` or a ``credential.helper=store`` on the host
cannot change what the bot does or persist a token.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import structlog

from bot.adapters.git.errors import GitError, GitTimeout
from bot.adapters.git.remotes import redact

log = structlog.get_logger("gitops_bot.git")

# Inherited GIT_* variables that only say how to reach a server; everything else (GIT_DIR,
# GIT_INDEX_FILE, GIT_WORK_TREE, GIT_ASKPASS, GIT_CONFIG_*...) could point git at the wrong
# repository or leak a credential path, so it is dropped.
INHERITED_GIT_VARIABLES = frozenset(
    {"GIT_SSH", "GIT_SSH_COMMAND", "GIT_SSH_VARIANT", "GIT_SSL_CAINFO", "GIT_SSL_CAPATH", "GIT_PROXY_COMMAND"}
)
# Options given to every command, never written to any config file.
ALWAYS_CONFIG = (
    # An empty value resets the helper list: credentials answered by the askpass helper are never
    # handed to a "store" helper that would write them to disk.
    "credential.helper=",
)


def git_environment(
    inherited: Mapping[str, str], extra: Mapping[str, str] | None = None, *, isolate_config: bool = True
) -> dict[str, str]:
    """The environment a git subprocess runs with (pure: no access to ``os.environ``)."""
    env = {
        key: value
        for key, value in inherited.items()
        if not key.startswith("GIT_") or key in INHERITED_GIT_VARIABLES
    }
    env.pop("SSH_ASKPASS", None)
    env["LC_ALL"] = "C"
    env["LANGUAGE"] = "C"
    env["GIT_TERMINAL_PROMPT"] = "0"
    env["GCM_INTERACTIVE"] = "never"  # Git Credential Manager, should a host have it
    env.setdefault("GIT_SSH_COMMAND", "ssh -o BatchMode=yes")
    if isolate_config:
        env["GIT_CONFIG_NOSYSTEM"] = "1"
        env["GIT_CONFIG_GLOBAL"] = os.devnull
    if extra:
        env.update(extra)
    return env


@dataclass(frozen=True)
class GitOutput:
    """What a finished git command printed; ``stderr`` is redacted, ``stdout`` is raw bytes."""

    args: tuple[str, ...]
    returncode: int
    stdout_bytes: bytes
    stderr: str

    @property
    def stdout(self) -> str:
        return self.stdout_bytes.decode("utf-8", errors="replace")


class GitRunner:
    """Runs ``git`` with an argument list (never a shell), a timeout, and redacted failures."""

    def __init__(
        self,
        git_bin: str = "git",
        *,
        timeout: float = 300.0,
        isolate_config: bool = True,
        inherited_env: Mapping[str, str] | None = None,
    ) -> None:
        if timeout <= 0:
            raise ValueError(f"git timeout must be positive, got {timeout}")
        self.git_bin = git_bin
        self.timeout = timeout
        self.isolate_config = isolate_config
        self._inherited = dict(os.environ if inherited_env is None else inherited_env)

    def run(
        self,
        args: Sequence[str],
        *,
        cwd: Path,
        env: Mapping[str, str] | None = None,
        secrets: Sequence[str] = (),
        config: Sequence[str] = (),
        timeout: float | None = None,
        check: bool = True,
        stdin: bytes | None = None,
    ) -> GitOutput:
        """Run ``git -c <config>... <args>`` in ``cwd``.

        ``secrets`` are removed from the command and stderr in errors and logs. With ``check`` a
        non-zero exit raises :class:`GitError`; a timeout always raises :class:`GitTimeout` after
        killing git and every helper it started (its own process group).
        """
        command = [self.git_bin]
        for option in (*ALWAYS_CONFIG, *config):
            command += ["-c", option]
        command += list(args)
        shown = tuple(redact(part, secrets) for part in command)
        limit = self.timeout if timeout is None else timeout
        started = time.monotonic()
        try:
            process = subprocess.Popen(
                command,
                cwd=cwd,
                env=git_environment(self._inherited, env, isolate_config=self.isolate_config),
                stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,  # a process group we can kill whole on timeout
            )
        except OSError as error:
            raise GitError(shown, None, "", detail=f"cannot start {self.git_bin!r}: {error}") from None
        try:
            out, err = process.communicate(input=stdin, timeout=limit)
        except subprocess.TimeoutExpired:
            _kill_group(process)
            _, err = process.communicate()
            raise GitTimeout(
                shown, None, redact(err.decode("utf-8", "replace"), secrets), detail=f"after {limit:g} s"
            ) from None
        except BaseException:
            _kill_group(process)
            process.communicate()
            raise
        stderr = redact(err.decode("utf-8", errors="replace"), secrets)
        elapsed = time.monotonic() - started
        log.debug("git", command=" ".join(shown), returncode=process.returncode, seconds=round(elapsed, 3))
        if check and process.returncode != 0:
            raise GitError(shown, process.returncode, stderr)
        return GitOutput(args=shown, returncode=process.returncode, stdout_bytes=out, stderr=stderr)


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
