"""The console's routes: every page module's router, and its static files (CSS, the one script)."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles

from bot.console.render import Console
from bot.shipped import TEMPLATES, shipped_directory

if TYPE_CHECKING:
    from bot.services import Services

# One module per page under bot/console/pages/, each with its module-level ``router``.
PAGES: tuple[str, ...] = (
    "analysis",
    "locks",
    "runs",
    "overview",
    "deployment",
    "events",
    "actions",
    "updates",
    "pulls",
)


def console_routers() -> list[APIRouter]:
    """Every page's router. Declared once per process (FastAPI works out each route's parameters
    when it is declared: a few milliseconds per page) and included by reference in every app;
    a route finds its app's :class:`Console` through ``console_of``."""
    return [import_module(f"bot.console.pages.{name}").router for name in PAGES]


def mount_console(app: FastAPI, services: Services) -> None:
    app.state.console = Console(services)
    app.mount(
        "/console/static",
        StaticFiles(directory=shipped_directory(TEMPLATES) / "console" / "static"),
        name="console-static",
    )
    for router in console_routers():
        app.include_router(router)
