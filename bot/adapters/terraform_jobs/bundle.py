"""The work tree a Terraform Job runs in, packed by the bot and unpacked by the pod.

A bundle is a gzip'd tar of the checkout without ``.git`` and ``.terraform`` (the pod runs
``init`` itself). Packing walks the tree in sorted order with owners and the gzip timestamp
fixed, so the same tree gives the same bytes. Symlinks inside the tree are kept (a module may
link a shared file); a symlink that leads out of it is refused, since the pod would otherwise
get (or be denied) a file the pull request does not contain. Files that are neither regular
files, directories nor symlinks are refused too.

Unpacking uses tarfile's ``data`` filter, which refuses absolute paths, ``..``, device files and
links that leave the destination; on top of it the total size and the number of members are
capped before anything is written, so a bundle cannot fill the pod's disk.
"""

from __future__ import annotations

import gzip
import io
import os
import stat
import tarfile
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path

MAX_BUNDLE_BYTES = 200 * 1024 * 1024  # the files' sizes added up (uncompressed)
MAX_BUNDLE_MEMBERS = 100_000
# What a bundle may weigh compressed (the tar headers and an incompressible tree can make it a
# little larger than its files); the pod refuses to download more.
MAX_COMPRESSED_BYTES = MAX_BUNDLE_BYTES + 64 * 1024 * 1024
DEFAULT_EXCLUDE = (".git", ".terraform")


class BundleError(ValueError):
    """The work tree cannot be packed, or a bundle cannot be unpacked; the message says why."""


def _too_large(size: int) -> BundleError:
    return BundleError(
        f"the work tree is over the {MAX_BUNDLE_BYTES // (1024 * 1024)} MiB limit of a Terraform Job "
        f"({size} bytes or more); keep large files out of the repository"
    )


def _walk(directory: Path, exclude: frozenset[str]) -> Iterator[Path]:
    """Every path under ``directory``, each directory followed by its content, by name; symlinked
    directories are not entered (they go as symlinks), ``exclude`` names are left out anywhere."""
    for name in sorted(os.listdir(directory)):
        if name in exclude:
            continue
        path = directory / name
        yield path
        if path.is_dir() and not path.is_symlink():
            yield from _walk(path, exclude)


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root + os.sep)


def _link_target(path: Path, root: Path) -> str:
    """The symlink's target, relative (absolute targets inside the tree are rewritten)."""
    target = os.readlink(path)
    lexical = os.path.normpath(os.path.join(path.parent, target))
    resolved = os.path.realpath(path)
    if not (_inside(lexical, str(root)) and _inside(resolved, str(root))):
        relative = path.relative_to(root).as_posix()
        raise BundleError(
            f"the symlink {relative} leads out of the work tree (to {target}); "
            "a Terraform Job only gets the files of the repository"
        )
    return target if not os.path.isabs(target) else os.path.relpath(lexical, path.parent)


def _member(path: Path, root: Path) -> tarfile.TarInfo:
    status = path.lstat()
    info = tarfile.TarInfo(path.relative_to(root).as_posix())
    info.mtime = int(status.st_mtime)
    info.mode = stat.S_IMODE(status.st_mode)
    if stat.S_ISLNK(status.st_mode):
        info.type = tarfile.SYMTYPE
        info.linkname = _link_target(path, root)
        info.mode = 0o777
    elif stat.S_ISDIR(status.st_mode):
        info.type = tarfile.DIRTYPE
    elif stat.S_ISREG(status.st_mode):
        info.type = tarfile.REGTYPE
        info.size = status.st_size
    else:
        raise BundleError(
            f"{info.name} is not a regular file, a directory or a symlink; it cannot go to a Terraform Job"
        )
    return info


def make_bundle(root: Path, *, exclude: Iterable[str] = DEFAULT_EXCLUDE) -> bytes:
    """The work tree under ``root`` as a gzip'd tar (see the module's docstring); raises BundleError."""
    root = root.resolve()
    if not root.is_dir():
        raise BundleError(f"the work tree {root} is not a directory")
    buffer = io.BytesIO()
    try:
        # mtime=0: the same tree gives the same bytes.
        with (
            gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as compressed,
            tarfile.open(fileobj=compressed, mode="w", format=tarfile.PAX_FORMAT) as tar,
        ):
            _pack(tar, root, frozenset(exclude))
    except OSError as error:  # unreadable, or changed while it was packed
        raise BundleError(f"the work tree cannot be packed: {error}") from error
    return buffer.getvalue()


def _pack(tar: tarfile.TarFile, root: Path, exclude: frozenset[str]) -> None:
    total = 0
    for members, path in enumerate(_walk(root, exclude), start=1):
        info = _member(path, root)
        total += info.size
        if total > MAX_BUNDLE_BYTES:
            raise _too_large(total)
        if members > MAX_BUNDLE_MEMBERS:
            raise BundleError(f"the work tree has over {MAX_BUNDLE_MEMBERS} files and directories")
        if info.isreg():
            with path.open("rb") as handle:
                tar.addfile(info, handle)
        else:
            tar.addfile(info)


def extract_bundle(data: bytes, dest: Path) -> None:
    """Unpack ``data`` into the directory ``dest`` (see the module's docstring); raises BundleError."""
    dest.mkdir(parents=True, exist_ok=True)
    if len(data) > MAX_COMPRESSED_BYTES:
        raise BundleError(f"the bundle is over the {MAX_COMPRESSED_BYTES}-byte limit ({len(data)} bytes)")
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            members = _checked_members(tar)
            tar.extractall(dest, members=members, filter="data")
    except (tarfile.TarError, EOFError, OSError, zlib.error) as error:
        raise BundleError(f"the bundle cannot be unpacked: {error}") from error


def _checked_members(tar: tarfile.TarFile) -> list[tarfile.TarInfo]:
    """Every member's header, read before anything is written: the limits hold for the whole bundle."""
    members: list[tarfile.TarInfo] = []
    total = 0
    for member in tar:
        # The data filter would strip a leading "/"; no bundle of the bot has one: refused.
        if member.name.startswith("/"):
            raise BundleError(f"the bundle has the absolute path {member.name!r}")
        members.append(member)
        total += member.size
        if total > MAX_BUNDLE_BYTES:
            raise _too_large(total)
        if len(members) > MAX_BUNDLE_MEMBERS:
            raise BundleError(f"the bundle has over {MAX_BUNDLE_MEMBERS} members")
    return members
