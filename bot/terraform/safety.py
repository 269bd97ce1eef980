"""Names and arguments the bot refuses to hand to Terraform (pure; shared by parser and runner).

Extra arguments (after ``--`` in a comment) reach Terraform as separate argv words (never
through a shell), so quoting cannot inject commands. What remains dangerous are flags that
move Terraform out of the checked-out project or make it read or write files the bot does
not control:

- ``-chdir`` runs Terraform in another directory (outside the project or the repository);
- ``-plugin-dir`` loads provider binaries from an arbitrary path;
- ``-out``, ``-state``, ``-state-out`` and ``-backup`` write to arbitrary paths, and ``-out``
  would also replace the plan file the bot applies later.

Both Go flag spellings (``-x`` and ``--x``) and the ``=value`` form are refused.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

REFUSED_EXTRA_FLAGS: tuple[str, ...] = ("chdir", "plugin-dir", "out", "state", "state-out", "backup")


def refused_extra_arg(arg: str) -> str | None:
    """The refused flag name ``arg`` spells, or None when it may be passed to Terraform."""
    if not arg.startswith("-"):
        return None
    name = arg[2:] if arg.startswith("--") else arg[1:]
    name = name.split("=", 1)[0]
    return name if name in REFUSED_EXTRA_FLAGS else None


def first_refused_extra_arg(args: Iterable[str]) -> str | None:
    """The first argument in ``args`` that must not be passed to Terraform, if any."""
    for arg in args:
        if refused_extra_arg(arg) is not None:
            return arg
    return None


# Go's url.PathEscape leaves exactly these bytes alone in a path segment, and Terraform refuses
# workspace names it would change (Atlantis checks the same and also refuses ".."). The bot
# also refuses '$' and a leading '-' or '~': the name becomes part of file paths and argv.
_WORKSPACE = re.compile(r"[A-Za-z0-9_.&+:=@][A-Za-z0-9_.&+:=@~-]*")


def is_valid_workspace(name: str) -> bool:
    return bool(_WORKSPACE.fullmatch(name)) and ".." not in name
