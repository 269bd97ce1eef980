"""Where Terraform runs: in a bubblewrap sandbox (the default) or, announced, without one.

Terraform from a pull request is code from its author: ``file("/proc/1/environ")`` in an
``output`` would print the bot's tokens into the plan comment, and ``local-exec`` runs any
command. So every terraform command runs inside ``bwrap`` (bubblewrap, Debian's
``bubblewrap`` package) with:

- new PID, mount, IPC and UTS namespaces; a fresh ``/proc`` that shows only the sandbox's own
  processes (never the bot's ``/proc/<pid>/environ``); ``--die-with-parent``, so Terraform and
  everything it started die with the bot, even on SIGKILL. The runner starts ``bwrap`` in a new
  session with no terminal and stdin from ``/dev/null`` (so no terminal injection), and the
  sandbox stays in that process group, so a timeout's SIGINT reaches Terraform itself;
- the root file system read-only, with the bot's secrets hidden: the data directory (git
  mirrors, other work trees, saved plans, a SQLite database), the bot user's home, the
  ``.env`` file, the database file, the GitHub App private key and kubeconfig files,
  ``/run/secrets`` and ``/var/run/secrets`` (the pod's service account token), ``/tmp``, and
  every path the operator adds (``GITOPS_BOT_TERRAFORM_SANDBOX_HIDE``); what Terraform itself
  needs to start (its executable and, for a script, the interpreter's installation, and the
  CLI configuration file) is made visible again, read-only;
- writable: only its own work tree and the plugin cache (``TF_PLUGIN_CACHE_DIR``);
- the environment built from scratch: the runner's (``GITOPS_BOT_TERRAFORM_ENV_PASSTHROUGH``
  patterns and the fixed Terraform variables), never the bot's.

What it does not isolate: the network (providers and backends need it; restrict egress, and
the cloud metadata endpoint, with a NetworkPolicy), and world-readable files of the image
outside the hidden paths.

``local`` runs Terraform as a plain child process: the bot says so at start-up, in
``/readyz`` and on every plan comment. The choice (and the probe that tells whether a sandbox
can be made on this machine) is made here; :class:`bot.adapters.terraform_cli.runner.TerraformRunner`
only asks its executor to wrap each command.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import subprocess
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

ExecutorMode = Literal["sandbox", "local", "kubernetes"]

SANDBOX_HOME = "/tmp/home"
_PROBE_TIMEOUT_SECONDS = 10.0
_DEFAULT_HIDDEN = ("/run/secrets", "/var/run/secrets")

FIX_SANDBOX = (
    "install bubblewrap (Debian/Ubuntu: `apt-get install bubblewrap`) and allow unprivileged user "
    "namespaces for the bot's user (in Kubernetes: the pod `securityContext` in deploy/README.md), "
    "or set GITOPS_BOT_TERRAFORM_EXECUTOR=local to run Terraform without isolation (pull requests "
    "can then read the bot's secrets)"
)


@dataclass(frozen=True)
class ExecutorStatus:
    """What the executor can do on this machine; shown at start-up and in ``/readyz``."""

    mode: ExecutorMode
    ok: bool  # False: terraform commands are refused (the sandbox cannot be made)
    detail: str

    def as_json(self) -> dict[str, object]:
        return {"mode": self.mode, "ok": self.ok, "isolated": self.mode != "local", "detail": self.detail}


class Executor(Protocol):
    mode: ExecutorMode

    def status(self) -> ExecutorStatus: ...

    def wrap(self, argv: Sequence[str], env: Mapping[str, str], *, cwd: Path, root: Path) -> Command: ...


@dataclass(frozen=True)
class Command:
    """What to start: ``argv`` in ``cwd`` with ``env`` (``preexec`` runs in the child)."""

    argv: tuple[str, ...]
    env: dict[str, str]
    cwd: Path
    preexec: Callable[[], None] | None = None


def _die_with_parent() -> None:
    """In the child: SIGKILL when the bot dies (Linux), so no Terraform outlives a killed bot."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL)


@dataclass
class LocalExecutor:
    """No isolation: Terraform sees what the bot sees (announced wherever plans are shown)."""

    mode: ExecutorMode = "local"

    def status(self) -> ExecutorStatus:
        return ExecutorStatus(
            "local",
            True,
            "GITOPS_BOT_TERRAFORM_EXECUTOR=local: Terraform runs without a sandbox and can read "
            "every file and variable the bot can",
        )

    def wrap(self, argv: Sequence[str], env: Mapping[str, str], *, cwd: Path, root: Path) -> Command:
        return Command(tuple(argv), dict(env), cwd, preexec=_die_with_parent)


@dataclass(frozen=True)
class SandboxPaths:
    """Paths the sandbox hides or re-exposes, beyond its fixed layout."""

    hidden: tuple[Path, ...] = ()  # directories become empty tmpfs, files /dev/null
    readonly: tuple[Path, ...] = ()  # made visible again (read-only) after the hiding
    writable: tuple[Path, ...] = ()  # made visible again, writable (the plugin cache)


def _existing(paths: Iterable[Path]) -> list[Path]:
    seen: list[Path] = []
    for path in paths:
        absolute = Path(os.path.abspath(path))
        if absolute not in seen and (absolute.exists() or absolute.is_symlink()):
            seen.append(absolute)
    return seen


def _interpreter_paths(executable: Path) -> list[Path]:
    """What a script needs to start: its ``#!`` interpreter's installation (and virtualenv)."""
    try:
        with executable.open("rb") as handle:
            first = handle.readline(4096)
    except OSError:
        return []
    if not first.startswith(b"#!"):
        return []
    words = first[2:].decode("utf-8", "replace").split()
    if not words:
        return []
    interpreter = Path(words[0])
    paths = [interpreter.parent.parent]  # a virtualenv (or prefix) named in the shebang
    real = interpreter.resolve()
    paths.append(real.parent.parent)  # the installation it links to
    return paths


