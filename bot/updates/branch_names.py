"""The names of the bot's update branches, and the version each names. Pure: no I/O."""

from __future__ import annotations

BRANCH_PREFIX = "gitops-bot"
"""Every bot update branch is ``gitops-bot/<deployment>/<version>``."""


def branch_for(deployment: str, version: str) -> str:
    return f"{BRANCH_PREFIX}/{deployment}/{version}"


def branch_prefix(deployment: str) -> str:
    """The prefix of every update branch of ``deployment`` (the trailing ``/`` keeps ``chat`` and
    ``chat-llm`` apart)."""
    return f"{BRANCH_PREFIX}/{deployment}/"


def version_from_branch(deployment: str, branch: str) -> str | None:
    prefix = branch_prefix(deployment)
    if not branch.startswith(prefix) or len(branch) == len(prefix):
        return None
    return branch[len(prefix) :]
