"""`gitops-bot serve`'s HTTP server (bot.http_server): idle, it wakes once a second, not ten times;
a stop request is acted on at once; the Date header is still sent and kept current."""

from __future__ import annotations

import gc
import http.client
import signal
import threading
import time
import weakref
from collections.abc import Callable

import uvicorn

from bot.heap import freeze_startup_objects
from bot.http_server import TICK_SECONDS, QuietServer
from tests.support.botenv import free_port


async def app(scope, receive, send) -> None:  # the smallest ASGI app: 200, empty body
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b""})


class CountingServer(QuietServer):
    def __init__(self, config: uvicorn.Config, after_startup: Callable[[], None] | None = None) -> None:
        super().__init__(config, after_startup)
        self.ticks = 0

    async def on_tick(self, counter: int) -> bool:
        self.ticks += 1
        return await super().on_tick(counter)


def _started(
    port: int, after_startup: Callable[[], None] | None = None
) -> tuple[CountingServer, threading.Thread]:
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="off")
    server = CountingServer(config, after_startup)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.started
    return server, thread


def _date_header(port: int) -> str | None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", "/")
        response = connection.getresponse()
        response.read()
        return response.getheader("date")
    finally:
        connection.close()


def test_an_idle_server_wakes_once_a_second_and_stops_at_once() -> None:
    port = free_port()
    server, thread = _started(port)
    try:
        first = _date_header(port)
        assert first is not None and first.endswith("GMT")
        ticks = server.ticks
        time.sleep(2.5 * TICK_SECONDS)
        assert server.ticks - ticks <= 3  # uvicorn's own loop: about 25 in that time
        second = _date_header(port)
        assert second is not None and second != first  # refreshed every tick, as the clock moves
        asked = time.monotonic()
        server.handle_exit(signal.SIGTERM, None)  # what the signal handler calls
        thread.join(timeout=5)
        assert not thread.is_alive()
        assert time.monotonic() - asked < 0.5 * TICK_SECONDS + 0.3
    finally:
        server.should_exit = True
        server.wake()
        thread.join(timeout=5)


def test_after_startup_runs_once_before_the_first_request_is_served() -> None:
    calls: list[str] = []
    port = free_port()
    server, thread = _started(port, after_startup=lambda: calls.append("after startup"))
    try:
        assert _date_header(port) is not None
        assert calls == ["after startup"]  # before the loop served anything
        ticks = server.ticks
        deadline = time.monotonic() + 5 * TICK_SECONDS
        while server.ticks < ticks + 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.ticks >= ticks + 2
        assert calls == ["after startup"]  # once, not on every tick
    finally:
        server.should_exit = True
        server.wake()
        thread.join(timeout=5)


class _Node:
    itself: object = None


def test_freezing_moves_what_is_alive_out_of_the_collectors_passes() -> None:
    before = gc.get_freeze_count()
    cycle = _Node()
    cycle.itself = cycle
    startup_garbage = weakref.ref(cycle)
    del cycle
    try:
        freeze_startup_objects()
        assert startup_garbage() is None  # collected first, not frozen for good
        assert gc.get_freeze_count() > before
        assert len(gc.get_objects(generation=2)) < 100  # the oldest generation's passes walk next to nothing
    finally:
        gc.unfreeze()  # the test process goes on collecting as before
