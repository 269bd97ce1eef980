from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest

from bot.adapters.git import MirrorLockTimeout, file_lock


def test_lock_excludes_another_thread(tmp_path: Path) -> None:
    path = tmp_path / "repo.git.lock"
    outcome: list[str] = []
    with file_lock(path, timeout=1):

        def contender() -> None:
            try:
                with file_lock(path, timeout=0.05):
                    outcome.append("acquired")
            except MirrorLockTimeout:
                outcome.append("timed out")

        thread = threading.Thread(target=contender)
        thread.start()
        thread.join(10)
    assert outcome == ["timed out"]
    with file_lock(path, timeout=0.05):  # released on exit
        pass


def test_lock_excludes_another_process(tmp_path: Path) -> None:
    path = tmp_path / "repo.git.lock"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, os, sys\n"
            f"fd = os.open({str(path)!r}, os.O_RDWR | os.O_CREAT)\n"
            "fcntl.flock(fd, fcntl.LOCK_EX)\n"
            "print('locked', flush=True)\n"
            "sys.stdin.read()\n",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with pytest.raises(MirrorLockTimeout, match="still busy"), file_lock(path, timeout=0.1):
            pass
    finally:
        holder.communicate("", timeout=10)
    with file_lock(path, timeout=5):
        pass
