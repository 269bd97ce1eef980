"""Git plumbing for the GitHub stand-in (`github_standin`): every repository is a real bare repository."""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

GITHUB_COMMITTER = {"GIT_COMMITTER_NAME": "GitHub", "GIT_COMMITTER_EMAIL": "noreply@github.com"}


class GitFailed(Exception):
    def __init__(self, args: Sequence[str], result: subprocess.CompletedProcess[bytes]) -> None:
        super().__init__(
            f"git {' '.join(args)} exited {result.returncode}: {result.stderr.decode(errors='replace')}"
        )
        self.returncode = result.returncode
        self.stdout = result.stdout
        self.stderr = result.stderr.decode(errors="replace")


def environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("GIT_")}
    env.update(
        {
            "LC_ALL": "C",
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_AUTHOR_NAME": "Stand-in",
            "GIT_AUTHOR_EMAIL": "standin@example.com",
            **GITHUB_COMMITTER,
        }
    )
    env.update(extra or {})
    return env


def git(
    cwd: Path,
    *args: str,
    env: Mapping[str, str] | None = None,
    check: bool = True,
    input: bytes | None = None,
) -> subprocess.CompletedProcess[bytes]:
    result = subprocess.run(
        ["git", *args],
        cwd=cwd,
        env=environment(env),
        capture_output=True,
        timeout=60,
        check=False,
        input=input,
    )
    if check and result.returncode != 0:
        raise GitFailed(args, result)
    return result


def text(cwd: Path, *args: str) -> str:
    return git(cwd, *args).stdout.decode().strip()


def resolve(bare: Path, ref: str) -> str | None:
    """The commit a branch, tag or sha names, or None."""
    if not ref or ref.startswith("-"):
        return None
    for candidate in (f"refs/heads/{ref}", f"refs/tags/{ref}", ref):
        stored = _stored_ref(bare, candidate)
        if stored is _ABSENT:
            continue
        if candidate.startswith("refs/heads/") and isinstance(stored, str):
            return stored  # a branch always points at a commit: nothing to peel
        result = git(bare, "rev-parse", "--verify", "--quiet", f"{candidate}^{{commit}}", check=False)
        if result.returncode == 0:
            return result.stdout.decode().strip()
    return None


def branch(bare: Path, name: str) -> str | None:
    """The tip of branch ``name`` (only a branch: not a tag, not a sha)."""
    if not name or name.startswith("-"):
        return None
    stored = _stored_ref(bare, f"refs/heads/{name}")
    if stored is _ABSENT:
        return None
    if isinstance(stored, str):
        return stored
    result = git(bare, "rev-parse", "--verify", "--quiet", f"refs/heads/{name}^{{commit}}", check=False)
    return result.stdout.decode().strip() if result.returncode == 0 else None


# The stand-ins resolve refs on nearly every request, and a git process per look-up was a large
# part of the suite's time: a plain ref is read from the files git keeps it in (a loose ref file,
# else packed-refs, both replaced atomically by git). Anything unusual is left to git itself.
_ABSENT = object()
_PLAIN_REF = re.compile(r"refs/(heads|tags)/[A-Za-z0-9_][A-Za-z0-9._/-]*")
_SHA = re.compile(r"[0-9a-f]{40}")


def _stored_ref(bare: Path, name: str) -> str | object | None:
    """The sha stored for ``name``; ``_ABSENT`` when git has no such ref; None: ask git."""
    if not _PLAIN_REF.fullmatch(name) or ".." in name or name.endswith((".", "/", ".lock")) or "//" in name:
        return None
    if (bare / "reftable").exists():
        return None
    try:
        loose = (bare / name).read_text()
    except (FileNotFoundError, NotADirectoryError):
        loose = None
    except OSError:
        return None  # a directory of that name, say: let git decide
    if loose is not None:
        sha = loose.strip()
        return sha if _SHA.fullmatch(sha) else None
    try:
        packed = (bare / "packed-refs").read_text()
    except FileNotFoundError:
        return _ABSENT
    for line in packed.splitlines():
        if line.endswith(" " + name) and _SHA.fullmatch(line[:40]) and line[40:] == " " + name:
            return line[:40]
    return _ABSENT


