"""Which forge a repository lives on, from its name (pure).

A GitHub repository is ``owner/name`` (``github:owner/name`` is accepted and means the same); a
GitLab project is ``gitlab:group/subgroup/project``. The prefixed form is the repository's name
everywhere in the bot (rows, events, locks, the console), so two forges may hold a project of the
same path without their locks, plans or deployments meeting.
"""

from __future__ import annotations

import re
from typing import Literal

ForgeKind = Literal["github", "gitlab"]

GITHUB_PREFIX = "github:"
GITLAB_PREFIX = "gitlab:"
# GitLab's path rules: letters, digits, "_", "-", "." in each segment, not starting with "-" or ".".
_GITLAB_SEGMENT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


def forge_of(repo: str) -> ForgeKind:
    return "gitlab" if repo.lower().startswith(GITLAB_PREFIX) else "github"


def is_gitlab(repo: str) -> bool:
    return forge_of(repo) == "gitlab"


def pull_reference(repo: str, number: int) -> str:
    """How a text posted on ``repo``'s forge refers to its pull request ``number``: ``#12`` on
    GitHub, ``!12`` on GitLab, where ``#12`` is issue 12 (and links there)."""
    return f"!{number}" if is_gitlab(repo) else f"#{number}"


def gitlab_path(repo: str) -> str:
    """``group/subgroup/project`` of ``gitlab:group/subgroup/project`` (validated)."""
    if not is_gitlab(repo):
        raise ValueError(f"{repo!r} is not a GitLab project name (gitlab:group/project)")
    path = repo[len(GITLAB_PREFIX) :].strip("/")
    segments = path.split("/")
    if len(segments) < 2 or not all(_GITLAB_SEGMENT.match(segment) for segment in segments):
        raise ValueError(f"a GitLab project is named gitlab:group/project (subgroups allowed), got {repo!r}")
    if any(segment.endswith((".git", ".atom")) for segment in segments):
        raise ValueError(f"a GitLab path segment may not end in .git or .atom: {repo!r}")
    return path


def gitlab_name(path: str) -> str:
    """The bot's name for GitLab project ``path``."""
    return GITLAB_PREFIX + path.strip("/")


def namespace_of(repo: str) -> str:
    """Where the repository's teams live: the GitHub owner, or the GitLab top-level group."""
    if is_gitlab(repo):
        return gitlab_path(repo).split("/", 1)[0]
    return repo.split("/", 1)[0]


def canonical_repo(name: str, default: ForgeKind = "github") -> str:
    """``name`` as the bot stores it: ``github:`` dropped, ``gitlab:`` kept (and its path checked);
    a name with neither goes to ``default``. Raises ``ValueError`` for a malformed name."""
    text = name.strip()
    lowered = text.lower()
    if lowered.startswith(GITHUB_PREFIX):
        return _github_name(text[len(GITHUB_PREFIX) :])
    if lowered.startswith(GITLAB_PREFIX):
        return gitlab_name(gitlab_path(GITLAB_PREFIX + text[len(GITLAB_PREFIX) :]))
    if default == "gitlab":
        return gitlab_name(gitlab_path(GITLAB_PREFIX + text))
    return _github_name(text)


def canonical_pattern(pattern: str, default: ForgeKind = "github") -> str:
    """An allowlist pattern (``fnmatch``) in the same form as :func:`canonical_repo`'s names."""
    text = pattern.strip()
    lowered = text.lower()
    if lowered.startswith(GITHUB_PREFIX):
        return text[len(GITHUB_PREFIX) :]
    if lowered.startswith(GITLAB_PREFIX):
        return GITLAB_PREFIX + text[len(GITLAB_PREFIX) :]
    return GITLAB_PREFIX + text if default == "gitlab" else text


def _github_name(text: str) -> str:
    owner, sep, name = text.partition("/")
    if not sep or not owner or not name or "/" in name:
        raise ValueError(f"a GitHub repository is named owner/name, got {text!r}")
    return text


def pull_head_ref(repo: str, number: int) -> str:
    """The ref a pull request's head is fetched by: GitHub's ``refs/pull/N/head``, GitLab's
    ``refs/merge-requests/N/head`` (both kept by the forge, forks' heads included)."""
    if is_gitlab(repo):
        return f"refs/merge-requests/{int(number)}/head"
    return f"refs/pull/{int(number)}/head"
