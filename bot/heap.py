"""Python's collector in a long-running process: once startup is done, what it built is frozen.

Startup builds about 100,000 objects that live as long as the process: modules, routes,
templates, the ORM's mappings, settings. The collector's full passes walk every tracked
object, so each one walked all of them again: under 200 webhooks a second such a pass took
60-120 ms on a 2-core machine, holding the GIL, and every request in flight waited for it
(``bench/intake.py``: the open loop's p99). :func:`gc.freeze` moves them to the permanent
generation, which no pass walks; objects made later are collected as before.
"""

from __future__ import annotations

import gc


def freeze_startup_objects() -> None:
    """Call once, after startup and before serving: later passes skip everything alive now.

    Startup's own cyclic garbage is collected first: frozen, it would never be freed."""
    gc.collect()
    gc.freeze()