@dataclass(frozen=True)
class TreeEntry:
    mode: str
    kind: str  # blob | tree | commit
    sha: str
    size: int
    path: str


def entry(bare: Path, commit: str, path: str) -> TreeEntry | None:
    if not path:
        tree = text(bare, "rev-parse", f"{commit}^{{tree}}")
        return TreeEntry("040000", "tree", tree, 0, "")
    out = git(bare, "ls-tree", "-l", "-z", commit, "--", path).stdout.decode()
    for record in out.split("\0"):
        if not record:
            continue
        meta, _, name = record.partition("\t")
        if name != path:
            continue
        mode, kind, sha, size = meta.split()
        return TreeEntry(mode, kind, sha, int(size) if size != "-" else 0, name)
    return None


def list_tree(bare: Path, commit: str, path: str) -> list[TreeEntry]:
    spec = f"{commit}:{path}" if path else commit
    out = git(bare, "ls-tree", "-l", "-z", spec).stdout.decode()
    entries = []
    for record in out.split("\0"):
        if not record:
            continue
        meta, _, name = record.partition("\t")
        mode, kind, sha, size = meta.split()
        full = f"{path}/{name}" if path else name
        entries.append(TreeEntry(mode, kind, sha, int(size) if size != "-" else 0, full))
    return entries


def blob(bare: Path, sha: str) -> bytes | None:
    result = git(bare, "cat-file", "blob", sha, check=False)
    return result.stdout if result.returncode == 0 else None


def merge_base(bare: Path, one: str, two: str) -> str | None:
    result = git(bare, "merge-base", one, two, check=False)
    return result.stdout.decode().strip() if result.returncode == 0 else None


def has_conflicts(bare: Path, base: str, head: str) -> bool:
    result = git(bare, "merge-tree", "--write-tree", base, head, check=False)
    if result.returncode not in (0, 1):
        raise GitFailed(("merge-tree", base, head), result)
    return result.returncode == 1


@dataclass(frozen=True)
class FileChange:
    filename: str
    status: str
    additions: int
    deletions: int
    previous_filename: str | None
    sha: str | None


_STATUS = {"A": "added", "D": "removed", "M": "modified", "R": "renamed", "C": "copied", "T": "changed"}


def changed_files(bare: Path, base: str, head: str) -> list[FileChange]:
    """``git diff base...head``: what the PR changes relative to where it branched off."""
    base_point = merge_base(bare, base, head) or base
    raw = git(bare, "diff", "--raw", "--no-abbrev", "-z", "-M", base_point, head).stdout.decode().split("\0")
    counts = git(bare, "diff", "--numstat", "-z", "-M", base_point, head).stdout.decode().split("\0")
    stats: dict[str, tuple[int, int]] = {}
    index = 0
    while index < len(counts) and counts[index]:
        added, deleted, path = counts[index].split("\t", 2)
        if not path:  # a rename: the two paths follow
            path = counts[index + 2]
            index += 3
        else:
            index += 1
        stats[path] = (int(added) if added != "-" else 0, int(deleted) if deleted != "-" else 0)
    changes = []
    index = 0
    while index < len(raw) and raw[index]:
        # ":old_mode new_mode old_sha new_sha STATUS", then one path (two for renames and copies)
        _, _, _, new_sha, code = raw[index].lstrip(":").split()
        letter = code[0]
        if letter in "RC":
            previous, filename = raw[index + 1], raw[index + 2]
            index += 3
        else:
            previous, filename = None, raw[index + 1]
            index += 2
        additions, deletions = stats.get(filename, (0, 0))
        sha = None if letter == "D" else new_sha
        changes.append(
            FileChange(filename, _STATUS.get(letter, "changed"), additions, deletions, previous, sha)
        )
    return changes


