"""The ``GIT_ASKPASS`` helper: how a token reaches git without touching a URL, a config file or argv.

git runs the helper with a prompt ("Username for 'https://…': " or "Password for …") and reads the
answer from its stdout. The script holds no secret: it echoes environment variables that
:func:`askpass_env` sets only in the environment of the one git subprocess that needs them, so the
token is never written to disk, never on a command line (visible in ``ps``) and never in a remote URL.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

USERNAME_VARIABLE = "GITOPS_BOT_GIT_USERNAME"
PASSWORD_VARIABLE = "GITOPS_BOT_GIT_PASSWORD"
SCRIPT_NAME = "git-askpass"

# POSIX sh so it runs wherever git does; printf, not echo, so a token starting with "-" survives.
ASKPASS_SCRIPT = f"""#!/bin/sh
# Written by gitops-bot. Answers git's credential prompts from variables set for one git command.
case "$1" in
  Username*|username*) printf '%s\\n' "${{{USERNAME_VARIABLE}:-x-access-token}}" ;;
  *) printf '%s\\n' "${{{PASSWORD_VARIABLE}}}" ;;
esac
"""


def install_askpass(directory: Path) -> Path:
    """Write the helper into ``directory`` (mode 0700) and return its path; safe to call concurrently.

    The file is written under a unique temporary name and renamed into place, so a process that
    runs git meanwhile sees either the old complete script or the new one, never half of it.
    """
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / SCRIPT_NAME
    try:
        if target.read_text(encoding="utf-8") == ASKPASS_SCRIPT and (target.stat().st_mode & 0o777) == 0o700:
            return target
    except FileNotFoundError:
        pass
    temporary = directory / f".{SCRIPT_NAME}.{secrets.token_hex(6)}"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o700)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(ASKPASS_SCRIPT)
        os.chmod(temporary, 0o700)  # the umask may have narrowed the mode given to open()
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return target


def askpass_env(script: Path, username: str, token: str) -> dict[str, str]:
    """Environment entries for one git subprocess that must authenticate with ``token``."""
    return {"GIT_ASKPASS": str(script), USERNAME_VARIABLE: username, PASSWORD_VARIABLE: token}
