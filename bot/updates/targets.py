"""Reading an update's target files, and refusing the ones the bot must not touch.

A target file is named by ``.gitops-bot.yaml`` and its content comes from the repository, so
both are in the hands of whoever can push there. A target committed as a symbolic link (or
below a linked directory) that leads out of the repository must never be followed: not read
into a pull request, not written through. Two places see such links:

* the forge's contents API, which answers "symlink" (not the file) for a link it cannot
  resolve inside the repository, and nothing for a path through a linked directory;
* the work tree the bot commits from, where the link is a real one on disk.

Both answers become refusals with a reason, recorded like every other refused update; an
exception would only have the job retried until ``dead`` with nobody told.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Protocol

from bot.adapters.forge.port import ForgeValidationError

NOT_FOLLOWED = "the bot edits only regular files inside the repository and does not follow symbolic links"


@dataclass(frozen=True)
class TargetFiles:
    """The text of each target file on a ref: None when missing or not UTF-8; ``unusable`` maps a
    file the forge would not hand out as a file (a symlink, a directory, a submodule) to why."""

    texts: Mapping[str, str | None]
    unusable: Mapping[str, str] = field(default_factory=dict)


class FileSource(Protocol):
    """Where target files are read from: the forge (a branch), or a checkout for `gitops-bot preview`.
    A file that must not be used as one (a link leaving the repository, a directory) raises
    :class:`ForgeValidationError` naming why."""

    def read_file(self, repo: str, path: str, ref: str) -> bytes | None: ...


def read_targets(forge: FileSource, repo: str, paths: Iterable[str], ref: str) -> TargetFiles:
    texts: dict[str, str | None] = {}
    unusable: dict[str, str] = {}
    for path in sorted(set(paths)):
        try:
            data = forge.read_file(repo, path, ref)
        except ForgeValidationError as exc:
            unusable[path] = f"{exc}; {NOT_FOLLOWED}"
            continue
        texts[path] = _utf8(data)
    return TargetFiles(texts, unusable)


def _utf8(data: bytes | None) -> str | None:
    if data is None:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


class UnsafeTarget(Exception):
    """A target path in the work tree leads out of it through a symbolic link."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def escaping_symlink(root: Path, path: str) -> str | None:
    """Why ``path`` (relative to the work tree at ``root``) leaves the tree through a symbolic
    link, naming the first link on the way that does; None when it stays inside.

    Every prefix is checked, not only the final file: ``apps -> /etc`` makes ``apps/x.yaml``
    leave too. A link that resolves inside the tree (``values.yaml -> base/values.yaml``) is fine.
    """
    real_root = root.resolve()
    current = root
    shown = PurePosixPath()
    for part in PurePosixPath(path).parts:
        current, shown = current / part, shown / part
        if not current.is_symlink():
            continue
        resolved = current.resolve()
        if resolved != real_root and not resolved.is_relative_to(real_root):
            return f"{shown} is a symbolic link to {os.readlink(current)} and leads outside the repository"
    return None


def check_inside(root: Path, paths: Iterable[str]) -> None:
    """Raise :class:`UnsafeTarget` for the first path that leaves the work tree at ``root``."""
    for path in sorted(paths):
        problem = escaping_symlink(root, path)
        if problem is not None:
            raise UnsafeTarget(f"{problem}; {NOT_FOLLOWED}")
