"""The intake benchmark's floor: the least work any intake can do that stores before it answers.

`gitops-bot serve` is measured against a bare route that only reads the body
(``bench/bare_app.py``). That route does none of what makes an event safe to acknowledge, so it
says how fast the HTTP stack is, not how fast an intake can be. This app does the minimum an
intake that keeps its promise must do, each step in its cheapest form, with nothing of the bot:

1. read the body and check its ``X-Hub-Signature-256`` (HMAC-SHA256, compared in constant time);
2. parse it (orjson) and take the delivery id;
3. insert it into a SQLite file (WAL, ``synchronous=NORMAL``, ``BEGIN IMMEDIATE``: the bot's
   settings) through one writer thread that commits whatever requests are waiting together
   (group commit, as the bot does), straight through :mod:`sqlite3`, no SQLAlchemy;
4. answer 202 naming the delivery id, only after the commit.

No job rows, no routing, no duplicate answer, no metrics, no logging, no console middleware.
Its rate is an upper bound for any such intake in one Python process on this machine; the
benchmark reports the bot against it beside the bare route.

    python bench/floor_app.py --database /tmp/floor.db --host 127.0.0.1 --port 8098

The webhook secret is read from ``GITOPS_BOT_GITHUB_WEBHOOK_SECRET``, as the bot reads it.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import os
import queue
import sqlite3
import sys
import threading
from collections.abc import Sequence
from concurrent.futures import Future
from pathlib import Path

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response

# Run as a script (bench/floor_app.py) or imported as bench.floor_app: the repository on the path.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bare_app import add_probes, run

MAX_BATCH = 64
SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    source TEXT NOT NULL,
    delivery_id TEXT NOT NULL,
    status TEXT NOT NULL,
    payload TEXT NOT NULL,
    UNIQUE (source, delivery_id)
)
"""
INSERT = (
    "INSERT INTO events (source, delivery_id, status, payload) VALUES ('github', ?, 'queued', ?) "
    "ON CONFLICT DO NOTHING"
)

_Row = tuple[str, str]


class GroupCommit:
    """One writer thread: takes whatever rows are waiting, writes them in one transaction."""

    def __init__(self, path: Path) -> None:
        self._connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "busy_timeout=5000"):
            self._connection.execute(f"PRAGMA {pragma}")
        self._connection.execute(SCHEMA)
        self._waiting: queue.SimpleQueue[tuple[_Row, Future[None]]] = queue.SimpleQueue()
        threading.Thread(target=self._run, name="floor-writer", daemon=True).start()

    async def write(self, row: _Row) -> None:
        future: Future[None] = Future()
        self._waiting.put((row, future))
        await asyncio.wrap_future(future)

    def _run(self) -> None:
        while True:
            batch = [self._waiting.get()]
            while len(batch) < MAX_BATCH:
                try:
                    batch.append(self._waiting.get_nowait())
                except queue.Empty:
                    break
            try:
                self._connection.execute("BEGIN IMMEDIATE")
                self._connection.executemany(INSERT, [row for row, _ in batch])
                self._connection.execute("COMMIT")
            except sqlite3.Error as exc:
                if self._connection.in_transaction:
                    self._connection.execute("ROLLBACK")
                for _, future in batch:
                    future.set_exception(exc)
                continue
            for _, future in batch:
                future.set_result(None)


def build_floor_app(database: Path, secret: str) -> FastAPI:
    app = FastAPI(title="intake-bench-floor", docs_url=None, redoc_url=None, openapi_url=None)
    writer = GroupCommit(database)
    key = secret.encode()

    @app.post("/webhooks/github")
    async def github_webhook(request: Request) -> Response:
        body = await request.body()
        expected = "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, request.headers.get("x-hub-signature-256", "")):
            return Response(b'{"error":"bad signature"}', status_code=401, media_type="application/json")
        try:
            orjson.loads(body)
        except orjson.JSONDecodeError:
            return Response(b'{"error":"not JSON"}', status_code=400, media_type="application/json")
        delivery_id = request.headers.get("x-github-delivery", "")
        await writer.write((delivery_id, body.decode()))
        answer = orjson.dumps({"status": "accepted", "events": [{"delivery_id": delivery_id}]})
        return Response(answer, status_code=202, media_type="application/json")

    add_probes(app)
    return app


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database", type=Path, required=True, help="the SQLite file (created)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    secret = os.environ.get("GITOPS_BOT_GITHUB_WEBHOOK_SECRET")
    if not secret:
        parser.error("GITOPS_BOT_GITHUB_WEBHOOK_SECRET is not set")
    run(build_floor_app(args.database, secret), args.host, args.port)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
