"""The Kubernetes stand-in's kubelet: a pod's container runs as a local process.

The container's ``command`` + ``args`` run in a bubblewrap sandbox (``bwrap``) that looks like a
container with a read-only root filesystem and an ``emptyDir`` at ``/tmp``:

- ``/`` bound read-only, its own ``/proc`` and ``/dev``, a new PID and IPC namespace (the process
  sees only itself), ``--die-with-parent`` (nothing outlives the test process), capabilities
  dropped when the tests run as root;
- a fresh tmpfs at ``/tmp`` (the emptyDir), also hiding the test's temporary directories; the
  interpreter's temporary directory when it is elsewhere, and every ``hide_paths`` entry, are
  hidden the same way. Directories of the container's ``PATH`` that would be hidden (the
  ``terraform`` shim of the test fixtures lives in a pytest temporary directory), this
  interpreter's environment and import directories (what the bot's image would hold; a checkout
  cloned under ``/tmp``) and every ``expose_paths`` entry are bound back read-only, so what the
  container runs still resolves;
- the network is the host's: a container reaches services the test runs on loopback.

Without ``bwrap`` a container is refused (its pod waits with ``CreateContainerError``, as a
kubelet whose runtime cannot create the container reports it), unless the stand-in allows
unsandboxed containers: then it runs as a plain child process in a scratch directory, seeing
the host's files.

Every container is its own process group; it counts as started (Running) once bwrap has set
up and runs its command. Stopping it sends SIGTERM to the group (in the sandbox: to every member
but ``bwrap`` itself, which would otherwise die at once and take the container with it, with no
grace), SIGKILL to the whole group after the grace period. A real runtime signals only the
container's PID 1; here its children in the group get SIGTERM too (a shell may report them
``Terminated``), children in groups of their own do not. stdout and stderr share one pipe, so
the log interleaves them as they were written.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

_READ_SIZE = 64 * 1024
_PROBE_TIMEOUT_SECONDS = 10.0
_COMMAND_START_TIMEOUT_SECONDS = 10.0
# What containerd reports when runc cannot exec the command (the pod then fails with StartError).
_START_ERROR_PREFIX = (
    "failed to create containerd task: failed to create shim task: OCI runtime create failed: "
    "runc create failed: unable to start container process: "
)


# The container's root: the host's, read-only, with its own /dev and /proc.
_ROOT_ARGS = ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
# Namespaces and safety flags of every sandbox; no --new-session: the container must stay in the
# process group the kubelet signals.
_BASE_ARGS = [
    "--unshare-pid",
    "--unshare-ipc",
    "--die-with-parent",
    *(["--cap-drop", "ALL"] if os.geteuid() == 0 else []),
]


class ContainerLog:
    """A container's output as written; readers following it wait for more until it closes."""

    def __init__(self) -> None:
        self._data = bytearray()
        self._closed = False
        self._changed = threading.Condition()

    def append(self, chunk: bytes) -> None:
        with self._changed:
            self._data += chunk
            self._changed.notify_all()

    def close(self) -> None:
        with self._changed:
            self._closed = True
            self._changed.notify_all()

    @property
    def closed(self) -> bool:
        with self._changed:
            return self._closed

    def snapshot(self) -> bytes:
        with self._changed:
            return bytes(self._data)

    def follow(self, offset: int = 0) -> Iterator[bytes]:
        """Chunks from ``offset`` on, as they are written, until the log is closed."""
        while True:
            with self._changed:
                while len(self._data) <= offset and not self._closed:
                    self._changed.wait(timeout=1.0)
                chunk = bytes(self._data[offset:])
                finished = self._closed
            if chunk:
                offset += len(chunk)
                yield chunk
            elif finished:
                return


@dataclass(frozen=True)
class Launch:
    """What the kubelet runs: the container's argv, its complete environment, its workingDir."""

    argv: Sequence[str]
    env: Mapping[str, str]
    working_dir: str | None


