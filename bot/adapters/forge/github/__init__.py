"""The forge port on GitHub (and GitHub Enterprise), through PyGithub.

PyGithub is blocking: every method here does HTTP on the calling thread, so async code calls
them through ``asyncio.to_thread`` (workers already run jobs in threads). One
:class:`GitHubForge` is safe to share between threads; the factory caches one per App
installation so connection pools and installation tokens are reused.

Requests go through a lazy ``Github`` client (objects are not fetched until an attribute
needs it), with :class:`~bot.adapters.forge.retry.BoundedGithubRetry`, an explicit timeout and
PyGithub's write throttle (``seconds_between_writes``, 1 s by default as GitHub advises for
content-creating requests).

Modules: :mod:`.adapter` (the port's methods), :mod:`.pull_requests` (bringing a pull request up
to date; what a refused merge means), :mod:`.convert` (PyGithub objects as port data),
:mod:`.errors` (PyGithub errors as port errors), :mod:`.issues` (issues, never pull requests),
:mod:`.factory` (clients and credentials).
"""

from __future__ import annotations

from bot.adapters.forge.github.adapter import REACTIONS, GitHubForge
from bot.adapters.forge.github.errors import translate
from bot.adapters.forge.github.factory import USER_AGENT, ClientOptions, GitHubForgeFactory

__all__ = ["REACTIONS", "USER_AGENT", "ClientOptions", "GitHubForge", "GitHubForgeFactory", "translate"]