def executable_paths(executable: Path) -> list[Path]:
    """The directories an executable needs to be visible: its own and, for a script, its interpreter's."""
    real = executable.resolve()
    return [executable.parent, real.parent, *_interpreter_paths(real)]


def bwrap_argv(
    bwrap: str,
    argv: Sequence[str],
    env: Mapping[str, str],
    *,
    cwd: Path,
    root: Path,
    paths: SandboxPaths,
    mount_proc: bool = True,
) -> list[str]:
    """The bubblewrap command line that runs ``argv`` confined as the module docs describe (pure)."""
    words = [
        bwrap,
        "--ro-bind", "/", "/",
        "--dev", "/dev",
        *(["--proc", "/proc"] if mount_proc else ["--tmpfs", "/proc"]),
        "--tmpfs", "/tmp",
        "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
        "--die-with-parent",
    ]  # fmt: skip
    for hidden in paths.hidden:
        words += ["--tmpfs", str(hidden)] if hidden.is_dir() else ["--ro-bind", "/dev/null", str(hidden)]
    words += ["--dir", SANDBOX_HOME]
    for visible in paths.readonly:
        words += ["--ro-bind", str(visible), str(visible)]
    for writable in paths.writable:
        words += ["--bind", str(writable), str(writable)]
    words += ["--bind", str(root), str(root), "--chdir", str(cwd), "--clearenv"]
    for name, value in sorted(env.items()):
        words += ["--setenv", name, value]
    return [*words, "--", *argv]


@dataclass
class SandboxExecutor:
    """Terraform inside bubblewrap; ``status()`` probes once whether a sandbox can be made."""

    hidden: tuple[Path, ...] = ()
    readonly: tuple[Path, ...] = ()
    bwrap: str = "bwrap"
    mode: ExecutorMode = "sandbox"
    _status: ExecutorStatus | None = field(default=None, repr=False)
    _mount_proc: bool = field(default=True, repr=False)
    _probing: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def status(self) -> ExecutorStatus:
        # One probe, however many callers ask at once (readiness checks arriving while a slow
        # machine runs the first probe would each start another).
        with self._probing:
            if self._status is None:
                self._status = self._probe()
            return self._status

    def _probe(self) -> ExecutorStatus:
        found = shutil.which(self.bwrap)
        if found is None:
            return ExecutorStatus(
                "sandbox", False, f"bubblewrap ({self.bwrap}) is not installed: {FIX_SANDBOX}"
            )
        error = ""
        for mount_proc in (True, False):
            # A container that masks parts of /proc refuses a new procfs; Terraform runs without one.
            probe = bwrap_argv(found, ["true"], {}, cwd=Path("/"), root=Path("/tmp"),
                               paths=SandboxPaths(), mount_proc=mount_proc)  # fmt: skip
            try:
                done = subprocess.run(
                    probe, capture_output=True, text=True, timeout=_PROBE_TIMEOUT_SECONDS, check=False
                )
            except (OSError, subprocess.TimeoutExpired) as exc:
                error = str(exc)
                continue
            if done.returncode == 0:
                self._mount_proc = mount_proc
                proc = "its own /proc" if mount_proc else "no /proc (this container masks it)"
                return ExecutorStatus("sandbox", True, f"bubblewrap sandbox with {proc}")
            error = (done.stderr or done.stdout).strip() or f"exit code {done.returncode}"
        return ExecutorStatus("sandbox", False, f"the sandbox cannot be made ({error}): {FIX_SANDBOX}")

    def wrap(self, argv: Sequence[str], env: Mapping[str, str], *, cwd: Path, root: Path) -> Command:
        status = self.status()
        if not status.ok:
            raise SandboxUnavailable(status.detail)
        executable = Path(argv[0])
        sandbox_env = {**env, "HOME": SANDBOX_HOME}
        readonly = [*self.readonly, *executable_paths(executable)]
        cli_config = env.get("TF_CLI_CONFIG_FILE")
        if cli_config:
            readonly.append(Path(cli_config))
        writable = []
        plugin_cache = env.get("TF_PLUGIN_CACHE_DIR")
        if plugin_cache:
            Path(plugin_cache).mkdir(parents=True, exist_ok=True)
            writable.append(Path(plugin_cache))
        paths = SandboxPaths(
            hidden=tuple(_existing([*map(Path, _DEFAULT_HIDDEN), *self.hidden])),
            readonly=tuple(_existing(readonly)),
            writable=tuple(_existing(writable)),
        )
        words = bwrap_argv(
            shutil.which(self.bwrap) or self.bwrap,
            argv,
            sandbox_env,
            cwd=cwd,
            root=root,
            paths=paths,
            mount_proc=self._mount_proc,
        )
        # bwrap's own --die-with-parent covers the sandbox; no preexec hook is needed.
        return Command(tuple(words), {"PATH": env.get("PATH", os.defpath)}, cwd)


class SandboxUnavailable(RuntimeError):
    """The sandbox cannot be made here; terraform commands are refused (the message says how to fix it)."""


__all__ = [
    "FIX_SANDBOX",
    "Command",
    "Executor",
    "ExecutorMode",
    "ExecutorStatus",
    "LocalExecutor",
    "SandboxExecutor",
    "SandboxPaths",
    "SandboxUnavailable",
    "bwrap_argv",
    "executable_paths",
]
