from __future__ import annotations

import os
import shutil
import stat
import subprocess
import time
from pathlib import Path

import pytest

from bot.adapters.git import GitError, GitRunner, GitTimeout, git_environment
from tests.support.requirements import require

SECRET = "s3cret-token-0123456789"


def test_environment_is_clean_and_never_prompts() -> None:
    inherited = {
        "PATH": "/bin",
        "HOME": "/home/bot",
        "LANG": "de_DE.UTF-8",
        "GIT_DIR": "/elsewhere/.git",
        "GIT_INDEX_FILE": "/elsewhere/index",
        "GIT_ASKPASS": "/usr/bin/ksshaskpass",
        "SSH_ASKPASS": "/usr/bin/ssh-askpass",
        "GIT_SSL_CAINFO": "/etc/ca.pem",
        "GIT_SSH_COMMAND": "ssh -i key",
    }
    env = git_environment(inherited, {"GIT_AUTHOR_NAME": "bot"})
    assert env["LC_ALL"] == "C"
    assert env["GIT_TERMINAL_PROMPT"] == "0"
    assert env["GIT_CONFIG_NOSYSTEM"] == "1"
    assert env["GIT_CONFIG_GLOBAL"] == os.devnull
    assert env["GIT_SSL_CAINFO"] == "/etc/ca.pem"
    assert env["GIT_SSH_COMMAND"] == "ssh -i key"
    assert env["GIT_AUTHOR_NAME"] == "bot"
    assert env["PATH"] == "/bin" and env["HOME"] == "/home/bot"
    for dropped in ("GIT_DIR", "GIT_INDEX_FILE", "GIT_ASKPASS", "SSH_ASKPASS"):
        assert dropped not in env


def test_environment_without_isolation_and_default_ssh_batch_mode() -> None:
    env = git_environment({"PATH": "/bin"}, isolate_config=False)
    assert "GIT_CONFIG_GLOBAL" not in env and "GIT_CONFIG_NOSYSTEM" not in env
    assert env["GIT_SSH_COMMAND"] == "ssh -o BatchMode=yes"


def test_error_names_the_command_and_stderr_without_secrets(tmp_path: Path) -> None:
    require(shutil.which("git") is not None, "the git binary")
    subprocess.run(["git", "init", "--quiet", str(tmp_path)], check=True)
    runner = GitRunner(timeout=30)
    with pytest.raises(GitError) as caught:
        runner.run(["show", SECRET], cwd=tmp_path, secrets=[SECRET])
    error = caught.value
    assert SECRET not in str(error)
    assert error.command[-2:] == ("show", "***")
    assert error.returncode == 128
    assert "unknown revision" in error.stderr
    assert "`git -c credential.helper= show ***` failed (exit 128)" in str(error)


def test_check_false_returns_the_exit_code(tmp_path: Path) -> None:
    require(shutil.which("git") is not None, "the git binary")
    subprocess.run(["git", "init", "--quiet", str(tmp_path)], check=True)
    out = GitRunner().run(["rev-parse", "--verify", "--quiet", "HEAD"], cwd=tmp_path, check=False)
    assert out.returncode == 1
    assert out.stdout == ""


def test_missing_binary_is_a_git_error(tmp_path: Path) -> None:
    with pytest.raises(GitError, match="cannot start"):
        GitRunner(str(tmp_path / "no-git")).run(["status"], cwd=tmp_path)


def test_timeout_kills_git_and_everything_it_started(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    fake_git = tmp_path / "fake-git"
    # Stands in for git talking to a server that never answers: a helper process that hangs.
    fake_git.write_text(f"#!/bin/sh\nsleep 60 &\necho $! > {pid_file}\nwait\n")
    fake_git.chmod(fake_git.stat().st_mode | stat.S_IXUSR)
    started = time.monotonic()
    with pytest.raises(GitTimeout, match="timed out"):
        GitRunner(str(fake_git), timeout=0.5).run(["fetch"], cwd=tmp_path)
    assert time.monotonic() - started < 10
    child = int(pid_file.read_text())
    deadline = time.monotonic() + 10
    while _alive(child):
        assert time.monotonic() < deadline, "the helper process outlived the timeout"
        time.sleep(0.02)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            return handle.read().split(")")[-1].split()[0] != "Z"  # a zombie is dead
    except FileNotFoundError:
        return False


def test_timeout_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        GitRunner(timeout=0)
