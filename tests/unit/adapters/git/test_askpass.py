from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from bot.adapters.git import askpass_env, install_askpass
from bot.adapters.git.askpass import PASSWORD_VARIABLE, USERNAME_VARIABLE

TOKEN = "-n s3cret token 0123456789"  # a leading "-n" would break a naive echo


def ask(script: Path, prompt: str, env: dict[str, str]) -> str:
    result = subprocess.run(
        [str(script), prompt],
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **env},
        capture_output=True,
        text=True,
        timeout=10,
        check=True,
    )
    return result.stdout


def test_script_is_private_and_holds_no_secret(tmp_path: Path) -> None:
    script = install_askpass(tmp_path / "bin")
    assert script.stat().st_mode & 0o777 == 0o700
    env = askpass_env(script, "x-access-token", TOKEN)
    assert TOKEN not in script.read_text()
    assert env["GIT_ASKPASS"] == str(script)


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("Username for 'https://github.com': ", "x-access-token\n"),
        ("Password for 'https://x-access-token@github.com': ", f"{TOKEN}\n"),
    ],
)
def test_script_answers_git_prompts_from_the_environment(tmp_path: Path, prompt: str, expected: str) -> None:
    script = install_askpass(tmp_path)
    assert ask(script, prompt, askpass_env(script, "x-access-token", TOKEN)) == expected


def test_username_defaults_and_password_is_empty_without_variables(tmp_path: Path) -> None:
    script = install_askpass(tmp_path)
    assert ask(script, "Username for 'https://github.com': ", {}) == "x-access-token\n"
    assert ask(script, "Password for 'https://github.com': ", {}) == "\n"
    assert ask(script, "Username: ", {USERNAME_VARIABLE: "bot", PASSWORD_VARIABLE: "t"}) == "bot\n"


def test_install_is_idempotent_and_repairs_the_mode(tmp_path: Path) -> None:
    script = install_askpass(tmp_path)
    first_inode = script.stat().st_ino
    assert install_askpass(tmp_path).stat().st_ino == first_inode  # unchanged file is left alone
    script.chmod(0o755)
    assert install_askpass(tmp_path).stat().st_mode & 0o777 == 0o700
    assert [p.name for p in tmp_path.iterdir()] == [script.name]  # no temporary files left
