"""Everything a handler may use, built once per app (or worker process) from settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import jinja2

from bot.metrics import Metrics
from bot.queue import JobQueue, RetryPolicy
from bot.routing import Router
from bot.settings import Settings
from bot.storage.db import Database

TEMPLATES_DIR = Path(__file__).resolve().parents[1] / "templates"


def template_environment(directory: Path = TEMPLATES_DIR) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(directory)),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


@dataclass
class Services:
    settings: Settings
    database: Database
    queue: JobQueue
    router: Router
    metrics: Metrics
    templates: jinja2.Environment
    extras: dict[str, object] = field(default_factory=dict)

    @property
    def dry_run(self) -> bool:
        return self.settings.effective_dry_run

    def close(self) -> None:
        self.database.dispose()


def build_services(settings: Settings, router: Router) -> Services:
    database = Database(settings.database_url)
    queue = JobQueue(
        database,
        lease_seconds=settings.job_lease_seconds,
        max_attempts=settings.job_max_attempts,
        retry=RetryPolicy(),
    )
    metrics = Metrics()
    metrics.watch_queue(queue.counts)
    return Services(
        settings=settings,
        database=database,
        queue=queue,
        router=router,
        metrics=metrics,
        templates=template_environment(),
    )
