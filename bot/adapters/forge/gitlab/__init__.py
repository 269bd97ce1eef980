"""The forge port on GitLab (gitlab.com and self-managed), through python-gitlab.

Blocking like the GitHub adapter: workers call it from threads. Modules: :mod:`.adapter` (the
port's methods), :mod:`.merge_requests` (writing merge requests, what a refused merge means),
:mod:`.convert` (GitLab's JSON as port data: merge status, access levels, drafts), :mod:`.issues`,
:mod:`.errors` (python-gitlab errors as port errors, the bounded retry), :mod:`.factory`.
"""

from __future__ import annotations

from bot.adapters.forge.gitlab.adapter import MAX_NOTE_LENGTH, GitLabForge
from bot.adapters.forge.gitlab.factory import GitLabForgeFactory

__all__ = ["MAX_NOTE_LENGTH", "GitLabForge", "GitLabForgeFactory"]
