"""pyproject.toml names every package of the bot, so the wheel misses none.

The packages are listed rather than discovered because templates/ and migrations/ are installed
inside the bot under other names (bot._templates, bot._migrations). An editable install still
imports a forgotten package from the checkout; only the wheel would lack it, hence this check.
tests/integration/packaging/test_wheel.py builds and runs the wheel itself.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from bot.storage.db import migrations_directory
from bot.templating import template_environment

ROOT = Path(__file__).resolve().parents[2]
SHIPPED_FOLDERS = {
    "bot._templates": "templates",
    "bot._migrations": "migrations",
    "bot._examples": "deploy/examples",
}


def _setuptools() -> dict[str, Any]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]


def _code_packages() -> set[str]:
    """Every folder of bot/ and handlers/ that holds Python code, as a dotted package name."""
    return {
        ".".join(module.parent.relative_to(ROOT).parts)
        for top in ("bot", "handlers")
        for module in (ROOT / top).rglob("*.py")
        if "__pycache__" not in module.parts
    }


def test_every_package_of_the_tree_is_listed_in_pyproject() -> None:
    missing = _code_packages() - set(_setuptools()["packages"])
    assert not missing, f"add {sorted(missing)} to [tool.setuptools] packages in pyproject.toml"


def test_templates_and_migrations_are_packages_inside_the_bot() -> None:
    config = _setuptools()
    assert config["package-dir"] == SHIPPED_FOLDERS
    for package, folder in SHIPPED_FOLDERS.items():
        assert package in config["packages"]
        assert package in config["package-data"]
        assert (ROOT / folder / "__init__.py").is_file(), f"{folder}/ must stay a package"


def test_the_bot_loads_templates_and_migrations_through_their_packages() -> None:
    assert "commands/did_you_mean.md.j2" in template_environment().list_templates()
    assert (migrations_directory() / "env.py").is_file()
    assert (migrations_directory() / "versions").is_dir()


def _dockerfile_stage(name: str) -> str:
    """The text of one stage of deploy/Dockerfile, comments dropped and continuations joined."""
    text = (ROOT / "deploy" / "Dockerfile").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    stages = "\n".join(lines).replace("\\\n", " ").split("\nFROM ")
    return next(stage for stage in stages if stage.split("\n", 1)[0].endswith(f" AS {name}"))


def test_the_image_installs_the_built_wheel_not_the_source_tree() -> None:
    builder, runtime = _dockerfile_stage("builder"), _dockerfile_stage("runtime")
    assert "pip wheel" in builder and ".whl" in builder
    assert "--editable" not in builder and " -e " not in builder
    copies = [line.split() for line in runtime.splitlines() if line.startswith("COPY --from=builder")]
    assert copies == [["COPY", "--from=builder", "/opt/venv", "/opt/venv"]]


def test_the_license_is_declared_as_setuptools_wants_it_without_warnings() -> None:
    """An SPDX expression and license-files (PEP 639): the table form `license = {text = …}` and
    License classifiers make setuptools warn on every build."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == "Apache-2.0"
    assert project["license-files"] == ["LICENSE"] and (ROOT / "LICENSE").is_file()
    assert not [c for c in project.get("classifiers", []) if c.startswith("License ::")]