class Sandbox:
    """How containers run on this machine: ``bwrap`` when it works, else plain (when allowed)."""

    def __init__(
        self,
        *,
        allow_unsandboxed: bool = False,
        hide_paths: Sequence[str | os.PathLike[str]] = (),
        expose_paths: Sequence[str | os.PathLike[str]] = (),
    ) -> None:
        self.allow_unsandboxed = allow_unsandboxed
        self._bwrap = shutil.which("bwrap")
        hidden = ["/tmp", tempfile.gettempdir(), *(os.fspath(path) for path in hide_paths)]
        self.hidden = _outermost(os.path.realpath(path) for path in hidden)
        self.exposed = [os.path.realpath(os.fspath(path)) for path in expose_paths]
        # What an image of the bot would hold: this interpreter's environment and the directories
        # it imports from (a checkout under /tmp, as a CI machine may clone it, included).
        runtime = [sys.prefix, sys.base_prefix, *(entry for entry in sys.path if entry)]
        self.runtime = _outermost(os.path.realpath(path) for path in runtime if os.path.isdir(path))

    @cached_property
    def problem(self) -> str | None:
        """Why no sandbox can be made here (None: ``bwrap`` works)."""
        if self._bwrap is None:
            return "bwrap (bubblewrap) is not installed"
        probe = [self._bwrap, *_ROOT_ARGS, *_BASE_ARGS, "--", "true"]
        try:
            result = subprocess.run(probe, capture_output=True, timeout=_PROBE_TIMEOUT_SECONDS, check=False)
        except (OSError, subprocess.TimeoutExpired) as error:
            return f"bwrap cannot run: {error}"
        if result.returncode != 0:
            return f"bwrap cannot make a sandbox here: {result.stderr.decode(errors='replace').strip()}"
        return None

    @property
    def mode(self) -> str:
        """``bwrap``, ``unsandboxed`` or ``unavailable`` (containers are refused)."""
        if self.problem is None:
            return "bwrap"
        return "unsandboxed" if self.allow_unsandboxed else "unavailable"

    def refusal(self) -> str | None:
        """The CreateContainerError message when containers cannot run here, else None."""
        if self.mode != "unavailable":
            return None
        return (
            f"the Kubernetes stand-in cannot sandbox the container: {self.problem}; install bubblewrap, "
            "or construct the stand-in with allow_unsandboxed=True to run containers as plain processes"
        )

    def start_error(self, launch: Launch) -> str | None:
        """The StartError message when the command cannot be executed in the container, else None."""
        command = launch.argv[0] if launch.argv else ""
        if not command:
            return _START_ERROR_PREFIX + 'exec: "": executable file not found in $PATH: unknown'
        if "/" in command:
            path = os.path.join(launch.working_dir or "/tmp", command)
            if not (self.visible(path, launch.env) and os.access(path, os.X_OK) and os.path.isfile(path)):
                return (
                    _START_ERROR_PREFIX
                    + f'exec: "{command}": stat {command}: no such file or directory: unknown'
                )
            return None
        found = shutil.which(command, path=launch.env.get("PATH", ""))
        if found is None or not self.visible(found, launch.env):
            return _START_ERROR_PREFIX + f'exec: "{command}": executable file not found in $PATH: unknown'
        return None

    def visible(self, path: str, env: Mapping[str, str]) -> bool:
        """Does ``path`` exist for the container (not hidden, or bound back)?"""
        if self.mode != "bwrap":
            return True
        real = os.path.realpath(path)
        if any(_under(real, exposed) for exposed in self._exposed_for(env)):
            return True
        return not any(_under(real, hidden) for hidden in self.hidden)

    def command(self, launch: Launch, scratch: Path) -> tuple[list[str], str]:
        """The argv and host working directory that run ``launch``; ``scratch`` is the pod's own
        directory (the working directory of an unsandboxed container without a workingDir)."""
        if self.mode != "bwrap":
            working_dir = launch.working_dir
            cwd = working_dir if working_dir and os.path.isdir(working_dir) else str(scratch)
            return list(launch.argv), cwd
        assert self._bwrap is not None
        argv = [self._bwrap, *_ROOT_ARGS]
        for hidden in self.hidden:
            if hidden == "/tmp" or os.path.isdir(hidden):
                argv += ["--tmpfs", hidden]
            elif os.path.exists(hidden):
                argv += ["--ro-bind", "/dev/null", hidden]
        for exposed in self._exposed_for(launch.env):
            argv += ["--ro-bind-try", exposed, exposed]
        argv += _BASE_ARGS
        working_dir = launch.working_dir or "/tmp"
        if any(_under(working_dir, hidden) for hidden in self.hidden):
            argv += ["--dir", working_dir]  # on the tmpfs, as the kubelet creates a missing workingDir
        argv += ["--chdir", working_dir, "--", *launch.argv]
        return argv, "/"

    def _exposed_for(self, env: Mapping[str, str]) -> list[str]:
        on_path = [os.path.realpath(entry) for entry in env.get("PATH", "").split(os.pathsep) if entry]
        hidden_path_dirs = [
            entry
            for entry in on_path
            if os.path.isdir(entry)
            and entry not in self.hidden  # PATH=/tmp:... must not undo the emptyDir
            and any(_under(entry, hidden) for hidden in self.hidden)
        ]
        hidden_runtime = [
            entry
            for entry in self.runtime
            if entry not in self.hidden and any(_under(entry, hidden) for hidden in self.hidden)
        ]
        return [*hidden_path_dirs, *hidden_runtime, *self.exposed]


