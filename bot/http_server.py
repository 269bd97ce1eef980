"""uvicorn's server with a quieter heartbeat: `gitops-bot serve` wakes once a second, not ten times.

uvicorn's main loop sleeps 0.1 s between checks: whether an exit was asked for, whether the
request limit is reached, and (every tenth time) the ``Date`` header to send. On a small VM each
wake costs a few tenths of a millisecond of CPU, so those ten wakes a second were half of what
an idle bot spent (``bench/idle.py``: uvicorn alone, 0.23-0.32% of a core). :class:`QuietServer`
does the same checks once a second, which is as often as the ``Date`` header changes anyway, and
a signal wakes it at once, so stopping is as quick as before.

It overrides ``main_loop`` and ``handle_exit``, which uvicorn's ``Server`` has had unchanged in
shape for years; ``tests/unit/test_http_server.py`` holds both to what is relied on here.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from types import FrameType

import uvicorn

from bot.heap import freeze_startup_objects

TICK_SECONDS = 1.0
# uvicorn's exit code when the server did not start (uvicorn.main.STARTUP_FAILURE).
STARTUP_FAILURE = 3


class QuietServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, after_startup: Callable[[], None] | None = None) -> None:
        super().__init__(config)
        self._after_startup = after_startup  # once the app's startup is done, before serving
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wakeup: asyncio.Event | None = None

    async def main_loop(self) -> None:
        if self._after_startup is not None:
            self._after_startup()
        self._loop = asyncio.get_running_loop()
        self._wakeup = asyncio.Event()
        counter = 0
        should_exit = await self.on_tick(counter)
        while not should_exit:
            # on_tick refreshes the Date header when counter % 10 == 0: every tick is a second.
            counter = (counter + 10) % 864000
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(TICK_SECONDS):
                    await self._wakeup.wait()
            should_exit = await self.on_tick(counter)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        """uvicorn's (SIGINT, SIGTERM), then a wake-up: the loop need not wait out its tick."""
        super().handle_exit(sig, frame)
        self.wake()

    def wake(self) -> None:
        """Look at ``should_exit`` now (safe from a signal handler and from other threads)."""
        loop, wakeup = self._loop, self._wakeup
        if loop is not None and wakeup is not None and not loop.is_closed():
            loop.call_soon_threadsafe(wakeup.set)


def serve(config: uvicorn.Config) -> int:
    """Run ``config``'s app until a signal stops it, as ``uvicorn.run`` does for one process."""
    config.load_app()
    server = QuietServer(config, after_startup=freeze_startup_objects)
    with contextlib.suppress(KeyboardInterrupt):
        server.run()
    return 0 if server.started else STARTUP_FAILURE
