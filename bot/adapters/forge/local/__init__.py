"""The local forge: bare git repositories on disk, pull requests in the database."""

from bot.adapters.forge.local.forge import BOT_LOGIN, LocalForge
from bot.adapters.forge.local.repos import LocalRepos
from bot.adapters.forge.local.store import LocalStore

__all__ = ["BOT_LOGIN", "LocalForge", "LocalRepos", "LocalStore"]
