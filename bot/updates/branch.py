"""The update branch on the forge: the open update pull requests, and pushing the planned files."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.adapters.forge.port import Forge, ForgeValidationError
from bot.updates.branch_names import branch_prefix, version_from_branch
from bot.updates.plan import PendingUpdate, UpdatePlan
from bot.updates.targets import check_inside

if TYPE_CHECKING:
    from bot.services import Services


def read_text(forge: Forge, repo: str, path: str, ref: str) -> str | None:
    try:
        data = forge.read_file(repo, path, ref)
    except ForgeValidationError:  # not a file there (say, a symlink pushed to the bot's branch)
        return None
    if data is None:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def pending_updates(forge: Forge, repo: str, deployment: str) -> list[PendingUpdate]:
    """The open bot pull requests for ``deployment``, by the version their branch names."""
    pending = []
    for pr in forge.list_open_pull_requests(repo, head_prefix=branch_prefix(deployment)):
        version = version_from_branch(deployment, pr.head_ref)
        if version is not None and "/" not in version:
            pending.append(PendingUpdate(version, pr.number, pr.html_url, pr.head_ref))
    return pending


def push_branch(
    services: Services, forge: Forge, plan: UpdatePlan, *, base: str, message: str, check_existing: bool
) -> None:
    """Make the branch hold one commit on ``base`` with the planned files, unless it already does.

    ``check_existing``: an open pull request has the branch already (a repeated event, or a new
    digest for the same tag): compare before rewriting it. Raises ``UnsafeTarget`` when the work
    tree shows a target behind a link that leaves the repository."""
    if check_existing and all(
        read_text(forge, plan.repo, path, plan.branch) == text for path, text in plan.contents.items()
    ):
        return  # the branch already says what the plan says
    url = services.settings.clone_url(plan.repo)
    with services.git().worktree(url, base, sparse=sorted(plan.contents)) as tree:
        check_inside(tree.path, plan.contents)  # before anything is written through a link
        for path, text in plan.contents.items():
            tree.write_text(path, text)
        tree.commit(message)
        # The bot owns its branches: rewrite one left from an older base, but only from what the
        # mirror saw (a commit someone pushed to it since is not overwritten).
        tree.push(plan.branch, force_with_lease=True)
