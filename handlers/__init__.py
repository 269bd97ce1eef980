"""Event handlers, one module per concern, each with its own module-level ``router``.

``default_router()`` is what `gitops-bot serve` and `gitops-bot worker` run with (unless
``GITOPS_BOT_HANDLERS`` names another): every module of this package that defines a
``router`` contributes it, so adding a concern is adding a module. Tests build their own
routers with recording handlers.
"""

from __future__ import annotations

import importlib
import pkgutil

from bot.routing import Router


def handler_modules() -> list[str]:
    """The modules of this package, sorted so every process registers in the same order."""
    return sorted(f"{__name__}.{info.name}" for info in pkgutil.iter_modules(__path__))


def default_router() -> Router:
    routers: list[Router] = []
    for name in handler_modules():
        router = getattr(importlib.import_module(name), "router", None)
        if isinstance(router, Router):
            routers.append(router)
    return Router(*routers)
