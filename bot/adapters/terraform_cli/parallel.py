"""Several plans at once: one pull request touching several projects plans them side by side."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from bot.adapters.terraform_cli.results import PlanRequest, PlanResult
from bot.adapters.terraform_cli.runner import TerraformRunner
from bot.cancellation import JobCancelled


async def run_plans(
    runner: TerraformRunner, requests: Sequence[PlanRequest], *, max_parallel: int = 3
) -> list[PlanResult]:
    """Plan several projects, at most ``max_parallel`` at a time; results in request order.

    Cancelling the caller cancels every plan (and stops its Terraform processes).
    """
    if max_parallel < 1:
        raise ValueError("max_parallel must be at least 1")
    gate = asyncio.Semaphore(max_parallel)

    async def one(request: PlanRequest) -> PlanResult:
        async with gate:
            return await runner.plan(
                request.directory,
                workspace=request.workspace,
                planfile=request.planfile,
                extra_args=request.extra_args,
                on_line=request.on_line,
                root=request.root,
            )

    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(one(request)) for request in requests]
    except* JobCancelled as cancelled:
        # One stop signal stops every plan; the caller sees one JobCancelled, not a group.
        raise cancelled.exceptions[0] from None
    return [task.result() for task in tasks]
