"""Run another checkout's bot, or its benchmark, with that checkout's templates and migrations.

    PYTHONPATH=/path/to/checkout python bench/checkout.py -m bot serve --port 8081
    python bench/checkout.py /path/to/checkout/bench/update.py --events 40

The editable install (`make install`) maps ``bot._templates``, ``bot._migrations`` and
``bot._examples`` to *this* checkout's folders, whichever checkout ``bot`` itself is imported from.
An older checkout's bot would then render today's templates and run today's migrations (a
template naming a variable the older code does not pass fails every update). Without that
mapping, ``bot.shipped`` finds the folders beside the ``bot`` that was imported, as it does in
any checkout run without an install.
"""

from __future__ import annotations

import runpy
import sys


def drop_editable_install() -> None:
    """Remove the editable install's import hooks (setuptools names their module ``__editable__…``)."""
    sys.meta_path[:] = [finder for finder in sys.meta_path if not _editable(finder)]
    sys.path_importer_cache.clear()


def _editable(finder: object) -> bool:
    # setuptools installs its finder as a class; other finders are instances or classes.
    owner = finder if isinstance(finder, type) else type(finder)
    return owner.__module__.startswith("__editable__")


def main() -> None:
    drop_editable_install()
    if len(sys.argv) >= 3 and sys.argv[1] == "-m":
        module = sys.argv[2]
        sys.argv = [module, *sys.argv[3:]]
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    elif len(sys.argv) >= 2:
        script = sys.argv[1]
        sys.argv = sys.argv[1:]
        runpy.run_path(script, run_name="__main__")
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
