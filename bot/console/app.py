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

# One module per page under bot/console/pages/, each with build_router(console).
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


def console_routers(services: Services) -> list[APIRouter]:
    console = Console(services)
    return [import_module(f"bot.console.pages.{name}").build_router(console) for name in PAGES]


def mount_console(app: FastAPI, services: Services) -> None:
    app.mount(
        "/console/static",
        StaticFiles(directory=shipped_directory(TEMPLATES) / "console" / "static"),
        name="console-static",
    )
    # Each page's router straight into the app: FastAPI works out a route's parameters again at
    # every include, and an intermediate console router made that three times per route.
    for router in console_routers(services):
        app.include_router(router)
