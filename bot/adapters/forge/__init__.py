"""The forge port (what the domain asks of GitHub) and its GitHub adapter.

Import the port from ``bot.adapters.forge.port`` (or here); the PyGithub adapter lives in
``bot.adapters.forge.github`` so the domain never imports PyGithub.
"""

from __future__ import annotations

from bot.adapters.forge.comments import comment_length, post_comment, split_comment
from bot.adapters.forge.port import (
    MAX_COMMENT_LENGTH,
    PERMISSION_LEVELS,
    ChangedFile,
    ChangeOutcome,
    Comment,
    CommitState,
    CommitStatus,
    Forge,
    ForgeAuthError,
    ForgeError,
    ForgeNotFound,
    ForgeRateLimited,
    ForgeUnavailable,
    ForgeValidationError,
    Issue,
    IssueChange,
    IssueSpec,
    MergeMethod,
    MergeRefusal,
    MergeResult,
    PullRequest,
    PullRequestChange,
    PullRequestSpec,
    Review,
    ReviewState,
    ReviewSummary,
    summarize_reviews,
)

__all__ = [
    "MAX_COMMENT_LENGTH",
    "PERMISSION_LEVELS",
    "ChangeOutcome",
    "ChangedFile",
    "Comment",
    "CommitState",
    "CommitStatus",
    "Forge",
    "ForgeAuthError",
    "ForgeError",
    "ForgeNotFound",
    "ForgeRateLimited",
    "ForgeUnavailable",
    "ForgeValidationError",
    "Issue",
    "IssueChange",
    "IssueSpec",
    "MergeMethod",
    "MergeRefusal",
    "MergeResult",
    "PullRequest",
    "PullRequestChange",
    "PullRequestSpec",
    "Review",
    "ReviewState",
    "ReviewSummary",
    "comment_length",
    "post_comment",
    "split_comment",
    "summarize_reviews",
]
