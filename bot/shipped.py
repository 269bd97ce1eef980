"""Where the folders the bot ships beside its code (templates, migrations) are on disk.

Installed (a wheel, pipx, the editable install of `make run`), they are the packages
``bot._templates`` and ``bot._migrations`` (pyproject.toml's package-dir). Run from a source
checkout instead (``python -m bot`` in the repository, or ``PYTHONPATH`` pointing at it), ``bot``
is imported from the checkout, which has no such packages: there the same files are the
repository's top-level folders beside ``bot/``. Both are read as files on disk (Jinja2's loader,
Alembic's script directory).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

TEMPLATES = ("bot._templates", "templates")
MIGRATIONS = ("bot._migrations", "migrations")
EXAMPLES = ("bot._examples", "deploy/examples")


def shipped_directory(shipped: tuple[str, str]) -> Path:
    """The directory of ``(package, repository folder)``, installed or in the checkout."""
    package, folder = shipped
    try:
        location = resources.files(package)
    except ModuleNotFoundError:
        location = Path(__file__).resolve().parents[1] / folder
        if not (location / "__init__.py").is_file():
            raise RuntimeError(
                f"{package} is not installed and {location} is not a checkout's {folder}/"
            ) from None
    if not isinstance(location, Path):
        raise RuntimeError(f"{package} is not a directory on disk ({location!r})")
    return location
