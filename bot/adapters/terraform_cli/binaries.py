"""Which executable runs a project that pins ``terraform_version`` (Atlantis's per-project key).

A pinned version is a file named ``terraform-<version>`` (``tofu-<version>`` when the bot runs
OpenTofu) in the configured directory (``GITOPS_BOT_TERRAFORM_BIN_DIR``), or else on ``PATH``.
When none exists the project is refused with a sentence saying what to install: running it with
another version could rewrite its state in a format the pinned version no longer reads.

:func:`resolve_versioned_binary` decides over plain data (the directories and which of the wanted
names each holds) and is table-tested; :func:`find_versioned_binary` only lists the directories.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath


@dataclass(frozen=True)
class BinaryMissing:
    """No executable for the pinned version: ``message`` is what the pull request is told."""

    message: str


@dataclass(frozen=True)
class Listing:
    """A directory searched, and the wanted executables found in it."""

    directory: Path
    executables: frozenset[str]


def versioned_name(binary: str, version: str) -> str:
    """``terraform`` (or ``/usr/bin/tofu``) at ``1.15.5`` → ``terraform-1.15.5`` (``tofu-1.15.5``)."""
    return f"{PurePath(binary).name}-{version}"


def search_directories(bin_dir: Path | None, binary: str, path_env: str | None) -> list[Path]:
    """Where a pinned version is looked for, first match wins: the configured directory, the
    directory of a default binary given as a path, then ``PATH`` (empty entries ignored)."""
    directories = [bin_dir] if bin_dir is not None else []
    if PurePath(binary).parent != PurePath("."):
        directories.append(Path(binary).parent)
    directories += [Path(entry) for entry in (path_env or "").split(os.pathsep) if entry]
    unique: list[Path] = []
    for directory in directories:
        if directory not in unique:
            unique.append(directory)
    return unique


def resolve_versioned_binary(
    version: str, binary: str, listings: Sequence[Listing], *, bin_dir: Path | None
) -> Path | BinaryMissing:
    """The executable for ``version`` (the first directory holding it), or why there is none."""
    name = versioned_name(binary, version)
    for listing in listings:
        if name in listing.executables:
            return listing.directory / name
    where = f"in `{bin_dir}` (GITOPS_BOT_TERRAFORM_BIN_DIR)" if bin_dir else "in GITOPS_BOT_TERRAFORM_BIN_DIR"
    return BinaryMissing(
        f"{PurePath(binary).name} {version} is not installed on this bot: put {name} on PATH or {where}"
    )


def find_versioned_binary(
    version: str, binary: str, *, bin_dir: Path | None, path_env: str | None
) -> Path | BinaryMissing:
    """Look for ``version``'s executable on this machine (see :func:`resolve_versioned_binary`)."""
    name = versioned_name(binary, version)
    listings = [
        Listing(directory, frozenset({name}) if _is_executable(directory / name) else frozenset())
        for directory in search_directories(bin_dir, binary, path_env)
    ]
    found = resolve_versioned_binary(version, binary, listings, bin_dir=bin_dir)
    # An absolute path: the runner then neither searches PATH nor picks another version.
    return found.absolute() if isinstance(found, Path) else found


def _is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def binary_version(binary: str, *, timeout: float = 30.0) -> str | None:
    """The version ``binary`` reports (``terraform version -json``), or None when it cannot say.

    A pinned version the default binary already is needs no ``terraform-<version>`` beside it."""
    import json
    import subprocess

    try:
        done = subprocess.run(
            [binary, "version", "-json"],
            capture_output=True,
            timeout=timeout,
            check=False,
            stdin=subprocess.DEVNULL,
        )
        reported = json.loads(done.stdout or b"{}").get("terraform_version")
    except (OSError, subprocess.TimeoutExpired, ValueError, AttributeError):
        return None
    return reported if isinstance(reported, str) and reported else None
