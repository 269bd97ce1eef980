"""Git benchmark: a one-line update branch through the cached mirror versus a fresh clone.

    .venv/bin/python bench/git.py                       # 20,000 commits, 5,000 files, 5 rounds
    .venv/bin/python bench/git.py --commits 2000 --files 500 --rounds 3

It generates a bare repository with ``git fast-import`` (one commit adding every file, then one
commit per change, round-robin over the files, so history and tree are both large), then times:

* ``cached``: what the bot does for every update, through :class:`bot.adapters.git.GitWorkspaces`: fetch
  the cached mirror (it already exists: the first use is not timed), add a work tree at the
  default branch, change one line of a Helm values file, commit, push a new branch, remove
  the work tree;
* ``clone``: the same change through a full ``git clone`` each time (what a tool without a
  cache does), and ``clone --depth 1 --single-branch`` (the cheapest clone that can still push a
  branch);
* ``revert``: ``git revert -m 1`` of a merge commit on the default branch through the cached
  mirror, pushed as a new branch.

Each figure is the median of ``--rounds`` runs (min and max beside it). The goal: the cached
path at least 10 times faster than cloning, and under one second.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.adapters.git import GitIdentity, GitWorkspaces  # noqa: E402
from bot.logging import configure_logging  # noqa: E402

VALUES = "apps/chat-llm/values.yaml"
VALUES_TEXT = (
    "# chat-llm serving\nimage:\n  repository: registry.example.com/serving/chat-llm\n  tag: 1.0.0\n"
)
IDENTITY = ["-c", "user.name=bench", "-c", "user.email=bench@example.com"]
ENV = {"GIT_CONFIG_NOSYSTEM": "1", "HOME": "/nonexistent", "PATH": "/usr/bin:/bin"}


def git(cwd: Path, *args: str, stdin: bytes | None = None) -> str:
    out = subprocess.run(
        ["git", *IDENTITY, *args], cwd=cwd, input=stdin, capture_output=True, check=False, env=ENV
    )
    if out.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)}: {out.stderr.decode(errors='replace')}")
    return out.stdout.decode()


def generate(bare: Path, *, commits: int, files: int) -> None:
    """A bare repository with ``commits`` commits over ``files`` files, written by fast-import."""
    bare.mkdir(parents=True)
    git(bare, "init", "-q", "--bare", "--initial-branch=main")
    chunks: list[bytes] = []

    def data(text: str) -> None:
        raw = text.encode()
        chunks.append(b"data %d\n%s\n" % (len(raw), raw))

    when = 1_700_000_000
    paths = [f"services/svc-{i // 100:03d}/config-{i:05d}.yaml" for i in range(files)]
    chunks.append(b"commit refs/heads/main\n")
    chunks.append(b"committer bench <bench@example.com> %d +0000\n" % when)
    data("Initial layout")
    for index, path in enumerate(paths):
        chunks.append(f"M 100644 inline {path}\n".encode())
        data(f"name: svc-{index}\nreplicas: 1\nrevision: 0\n")
    chunks.append(f"M 100644 inline {VALUES}\n".encode())
    data(VALUES_TEXT)
    for number in range(1, commits):
        path = paths[number % files]
        chunks.append(b"commit refs/heads/main\n")
        chunks.append(b"committer bench <bench@example.com> %d +0000\n" % (when + number))
        data(f"Change {number}")
        chunks.append(f"M 100644 inline {path}\n".encode())
        data(f"name: svc-{number % files}\nreplicas: 1\nrevision: {number}\n")
    git(bare, "fast-import", "--quiet", stdin=b"".join(chunks))
    git(bare, "gc", "-q", "--aggressive" if commits <= 2000 else "--auto")


def add_merge_commit(bare: Path, scratch: Path) -> str:
    """A feature branch merged with ``--no-ff`` into main (what a merged update PR leaves)."""
    work = scratch / "merge-work"
    git(scratch, "clone", "-q", str(bare), str(work))
    git(work, "checkout", "-q", "-b", "gitops-bot/chat-llm/1.1.0")
    values = work / VALUES
    values.write_text(values.read_text().replace("tag: 1.0.0", "tag: 1.1.0"))
    git(work, "commit", "-q", "-am", "chat-llm 1.1.0")
    git(work, "checkout", "-q", "main")
    git(work, "merge", "-q", "--no-ff", "-m", "Merge pull request #1", "gitops-bot/chat-llm/1.1.0")
    git(work, "push", "-q", "origin", "main")
    sha = git(work, "rev-parse", "HEAD").strip()
    shutil.rmtree(work)
    return sha


def time_it(rounds: int, action: Callable[[int], None]) -> list[float]:
    seconds = []
    for number in range(rounds):
        start = time.perf_counter()
        action(number)
        seconds.append(time.perf_counter() - start)
    return seconds


def bump(text: str, number: int) -> str:
    return text.replace("tag: 1.0.0", f"tag: 1.0.{number + 1}").replace(
        "tag: 1.1.0", f"tag: 1.1.{number + 1}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--commits", type=int, default=20_000)
    parser.add_argument("--files", type=int, default=5_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    configure_logging("WARNING", json=False)

    with tempfile.TemporaryDirectory(prefix="gitops-bot-bench-git-") as tmp:
        scratch = Path(tmp)
        bare = scratch / "remote" / "acme" / "gitops.git"
        started = time.perf_counter()
        generate(bare, commits=args.commits, files=args.files)
        size = sum(p.stat().st_size for p in bare.rglob("*") if p.is_file())
        print(
            f"repository: {args.commits} commits, {args.files + 1} files, {size / 1e6:.1f} MB packed, "
            f"generated in {time.perf_counter() - started:.1f} s"
        )
        url = bare.as_uri()
        workspaces = GitWorkspaces(
            scratch / "data", identity=GitIdentity("gitops-bot", "gitops-bot@example.com")
        )
        started = time.perf_counter()
        workspaces.mirror(url)
        print(f"first use of the mirror (clone, not timed below): {time.perf_counter() - started:.2f} s")

        def cached(number: int) -> None:
            with workspaces.worktree(url, sparse=[VALUES]) as tree:
                tree.write_text(VALUES, bump(tree.read_text(VALUES), number))
                tree.commit(f"chat-llm update {number}")
                tree.push(f"gitops-bot/cached/{number}")

        def fresh_clone(extra: list[str], label: str) -> Callable[[int], None]:
            def run(number: int) -> None:
                work = scratch / f"clone-{label}-{number}"
                git(scratch, "clone", "-q", *extra, url, str(work))
                values = work / VALUES
                values.write_text(bump(values.read_text(), number))
                git(work, "commit", "-q", "-am", f"chat-llm update {number}")
                git(work, "push", "-q", "origin", f"HEAD:refs/heads/gitops-bot/{label}/{number}")
                shutil.rmtree(work)

            return run

        results: dict[str, list[float]] = {
            "cached mirror": time_it(args.rounds, cached),
            "full clone": time_it(args.rounds, fresh_clone([], "full")),
            "shallow clone": time_it(
                args.rounds, fresh_clone(["--depth", "1", "--single-branch"], "shallow")
            ),
        }
        merge = add_merge_commit(bare, scratch)

        def revert(number: int) -> None:
            mirror = workspaces.mirror(url)
            touched = mirror.changed_files(mirror.parents(merge)[0], merge)
            with workspaces.worktree(url, sparse=touched, refresh=False) as tree:
                result = tree.revert(merge)
                if not result.ok:
                    raise RuntimeError(f"revert failed: {result}")
                tree.push(f"gitops-bot/revert/{number}")

        results["revert merge (cached)"] = time_it(args.rounds, revert)

        print(f"\n{'path':<24} {'median':>9} {'min':>9} {'max':>9}   ({args.rounds} rounds)")
        for name, seconds in results.items():
            print(
                f"{name:<24} {statistics.median(seconds):>8.3f}s {min(seconds):>8.3f}s {max(seconds):>8.3f}s"
            )
        cached_median = statistics.median(results["cached mirror"])
        for name in ("full clone", "shallow clone"):
            print(f"cached vs {name}: {statistics.median(results[name]) / cached_median:.1f}x faster")
        goal = cached_median < 1.0 and statistics.median(results["full clone"]) / cached_median >= 10
        ratio = statistics.median(results["full clone"]) / cached_median
        print(
            f"goal (>= 10x faster than a full clone, under 1 s): {'met' if goal else 'NOT met'} "
            f"(cached {cached_median:.3f} s, {ratio:.1f}x faster than a full clone)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
