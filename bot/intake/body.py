"""Reading request bodies with a size cap enforced while streaming."""

from __future__ import annotations

from starlette.requests import Request

from bot.intake.errors import IntakeError


async def read_limited_body(request: Request, limit: int) -> bytes:
    """Read at most ``limit`` bytes; a larger body is refused before it is all in memory."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            declared_size = int(declared)
        except ValueError as exc:
            raise IntakeError(400, "Content-Length is not a number") from exc
        if declared_size > limit:
            raise IntakeError(413, f"body of {declared_size} bytes is over the {limit}-byte limit")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise IntakeError(413, f"body is over the {limit}-byte limit")
        chunks.append(chunk)
    return b"".join(chunks)
