"""The baseline for the intake benchmark: a FastAPI route that reads the body and answers 202.

It runs under uvicorn exactly as `gitops-bot serve` does (one process, same uvicorn
options), so the difference between the two is the bot's own work: signature check,
parsing, storing and the answer it builds.

    python bench/bare_app.py --host 127.0.0.1 --port 8099
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence

from fastapi import FastAPI, Request
from fastapi.responses import Response


def build_bare_app() -> FastAPI:
    app = FastAPI(title="intake-bench-bare", docs_url=None, redoc_url=None, openapi_url=None)

    @app.post("/webhooks/github")
    async def github_webhook(request: Request) -> Response:
        await request.body()
        return Response(status_code=202)

    add_probes(app)
    return app


def add_probes(app: FastAPI) -> None:
    """``/healthz`` and ``/readyz``, which the bench waits for before it sends anything."""

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz() -> dict[str, str]:
        return {"status": "ready"}


def run(app: FastAPI, host: str, port: int) -> None:
    """Serve ``app`` with the same uvicorn options as `gitops-bot serve` (bot/cli.py), so only
    the app differs between the targets."""
    import uvicorn

    logging.basicConfig(level=logging.WARNING)
    uvicorn.run(app, host=host, port=port, log_config=None, access_log=False, proxy_headers=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    run(build_bare_app(), args.host, args.port)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
