"""The frame of every console page: navigation, the banner, who is signed in, the CSRF token.

Pages call :meth:`Console.page` with their template (under ``templates/console/``) and context;
everything is autoescaped, and nothing secret is ever put into a page.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from bot.console.security import csrf_token, current_viewer

if TYPE_CHECKING:
    from bot.console.version_history import VersionHistory
    from bot.services import Services
    from bot.terraform.runs_store import TerraformRuns

NAVIGATION: tuple[tuple[str, str], ...] = (
    ("/", "Overview"),
    ("/updates", "Updates"),
    ("/locks", "Locks"),
    ("/runs", "Runs"),
    ("/events", "Events"),
    ("/actions", "Audit"),
)


@dataclass(frozen=True)
class Banner:
    """Something an operator must know on every page (dry run, Terraform refused, …)."""

    level: str  # "info" | "warning" | "error"
    text: str


class Console:
    """What the console's pages share: the services, the templates and the frame.

    One per app (``app.state.console``); the pages' routes are declared once per process and
    reach it through :func:`console_of`.
    """

    def __init__(self, services: Services) -> None:
        self.services = services
        self.templates = services.templates

    @cached_property
    def redact(self) -> Callable[[str], str]:
        """Hides the bot's secrets in what a page shows (event payloads, audit details)."""
        return self.services.redactor().redact

    @cached_property
    def version_history(self) -> VersionHistory:
        from bot.console.version_history import VersionHistory

        return VersionHistory(self.services)

    @cached_property
    def runs(self) -> TerraformRuns:
        from bot.terraform.runs_store import TerraformRuns

        return TerraformRuns(self.services.database)

    def banners(self) -> list[Banner]:
        """Dry run, Terraform that cannot run or runs without isolation (never raises)."""
        shown: list[Banner] = []
        if self.services.dry_run:
            shown.append(Banner("info", "Dry run: actions are recorded, not performed."))
        try:
            status = self.services.terraform_status()
        except Exception as error:  # a probe that breaks must not take the page down
            shown.append(Banner("error", f"Terraform status unknown: {error}"))
            return shown
        if not status.ok:
            shown.append(Banner("error", f"Terraform commands are refused: {status.detail}"))
        elif status.mode == "local":
            shown.append(Banner("warning", "Terraform runs without isolation (executor: local)."))
        return shown

    async def page(
        self,
        request: Request,
        template: str,
        *,
        title: str,
        status_code: int = 200,
        **context: Any,
    ) -> HTMLResponse:
        banners = await run_in_threadpool(self.banners)
        body = self.templates.get_template(f"console/{template}").render(
            title=title,
            navigation=NAVIGATION,
            path=request.url.path,
            viewer=current_viewer(request),
            csrf=csrf_token(request),
            banners=banners,
            **context,
        )
        return HTMLResponse(body, status_code=status_code)

    def link(self, path: str) -> str:
        """An absolute link to a console path (GITOPS_BOT_PUBLIC_URL), for statuses and Slack."""
        base = (self.services.settings.public_url or "").rstrip("/")
        return f"{base}{path}" if base else path


def console_of(request: Request) -> Console:
    """The console of the app serving ``request`` (a dependency of every console route)."""
    console: Console = request.app.state.console
    return console


def query_filters(request: Request, names: tuple[str, ...]) -> Mapping[str, str]:
    """The filters a list page was asked for (empty values dropped)."""
    return {name: value for name in names if (value := request.query_params.get(name, "").strip())}
