"""Handlers registered by (source, event, action), in the manner of bedevere and gidgethub.

A registration with ``action=None`` matches every action of that event. Each handler
gets its own job, so one failing handler is retried without re-running the others.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

# Sources whose events are another source's, by payload and meaning (``local``: the local forge).
# ``gitlab``: GitLab's merge request, note and push hooks, parsed into the same domain events.
FORGE_EVENT_ALIASES: dict[str, str] = {"local": "github", "gitlab": "github"}

# The routing table sits below everything it routes to: it names neither the handler context
# (bot.jobs) nor the services (bot.services), and imports neither, so those modules may import
# it freely. The worker calls a handler with a ``HandlerContext`` (plain function or coroutine
# function), the scheduler calls a periodic task with the ``Services``. The decorators return
# the function unchanged, so each handler keeps its own precise signature for type checking.
HandlerFunc = Callable[[Any], Any]
# A periodic task may return how many jobs it offered: above 0, the scheduler rings the workers.
PeriodicFunc = Callable[[Any], int | None]
RoutingKey = tuple[str, str, str | None]

HandlerT = TypeVar("HandlerT", bound=HandlerFunc)
PeriodicT = TypeVar("PeriodicT", bound=PeriodicFunc)


@dataclass(frozen=True)
class PeriodicTask:
    """Work the scheduler's leader runs every ``every_seconds``, given the services."""

    name: str
    every_seconds: float
    func: PeriodicFunc


@dataclass(frozen=True)
class RegisteredHandler:
    name: str
    source: str
    event: str
    action: str | None
    func: HandlerFunc


class Router:
    def __init__(self, *routers: Router) -> None:
        self._by_name: dict[str, RegisteredHandler] = {}
        self._by_key: dict[RoutingKey, list[RegisteredHandler]] = {}
        self._periodic: dict[str, PeriodicTask] = {}
        for router in routers:
            self.include(router)

    def register(
        self, source: str, event: str, action: str | None = None, *, name: str | None = None
    ) -> Callable[[HandlerT], HandlerT]:
        def decorator(func: HandlerT) -> HandlerT:
            handler_name = name or f"{func.__module__}.{func.__qualname__}"
            self._add(RegisteredHandler(handler_name, source, event, action, func))
            return func

        return decorator

    def periodic(self, name: str, every_seconds: float) -> Callable[[PeriodicT], PeriodicT]:
        """Register a task the scheduler's leader runs every ``every_seconds``."""

        def decorator(func: PeriodicT) -> PeriodicT:
            if name in self._periodic and self._periodic[name].func is not func:
                raise ValueError(f"two periodic tasks are registered as {name!r}")
            self._periodic[name] = PeriodicTask(name, every_seconds, func)
            return func

        return decorator

    def periodic_tasks(self) -> list[PeriodicTask]:
        return list(self._periodic.values())

    def include(self, other: Router) -> None:
        for handler in other._by_name.values():
            self._add(handler)
        for task in other._periodic.values():
            self.periodic(task.name, task.every_seconds)(task.func)

    def _add(self, handler: RegisteredHandler) -> None:
        existing = self._by_name.get(handler.name)
        if existing is not None and existing.func is not handler.func:
            raise ValueError(f"two handlers are registered as {handler.name!r}")
        if existing is not None:
            return
        self._by_name[handler.name] = handler
        self._by_key.setdefault((handler.source, handler.event, handler.action), []).append(handler)

    def handlers_for(self, source: str, event: str, action: str | None) -> list[RegisteredHandler]:
        # The local forge and GitLab report what GitHub would: the same handlers act. A forge's
        # own events (GitLab's pipelines) find the handlers registered under its own name.
        found: list[RegisteredHandler] = []
        for name in dict.fromkeys((source, FORGE_EVENT_ALIASES.get(source, source))):
            if action is not None:
                found.extend(self._by_key.get((name, event, action), []))
            found.extend(self._by_key.get((name, event, None), []))
        return found

    def get(self, name: str) -> RegisteredHandler | None:
        return self._by_name.get(name)

    def names(self) -> list[str]:
        return sorted(self._by_name)

    def __len__(self) -> int:
        return len(self._by_name)


class RouterLoadError(ValueError):
    """``GITOPS_BOT_HANDLERS`` does not name a usable Router."""


def load_router(spec: str) -> Router:
    """The Router named by ``spec`` ("module:attribute"): a Router, or a function returning one.

    This is how `gitops-bot serve` and `gitops-bot worker` pick their handler set
    (``GITOPS_BOT_HANDLERS``, default ``handlers:default_router``), so an operator can run
    extra handlers from their own module, and every process of a deployment runs the same set.
    """
    module_name, sep, attribute = spec.strip().partition(":")
    if not sep or not module_name or not attribute:
        raise RouterLoadError(
            f"GITOPS_BOT_HANDLERS must be 'module:attribute' (e.g. 'handlers:default_router'), got {spec!r}"
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise RouterLoadError(f"GITOPS_BOT_HANDLERS: cannot import module {module_name!r}: {exc}") from exc
    target: object = module
    for part in attribute.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise RouterLoadError(
                f"GITOPS_BOT_HANDLERS: module {module_name!r} has no attribute {attribute!r}"
            ) from None
    if not isinstance(target, Router) and callable(target):
        target = target()
    if not isinstance(target, Router):
        raise RouterLoadError(
            f"GITOPS_BOT_HANDLERS: {spec!r} is a {type(target).__name__}, not a Router "
            "or a function returning one"
        )
    return target
