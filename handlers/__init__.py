"""Event handlers, one module per event source, registered by (source, event, action).

``default_router()`` is what `gitops-bot serve` and `gitops-bot worker` run with;
tests build their own routers with recording handlers.
"""

from __future__ import annotations

from bot.routing import Router


def default_router() -> Router:
    return Router()