class ContainerProcess:
    """One running container. ``start`` returns at once; the callbacks come from its thread."""

    def __init__(
        self,
        argv: Sequence[str],
        env: Mapping[str, str],
        cwd: str,
        log: ContainerLog,
        *,
        sandboxed: bool,
        on_started: Callable[[], None],
        on_exited: Callable[[int], None],
        on_start_failed: Callable[[str], None],
    ) -> None:
        self._argv = list(argv)
        self._env = dict(env)
        self._cwd = cwd
        self._log = log
        self._sandboxed = sandboxed
        self._on_started = on_started
        self._on_exited = on_exited
        self._on_start_failed = on_start_failed
        self._process: subprocess.Popen[bytes] | None = None
        self._requested: signal.Signals | None = None  # asked for before the command ran
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="k8s-standin-container", daemon=True)

    def start(self) -> None:
        self._thread.start()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def join(self, timeout: float) -> None:
        if self._thread.ident is not None:
            self._thread.join(timeout)

    def terminate(self) -> None:
        """SIGTERM, as the kubelet stops a container (the grace period is the caller's)."""
        with self._lock:
            self._requested = self._requested or signal.SIGTERM
            process = self._process
        if process is None or process.returncode is not None:
            return
        if not self._sandboxed:
            _signal_group(process.pid, signal.SIGTERM)
            return
        for pid in _group_members(process.pid):
            if pid != process.pid:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGTERM)

    def kill(self) -> None:
        with self._lock:
            self._requested = signal.SIGKILL
            process = self._process
        if process is not None and process.returncode is None:
            _signal_group(process.pid, signal.SIGKILL)

    def _run(self) -> None:
        # Popen in this thread, which lives as long as the process: bwrap's --die-with-parent is a
        # parent-death signal, and Linux sends it when the thread that forked exits.
        try:
            process = subprocess.Popen(
                self._argv,
                env=self._env,
                cwd=self._cwd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                close_fds=True,
            )
        except OSError as error:
            self._log.close()
            self._on_start_failed(_START_ERROR_PREFIX + f"{error}: unknown")
            return
        with self._lock:
            self._process = process
            requested = self._requested
        if requested == signal.SIGKILL:
            self.kill()
        self._wait_for_command(process)
        self._on_started()
        with self._lock:
            requested = self._requested
        if requested == signal.SIGTERM:  # sent before the command ran, it reached only bwrap
            self.terminate()
        assert process.stdout is not None
        reader = threading.Thread(
            target=self._pump, args=(process.stdout.fileno(),), name="k8s-standin-log", daemon=True
        )
        reader.start()
        returncode = process.wait()
        # The container ends with its main process: whatever it left behind in its group goes too.
        _signal_group(process.pid, signal.SIGKILL)
        reader.join(timeout=5)
        process.stdout.close()
        self._log.close()
        self._on_exited(128 - returncode if returncode < 0 else returncode)

    def _wait_for_command(self, process: subprocess.Popen[bytes]) -> None:
        """Until the sandbox runs the container's command (the kubelet reports Running then):
        before, there is only bwrap setting up, and a SIGTERM would reach no one."""
        if not self._sandboxed:
            return
        bwrap = os.path.realpath(self._argv[0])
        deadline = time.monotonic() + _COMMAND_START_TIMEOUT_SECONDS
        while process.poll() is None and time.monotonic() < deadline:
            if any(_executable(pid) not in (bwrap, None) for pid in _group_members(process.pid)):
                return
            time.sleep(0.002)

    def _pump(self, fd: int) -> None:
        with contextlib.suppress(OSError):
            while chunk := os.read(fd, _READ_SIZE):
                self._log.append(chunk)


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def _group_members(pgid: int) -> list[int]:
    members = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        # Fields after the command name (which may contain spaces): state, ppid, pgrp, ...
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[2]) == pgid:
            members.append(int(entry.name))
    return members


def _executable(pid: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/exe")
    except OSError:  # gone, or a zombie
        return None


def _under(path: str, parent: str) -> bool:
    return path == parent or path.startswith(parent.rstrip("/") + "/")


def _outermost(paths: Iterable[str]) -> list[str]:
    """The paths without those inside another one (hiding the parent hides them already)."""
    unique = sorted(set(paths))
    return [path for path in unique if not any(other != path and _under(path, other) for other in unique)]
