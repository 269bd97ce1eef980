"""The background half of the bot: workers and the scheduler, started and stopped together."""

from __future__ import annotations

import structlog
from starlette.concurrency import run_in_threadpool

from bot.deployments.due_check import ANALYSES_CHANNEL
from bot.intake.activity import IntakeActivity
from bot.routing import Router
from bot.scheduler import Scheduler
from bot.services import Services
from bot.worker import WorkerPool

log = structlog.get_logger("gitops_bot.runtime")


class Runtime:
    def __init__(
        self,
        services: Services,
        router: Router,
        *,
        workers: bool = True,
        scheduler: bool = True,
        intake: IntakeActivity | None = None,
    ) -> None:
        self.services = services
        self.pool = WorkerPool(services, router, intake=intake) if workers else None
        self.scheduler = (
            Scheduler(
                services,
                router.periodic_tasks(),
                tick_seconds=services.settings.scheduler_tick_seconds,
                lease_seconds=services.settings.scheduler_lease_seconds,
                on_ran=self.wake,
            )
            if scheduler
            else None
        )
        notifications = self.pool.notifications if self.pool is not None else None
        if self.scheduler is not None and notifications is not None:
            # The due-analysis check hears about written analyses on the jobs' listening connection.
            notifications.subscribe(ANALYSES_CHANNEL, services.due_check.changed)
            services.due_check.watch(lambda: notifications.listening)

    def wake(self) -> None:
        if self.pool is not None:
            self.pool.wake()

    async def start(self) -> None:
        if self.pool is not None:
            await run_in_threadpool(announce_terraform_executor, self.services)
            await self.pool.start()
        if self.scheduler is not None:
            await self.scheduler.start()

    async def stop(self) -> None:
        if self.scheduler is not None:
            await self.scheduler.stop()
        if self.pool is not None:
            await self.pool.stop()


def announce_terraform_executor(services: Services) -> None:
    """Say at start-up how pull requests' Terraform runs: isolated, not isolated, or refused."""
    status = services.terraform_status()
    if not status.ok:
        log.error("terraform.sandbox_unavailable", detail=status.detail, refused="terraform commands")
    elif status.mode == "local":
        log.warning("terraform.not_isolated", executor=status.mode, detail=status.detail)
    elif status.mode == "kubernetes":
        log.info("terraform.kubernetes_jobs", executor=status.mode, detail=status.detail)
    else:
        log.info("terraform.sandboxed", executor=status.mode, detail=status.detail)
