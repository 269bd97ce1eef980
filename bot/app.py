"""The one app factory: everything the HTTP service needs, built from settings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from bot.adapters.terraform_jobs.routes import build_terraform_jobs_router
from bot.api import router as api_router
from bot.console.app import mount_console
from bot.console.signin import install_console_security
from bot.intake.activity import IntakeActivity
from bot.intake.routes import build_intake_router
from bot.intake.store import EventStore, GroupCommitWriter, event_sink
from bot.routing import Router, load_router
from bot.runtime import Runtime
from bot.services import Services, build_services
from bot.settings import Settings


def create_app(
    settings: Settings | None = None,
    *,
    router: Router | None = None,
    run_workers: bool = False,
    services: Services | None = None,
) -> FastAPI:
    """Build the app. ``run_workers`` starts workers and the scheduler with it (what `serve` does).

    ``router`` is the handler set the intake routes events to and the workers run; by default
    the one ``GITOPS_BOT_HANDLERS`` names. ``services``, when given, are used (and closed) as they are.
    """
    settings = services.settings if services is not None else settings or Settings()
    if router is None:
        router = load_router(settings.handlers)
    if services is None:
        services = build_services(settings)
    # The local forge's events reach the same handlers as webhooks do.
    services.event_sink = event_sink(services.queue, router)
    # Workers in this process give way to its intake (bot.intake.activity).
    activity = IntakeActivity()
    runtime = Runtime(services, router, intake=activity) if run_workers else None
    writer = GroupCommitWriter(EventStore(services.queue, router))

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if runtime is not None:
            await runtime.start()
        try:
            yield
        finally:
            if runtime is not None:
                await runtime.stop()
            writer.close()
            services.close()

    app = FastAPI(
        title="gitops-bot", version="0.1.0", lifespan=lifespan, docs_url="/api/docs", redoc_url=None
    )
    app.state.services = services
    app.state.runtime = runtime
    wake = runtime.wake if runtime else None
    app.include_router(build_intake_router(services, writer, on_enqueued=wake, activity=activity))
    app.include_router(api_router)
    # The pods of Terraform Jobs (GITOPS_BOT_TERRAFORM_EXECUTOR=kubernetes) fetch and report here;
    # without runs every request is a 404.
    app.include_router(build_terraform_jobs_router())
    # Sign-in, the session cookie, CSRF and the security headers (GITOPS_BOT_CONSOLE_AUTH).
    install_console_security(app, services)
    mount_console(app, services)
    return app
