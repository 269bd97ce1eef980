"""The command line starts light: building its parser (``gitops-bot --help``, and the first step of
every command) loads neither the web stack, nor the database layer, nor the forge port's models.

Each command imports what it needs when it runs. Before this held, `gitops-bot --help` took 1.2 s
of CPU, nearly all of it imports; a command run by a test as a process paid it too. A fresh
interpreter is the only honest place to look, so the check runs in one.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Top-level packages (and our own heavy modules) that only a running command may load.
HEAVY = (
    "alembic",
    "fastapi",
    "starlette",
    "sqlalchemy",
    "github",
    "gitlab",
    "kubernetes",
    "jinja2",
    "ruamel",
    "hcl2",
    "httpx",
    "uvicorn",
    "psycopg",
    "scipy",
    "slack_sdk",
    "bot.config",
    "bot.storage",
    "bot.queue",
    "bot.adapters.forge.port",
)

PROBE = """
import json, sys
from bot.cli import build_parser
build_parser()
print(json.dumps(sorted(sys.modules)))
"""


def modules_after(code: str) -> set[str]:
    completed = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    )
    return set(json.loads(completed.stdout))


def loaded(modules: set[str], name: str) -> bool:
    return name in modules or any(module.startswith(f"{name}.") for module in modules)


def test_building_the_parser_loads_nothing_heavy() -> None:
    modules = modules_after(PROBE)
    assert [name for name in HEAVY if loaded(modules, name)] == []


def test_the_probe_sees_a_heavy_import() -> None:
    """The check itself works: a module that does load the database layer is seen."""
    modules = modules_after("import json, sys; import bot.storage.db; print(json.dumps(sorted(sys.modules)))")
    assert loaded(modules, "bot.storage") and loaded(modules, "sqlalchemy")
