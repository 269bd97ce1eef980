"""Several plans at once: one pull request touching several projects plans them side by side."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from bot.adapters.terraform_cli.operations import TerraformOperations
from bot.adapters.terraform_cli.results import PlanRequest, PlanResult
from bot.cancellation import JobCancelled


async def run_plans(
    runner: TerraformOperations,
    requests: Sequence[PlanRequest],
    *,
    max_parallel: int = 3,
    runners: Sequence[TerraformOperations] | None = None,
) -> list[PlanResult]:
    """Plan several projects, at most ``max_parallel`` at a time; results in request order.

    ``runners``, when given, is one runner per request (projects pinning their Terraform version
    run another binary); otherwise ``runner`` plans them all.

    Cancelling the caller cancels every plan (and stops its Terraform processes).
    """
    if max_parallel < 1:
        raise ValueError("max_parallel must be at least 1")
    if runners is not None and len(runners) != len(requests):
        raise ValueError("runners must give one runner per request")
    gate = asyncio.Semaphore(max_parallel)

    async def one(request: PlanRequest, runner: TerraformOperations) -> PlanResult:
        async with gate:
            return await runner.plan(
                request.directory,
                workspace=request.workspace,
                planfile=request.planfile,
                extra_args=request.extra_args,
                on_line=request.on_line,
                root=request.root,
                context=request.context,
                workflow=request.workflow,
            )

    try:
        async with asyncio.TaskGroup() as group:
            tasks = [
                group.create_task(one(request, chosen))
                for request, chosen in zip(requests, runners or [runner] * len(requests), strict=True)
            ]
    except* JobCancelled as cancelled:
        # One stop signal stops every plan; the caller sees one JobCancelled, not a group.
        raise cancelled.exceptions[0] from None
    return [task.result() for task in tasks]
