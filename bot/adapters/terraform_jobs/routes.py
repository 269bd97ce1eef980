"""The two routes a Terraform Job's pod calls: fetch its work tree, send its result.

``GET  /internal/terraform-jobs/{run_id}/bundle``  200 application/gzip
``PUT  /internal/terraform-jobs/{run_id}/result``  204 stored

The pod authenticates with its run's one-time token (``Authorization: Bearer``), which is all it
needs: these routes take no other credentials. Refusals: 401 a missing or wrong token, 404 an
unknown run, 409 a result was already stored, 410 the run expired (or the bot gave up on it),
413 a result over :data:`~bot.adapters.terraform_jobs.wire.MAX_RESULT_BYTES`, 400 a body that
is not a result of this run. Every answer but the bundle is JSON ``{"detail": "..."}``; the
token is never logged or echoed. The database work runs in a thread.
"""

from __future__ import annotations

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from bot.adapters.terraform_jobs.store import Refusal, TerraformJobRuns
from bot.adapters.terraform_jobs.wire import MAX_RESULT_BYTES, JobOutcome, WireError
from bot.storage.types import utcnow

log = structlog.get_logger("gitops_bot.terraform")

PREFIX = "/internal/terraform-jobs"

_REFUSALS = {
    Refusal.NOT_FOUND: "there is no such Terraform Job run",
    Refusal.UNAUTHORIZED: "a missing or wrong token for this run",
    Refusal.EXPIRED: "this run is over (expired, or the bot no longer waits for it)",
    Refusal.ALREADY_STORED: "a result was already stored for this run",
}


class _TooLarge(Exception):
    pass


def _detail(status_code: int, detail: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status_code)


def _run_id(text: str) -> int | None:
    """The run's id; anything else names no run (a 404, not a validation error)."""
    if not (text.isascii() and text.isdigit() and len(text) <= 10):
        return None
    return int(text) if int(text) < 2**31 else None  # an Integer column


def _refused(refusal: Refusal, run_id: int | None, route: str) -> JSONResponse:
    log.info("terraform_job.refused", run_id=run_id, route=route, refusal=refusal.value)
    return _detail(refusal.status_code, _REFUSALS[refusal])


def _token(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return (token.strip() or None) if scheme.lower() == "bearer" else None


def _runs(request: Request) -> TerraformJobRuns:
    return TerraformJobRuns(request.app.state.services.database)


async def _read_capped(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _TooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def build_terraform_jobs_router() -> APIRouter:
    router = APIRouter(prefix=PREFIX, include_in_schema=False)

    @router.get("/{run_id}/bundle", name="terraform_job_bundle")
    async def bundle(run_id: str, request: Request) -> Response:
        number = _run_id(run_id)
        if number is None:
            return _refused(Refusal.NOT_FOUND, None, "bundle")
        runs = _runs(request)
        found = await run_in_threadpool(runs.bundle, number, _token(request), utcnow())
        if isinstance(found, Refusal):
            return _refused(found, number, "bundle")
        log.info("terraform_job.bundle_sent", run_id=number, size=len(found))
        return Response(found, media_type="application/gzip")

    @router.put("/{run_id}/result", name="terraform_job_result")
    async def result(run_id: str, request: Request) -> Response:
        number = _run_id(run_id)
        if number is None:
            return _refused(Refusal.NOT_FOUND, None, "result")
        runs = _runs(request)
        token = _token(request)
        # The token before the body: nobody without it makes the bot read (or parse) a body.
        row = await run_in_threadpool(runs.authorize, number, token, utcnow())
        if isinstance(row, Refusal):
            return _refused(row, number, "result")
        try:
            body = await _read_capped(request, MAX_RESULT_BYTES)
        except _TooLarge:
            return _detail(413, f"the result is over the {MAX_RESULT_BYTES}-byte limit")
        problem = await run_in_threadpool(_problem, body, row.operation)
        if problem is not None:
            log.warning("terraform_job.bad_result", run_id=number, problem=problem)
            return _detail(400, problem)
        stored = await run_in_threadpool(runs.store_result, number, token, body, utcnow())
        if isinstance(stored, Refusal):
            return _refused(stored, number, "result")
        log.info("terraform_job.result_stored", run_id=number, size=len(body))
        return Response(status_code=204)

    return router


def _problem(body: bytes, operation: str) -> str | None:
    """Why ``body`` is not a result of a run of ``operation``, or None."""
    try:
        outcome = JobOutcome.from_json(body)
    except WireError as error:
        return f"not a Terraform Job result: {error}"
    if outcome.operation != operation:
        return f"this run is a {operation}, the result is of a {outcome.operation}"
    return None
