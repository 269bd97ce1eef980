"""Checks on the refs and paths callers hand to git (pure): nothing may reach git as an option or
escape the repository."""

from __future__ import annotations

from pathlib import PurePosixPath


def check_ref(ref: str) -> None:
    # A ref starting with "-" would be read as an option by git.
    if not ref or ref.startswith("-") or any(ch.isspace() or ch == "\0" for ch in ref):
        raise ValueError(f"invalid git ref {ref!r}")


def repo_relpath(path: str) -> str:
    """A normalised repository-relative path; ``ValueError`` for absolute paths, ``..`` and ``.git``."""
    if not path or "\0" in path:
        raise ValueError(f"invalid repository path {path!r}")
    pure = PurePosixPath(path)
    if pure.is_absolute():
        raise ValueError(f"repository path {path!r} must be relative")
    parts = [part for part in pure.parts if part != "."]
    if not parts or ".." in parts or ".git" in parts:
        raise ValueError(f"repository path {path!r} is empty, climbs out with '..', or enters .git")
    return "/".join(parts)


def sparse_pattern(path: str) -> str:
    """A non-cone sparse-checkout pattern matching exactly one file, or one directory's tree."""
    directory = path.endswith("/")
    relative = repo_relpath(path.rstrip("/") if directory else path)
    # Escape gitignore specials so a path is taken literally.
    escaped = "".join("\\" + ch if ch in "*?[]!#\\" else ch for ch in relative)
    return f"/{escaped}/" if directory else f"/{escaped}"


def split_z(text: str) -> tuple[str, ...]:
    """The items of git's NUL-separated (``-z``) output."""
    return tuple(item for item in text.split("\0") if item)