def commit_files(
    bare: Path,
    branch: str,
    files: Mapping[str, str | bytes | SymlinkTo | None],
    message: str,
    *,
    start_from: str | None = None,
    author: tuple[str, str] = ("Developer", "dev@example.com"),
) -> str:
    """Commit ``files`` (None deletes) on ``branch`` of the bare repository; returns the new sha.

    The branch starts from ``start_from`` (a branch or sha) when it does not exist yet; with
    neither, it starts as the repository's first commit.
    """
    env = {"GIT_AUTHOR_NAME": author[0], "GIT_AUTHOR_EMAIL": author[1]}
    with tempfile.TemporaryDirectory(prefix=".standin-work-", dir=bare.parent) as scratch:
        work = Path(scratch)
        git(work, "init", "-q")
        existing = resolve(bare, branch)
        start = existing or (resolve(bare, start_from) if start_from else None)
        if start_from and start is None:
            raise ValueError(f"cannot start branch {branch!r} from unknown {start_from!r}")
        if start:
            git(work, "fetch", "-q", str(bare), start)
            git(work, "checkout", "-q", "-B", branch, "FETCH_HEAD")
        else:
            git(work, "checkout", "-q", "-b", branch)
        removed = [path for path, content in files.items() if content is None]
        if removed:
            git(work, "rm", "-q", "--", *removed)
        written = [path for path, content in files.items() if content is not None]
        for path in written:
            content = files[path]
            target = work / path
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, SymlinkTo):
                target.unlink(missing_ok=True)
                target.symlink_to(content.target)
            elif content is not None:
                target.write_bytes(content.encode() if isinstance(content, str) else content)
        if written:
            git(work, "add", "--", *written)  # one process for every file, not one each
        git(work, "commit", "-q", "--allow-empty", "-m", message, env=env)
        sha = text(work, "rev-parse", "HEAD")
        # Compare-and-swap, like a real push: an empty expectation means "must not exist yet".
        lease = f"--force-with-lease=refs/heads/{branch}:{existing or ''}"
        git(work, "push", "-q", lease, str(bare), f"HEAD:refs/heads/{branch}")
        return sha


def first_commit(
    bare: Path,
    branch: str,
    files: Mapping[str, str | bytes],
    message: str,
    *,
    author: tuple[str, str] = ("Developer", "dev@example.com"),
) -> str:
    """The first commit of a new, empty bare repository, on ``branch``; returns its sha.

    Written straight into the repository by one ``git fast-import`` (no work tree, no push, no
    hook: creating a repository is set-up, which nobody is sent a webhook for). The suite creates
    a repository for nearly every test, and the clone-commit-push way took about ten processes.
    """
    now = f"{int(time.time())} +0000"
    committer = f"{GITHUB_COMMITTER['GIT_COMMITTER_NAME']} <{GITHUB_COMMITTER['GIT_COMMITTER_EMAIL']}>"
    stream = bytearray()
    stream += f"commit refs/heads/{branch}\nmark :1\n".encode()
    stream += f"author {author[0]} <{author[1]}> {now}\ncommitter {committer} {now}\n".encode()
    stream += _fast_import_data(message.rstrip("\n").encode() + b"\n")  # as `git commit -m` leaves it
    for path in sorted(files):
        if "\n" in path or path.startswith('"') or path.startswith("/"):
            raise ValueError(f"cannot name {path!r} in a repository")
        content = files[path]
        stream += f"M 100644 inline {path}\n".encode()
        stream += _fast_import_data(content.encode() if isinstance(content, str) else content)
    stream += b"get-mark :1\n"
    # --done: a stream cut short is an error, not a shorter commit.
    out = git(bare, "fast-import", "--quiet", "--done", input=bytes(stream) + b"done\n").stdout
    return out.decode().strip()


def _fast_import_data(content: bytes) -> bytes:
    return f"data {len(content)}\n".encode() + content + b"\n"


@dataclass(frozen=True)
class SymlinkTo:
    """A file content that commits a symbolic link to ``target`` (as a pull request can)."""

    target: str


class MergeConflict(Exception):
    pass


