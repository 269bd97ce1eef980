"""Which extra arguments and workspace names reach Terraform (shared by the comment parser and runner).

Extra arguments (after ``--`` in a comment) reach Terraform as separate argv words (never
through a shell), so quoting cannot inject commands. What remains dangerous is what a flag
makes Terraform do: ``-chdir`` leaves the project, ``-plugin-dir`` loads other binaries,
``-out``/``-state``/``-backup`` write anywhere, ``-var-file=/etc/passwd`` quotes a host file
into the comment, and Terraform grows new flags every release. So this is an **allowlist**:
only the flags below pass, each checked for its value; anything else is refused with the list.

Both Go flag spellings (``-x`` and ``--x``) and both value forms (``-x=v`` and ``-x v``) are
accepted and normalised to one word ``-x=v``, so the runner never has to guess which word is
a value. ``-var-file`` must be a relative path inside the project directory; the runner checks
it again against the checked-out tree with symlinks resolved (:func:`var_file_problem`).
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

# What users see when an argument is refused, in the order Terraform's docs list them.
ALLOWED_EXTRA_ARGS: tuple[str, ...] = (
    "-target=ADDRESS",
    "-replace=ADDRESS",
    "-var 'NAME=VALUE'",
    "-var-file=FILE (inside the project directory)",
    "-destroy",
    "-refresh-only",
    "-refresh=false",
    "-lock=false",
    "-lock-timeout=DURATION",
    "-parallelism=N",
    "-compact-warnings",
    "-no-color",
)

_DURATION = re.compile(r"[0-9]{1,6}(ms|s|m|h)")
_VAR = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*=.*", re.DOTALL)
_MAX_PARALLELISM = 256


@dataclass(frozen=True)
class ExtraArgsRefused:
    arg: str
    reason: str

    @property
    def message(self) -> str:
        return (
            f"the terraform argument `{self.arg}` is not allowed ({self.reason}); extra arguments may "
            f"only be: {', '.join(ALLOWED_EXTRA_ARGS)}"
        )


def _address(value: str) -> str | None:
    return None if value.strip() and "\n" not in value else "it needs a resource address"


def _var(value: str) -> str | None:
    return None if _VAR.fullmatch(value) else "it needs NAME=VALUE"


def _var_file(value: str) -> str | None:
    if not value or "\0" in value or value.startswith(("/", "~")) or "\\" in value:
        return "it needs a relative path inside the project directory"
    normalised = posixpath.normpath(value)
    if normalised == ".." or normalised.startswith("../"):
        return "the file must be inside the project directory"
    return None


def _duration(value: str) -> str | None:
    return None if _DURATION.fullmatch(value) else "it needs a duration such as 30s or 5m"


def _parallelism(value: str) -> str | None:
    # Length first: int() of a many-thousand-digit string is refused by Python itself.
    if value.isascii() and value.isdigit() and len(value) <= 3 and 1 <= int(value) <= _MAX_PARALLELISM:
        return None
    return f"it needs a number from 1 to {_MAX_PARALLELISM}"


def _only(*accepted: str) -> Callable[[str], str | None]:
    def check(value: str) -> str | None:
        return None if value in accepted else f"only {' or '.join(accepted)} is accepted"

    return check


# Flags that take a value (``-x=v`` or ``-x v``) and how the value is checked.
_VALUE_FLAGS: dict[str, Callable[[str], str | None]] = {
    "target": _address,
    "replace": _address,
    "var": _var,
    "var-file": _var_file,
    "lock-timeout": _duration,
    "parallelism": _parallelism,
}
_SWITCHES: frozenset[str] = frozenset({"destroy", "refresh-only", "compact-warnings", "no-color"})
_FALSE_ONLY: frozenset[str] = frozenset({"refresh", "lock"})


def check_extra_args(args: Sequence[str]) -> tuple[str, ...] | ExtraArgsRefused:
    """The arguments normalised to ``-flag[=value]`` words, or why the first bad one is refused (pure)."""
    normalised: list[str] = []
    index = 0
    while index < len(args):
        arg = args[index]
        index += 1
        if not arg.startswith("-") or arg in ("-", "--"):
            return ExtraArgsRefused(arg, "only flags are passed to terraform")
        name, has_value, value = arg.lstrip("-").partition("=")
        if arg.startswith("---") or not name:
            return ExtraArgsRefused(arg, "not a terraform flag")
        if name in _VALUE_FLAGS:
            if not has_value:
                if index >= len(args):
                    return ExtraArgsRefused(arg, "its value is missing")
                value = args[index]
                index += 1
            problem = _VALUE_FLAGS[name](value)
            if problem is not None:
                return ExtraArgsRefused(arg if has_value else f"{arg} {value}", problem)
            normalised.append(f"-{name}={value}")
        elif name in _SWITCHES:
            if has_value and value not in ("true", "false"):
                return ExtraArgsRefused(arg, "it takes no value")
            normalised.append(f"-{name}" if not has_value else f"-{name}={value}")
        elif name in _FALSE_ONLY:
            if not has_value or value != "false":
                return ExtraArgsRefused(arg, f"only -{name}=false is accepted")
            normalised.append(f"-{name}=false")
        else:
            return ExtraArgsRefused(arg, "not on the allowlist")
    return tuple(normalised)


def var_file_problem(project_dir: Path, relative: str) -> str | None:
    """Why ``-var-file=relative`` may not be read in ``project_dir`` (symlinks resolved), or None."""
    syntax = _var_file(relative)
    if syntax is not None:
        return f"-var-file={relative}: {syntax}"
    root = project_dir.resolve()
    target = (root / relative).resolve()
    if not target.is_relative_to(root):
        return f"-var-file={relative} leads outside the project directory (through a symlink)"
    if not target.is_file():
        return f"-var-file={relative} does not exist in the project directory"
    return None


# Go's url.PathEscape leaves exactly these bytes alone in a path segment, and Terraform refuses
# workspace names it would change (Atlantis checks the same and also refuses ".."). The bot
# also refuses '$' and a leading '-' or '~': the name becomes part of file paths and argv.
_WORKSPACE = re.compile(r"[A-Za-z0-9_.&+:=@][A-Za-z0-9_.&+:=@~-]*")


def is_valid_workspace(name: str) -> bool:
    return bool(_WORKSPACE.fullmatch(name)) and ".." not in name
