"""How busy this process's intake is, so that workers running in the same process give way to it.

A webhook must be answered fast; a job can wait. When `gitops-bot serve` runs the workers in its
own process, every job's CPU is taken from the intake (one process, one GIL): at 200 webhooks a
second the process was at a full core and the intake's p99 went from 12 ms to several hundred.
So the workers claim one job at a time, each claim first waiting until the intake has been quiet
for a moment, but never longer than a bound: under a steady stream of webhooks the pool still
starts a job every bound (20 a second), and the backlog of a burst is worked off at full speed as
soon as it ends. At ordinary rates the intake is quiet nearly all the time and nobody waits.
Workers in processes of their own (`gitops-bot worker`, `serve --no-workers` beside them) have no
intake to give way to.

Everything here runs on the event loop's thread (the intake's endpoints and the workers' loops are
both coroutines on it), so the counters need no lock.
"""

from __future__ import annotations

import time
from collections.abc import Callable

# The intake counts as quiet once no request has been in flight for this long.
QUIET_SECONDS = 0.005
# A worker never waits longer than this for quiet before it claims its next job.
MOST_SECONDS = 0.05


def give_way_seconds(in_flight: int, quiet_for: float, waited: float) -> float:
    """How much longer a worker waits before claiming (0: claim now).

    1. The worker has waited ``MOST_SECONDS`` already: claim now, busy or not.
    2. Requests are in flight: wait a quiet period (capped by what is left of the bound).
    3. The last one finished less than ``QUIET_SECONDS`` ago: wait out the rest of that period.
    4. Otherwise the intake is quiet: claim now.
    """
    left = MOST_SECONDS - waited
    if left <= 0:
        return 0.0
    if in_flight > 0:
        return min(QUIET_SECONDS, left)
    if quiet_for < QUIET_SECONDS:
        return min(QUIET_SECONDS - quiet_for, left)
    return 0.0


class IntakeActivity:
    """Requests in flight and when the last one ended, as the intake's endpoints report them."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._in_flight = 0
        self._last_finished = float("-inf")

    def started(self) -> None:
        self._in_flight += 1

    def finished(self) -> None:
        self._in_flight -= 1
        self._last_finished = self._clock()

    def give_way_seconds(self, waited: float) -> float:
        return give_way_seconds(self._in_flight, self._clock() - self._last_finished, waited)
