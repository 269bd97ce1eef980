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


def build_console_router(services: Services) -> APIRouter:
    console = Console(services)
    router = APIRouter()
    for name in PAGES:
        module = import_module(f"bot.console.pages.{name}")
        router.include_router(module.build_router(console))
    return router


def mount_console(app: FastAPI, services: Services) -> None:
    app.mount(
        "/console/static",
        StaticFiles(directory=shipped_directory(TEMPLATES) / "console" / "static"),
        name="console-static",
    )
    app.include_router(build_console_router(services))