def merge(
    bare: Path,
    *,
    base_branch: str,
    expected_base: str,
    head_sha: str,
    method: str,
    title: str,
    message: str,
    author: tuple[str, str],
) -> str:
    """Merge ``head_sha`` into ``base_branch`` the way GitHub's merge button does; returns the new tip."""
    env = {"GIT_AUTHOR_NAME": author[0], "GIT_AUTHOR_EMAIL": author[1]}
    full_message = f"{title}\n\n{message}".rstrip() + "\n"
    with tempfile.TemporaryDirectory(prefix=".standin-merge-", dir=bare.parent) as scratch:
        work = Path(scratch)
        git(work, "init", "-q")
        git(work, "fetch", "-q", str(bare), expected_base, head_sha)
        git(work, "checkout", "-q", "-B", "base", expected_base)
        if method == "merge":
            result = git(
                work,
                "merge",
                "-q",
                "--no-ff",
                "--no-edit",
                "-m",
                full_message,
                head_sha,
                env=env,
                check=False,
            )
            if result.returncode != 0:
                raise MergeConflict(result.stderr.decode())
        elif method == "squash":
            result = git(work, "merge", "-q", "--squash", head_sha, env=env, check=False)
            if result.returncode != 0:
                raise MergeConflict(result.stderr.decode())
            git(work, "commit", "-q", "--allow-empty", "-m", full_message, env=env)
        else:  # rebase: the head's commits replayed on the base, new shas, base fast-forwarded
            git(work, "checkout", "-q", "-B", "replay", head_sha)
            result = git(work, "rebase", "-q", "--force-rebase", "base", check=False)
            if result.returncode != 0:
                git(work, "rebase", "--abort", check=False)
                raise MergeConflict(result.stderr.decode())
        tip = text(work, "rev-parse", "HEAD")
        git(
            work,
            "push",
            "-q",
            f"--force-with-lease=refs/heads/{base_branch}:{expected_base}",
            str(bare),
            f"HEAD:refs/heads/{base_branch}",
        )
        return tip


def install_post_receive_hook(bare: Path, script: str) -> None:
    """Install ``script`` as the bare repository's ``post-receive`` hook (runs for every push)."""
    hooks = bare / "hooks"
    hooks.mkdir(exist_ok=True)
    hook = hooks / "post-receive"
    hook.write_text(script)
    hook.chmod(0o755)


def commits_between(
    bare: Path, old: str | None, new: str, *, ref: str | None = None, limit: int
) -> list[str]:
    """Commits a push brought, oldest first, at most the newest ``limit``.

    ``old`` None (a new branch): the commits of ``new`` no other branch had (``ref``, the pushed
    ref itself, is left out of that comparison)."""
    args = ["rev-list", "--reverse", "--topo-order", f"--max-count={limit}", new]
    if old is not None:
        args.append(f"^{old}")
    else:
        args.append("--not")
        if ref is not None:
            args.append(f"--exclude={ref}")
        args.append("--branches")
    return text(bare, *args).split()


@dataclass(frozen=True)
class CommitInfo:
    tree: str
    author_name: str
    author_email: str
    committer_name: str
    committer_email: str
    timestamp: str  # committer date, ISO 8601 with offset
    message: str
    added: tuple[str, ...]
    removed: tuple[str, ...]
    modified: tuple[str, ...]


def commit_info(bare: Path, sha: str) -> CommitInfo:
    """What a ``push`` webhook tells about one commit; file changes are against its first parent."""
    fields = git(bare, "show", "-s", "--format=%T%x00%P%x00%an%x00%ae%x00%cn%x00%ce%x00%cI%x00%B", sha)
    tree, parents, author_name, author_email, committer_name, committer_email, when, message = (
        fields.stdout.decode().split("\0", 7)
    )
    first_parent = parents.split()[0] if parents.split() else None
    if first_parent:
        out = git(bare, "diff", "--no-renames", "--name-status", "-z", first_parent, sha).stdout
    else:
        out = git(bare, "diff-tree", "--root", "-r", "--no-commit-id", "--name-status", "-z", sha).stdout
    items = out.decode().split("\0")
    added: list[str] = []
    removed: list[str] = []
    modified: list[str] = []
    for index in range(0, len(items) - 1, 2):
        status, path = items[index], items[index + 1]
        {"A": added, "D": removed}.get(status[:1], modified).append(path)
    return CommitInfo(
        tree,
        author_name,
        author_email,
        committer_name,
        committer_email,
        when,
        message.rstrip("\n"),
        tuple(added),
        tuple(removed),
        tuple(modified),
    )
