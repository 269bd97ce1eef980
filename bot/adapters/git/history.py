"""Reading history from a mirror: the commits that changed some files, and many files at many commits
in one ``git cat-file --batch`` (a page listing fifty versions must not start a hundred processes).

Reads only, no lock (see :mod:`bot.adapters.git.repository`). Blocking: call from a worker thread.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.adapters.git.errors import GitError
from bot.adapters.git.paths import check_ref, repo_relpath
from bot.adapters.git.repository import BareRepository

# Fields and records of ``git log --format``: unit and record separators never occur in them.
_FIELD = "\x1f"
_RECORD = "\x1e"
_FORMAT = _FIELD.join(("%H", "%P", "%an", "%aI", "%cI", "%s", "%b")) + _RECORD


@dataclass(frozen=True)
class LoggedCommit:
    """One commit as ``git log`` tells it."""

    sha: str
    parents: tuple[str, ...]
    author: str
    authored_at: datetime
    committed_at: datetime
    subject: str
    body: str


def file_log(
    repository: BareRepository, ref: str, paths: Sequence[str], *, limit: int, first_parent: bool = True
) -> list[LoggedCommit]:
    """The newest ``limit`` commits reachable from ``ref`` that changed one of ``paths``, newest first.

    ``first_parent``: walk the branch's own line only, so a pull request merged with a merge commit
    shows as that merge (compared with the branch before it), not as the commits it brought in."""
    check_ref(ref)
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    wanted = [repo_relpath(path) for path in paths]
    if not wanted:
        return []
    args = ["log", f"--format={_FORMAT}", f"--max-count={limit}", "--no-color"]
    if first_parent:
        args.append("--first-parent")
    out = repository._git([*args, repository.resolve(ref), "--", *wanted])
    return [_commit(record) for record in out.stdout.split(_RECORD) if record.strip()]


def _commit(record: str) -> LoggedCommit:
    sha, parents, author, authored, committed, subject, body = record.lstrip("\n").split(_FIELD, 6)
    return LoggedCommit(
        sha=sha,
        parents=tuple(parents.split()),
        author=author,
        authored_at=datetime.fromisoformat(authored),
        committed_at=datetime.fromisoformat(committed),
        subject=subject,
        body=body.strip(),
    )


def read_files(
    repository: BareRepository, wanted: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], bytes | None]:
    """{(commit sha, path): the file's bytes there, or None when it is missing or not a file}, all
    read by one ``git cat-file --batch``."""
    keys = list(dict.fromkeys((sha, repo_relpath(path)) for sha, path in wanted))
    if not keys:
        return {}
    for sha, _path in keys:
        check_ref(sha)
    stdin = "".join(f"{sha}:{path}\n" for sha, path in keys).encode()
    out = repository._git(["cat-file", "--batch"], stdin=stdin).stdout_bytes
    found: dict[tuple[str, str], bytes | None] = {}
    position = 0
    for key in keys:
        end = out.find(b"\n", position)
        if end < 0:
            raise GitError(("git", "cat-file", "--batch"), 0, "", detail="the answer ended early")
        header = out[position:end].decode("utf-8", errors="replace").split(" ")
        position = end + 1
        if len(header) == 3 and header[2].isdigit() and header[1] in ("blob", "tree", "commit", "tag"):
            size = int(header[2])
            found[key] = out[position : position + size] if header[1] == "blob" else None
            position += size + 1  # the content, then a newline
        else:  # "<what was asked> missing" (or ambiguous): no such file there
            found[key] = None
    return found


__all__ = ["LoggedCommit", "file_log", "read_files"]
