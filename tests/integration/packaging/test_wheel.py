"""The built wheel is a working bot: templates and migrations travel inside the package.

The wheel is built from a copy of what the container image is built from (the top-level
.dockerignore's allowlist), installed with its dependencies into a fresh virtualenv that cannot
see this checkout's packages, and run from a directory outside the checkout: `gitops-bot migrate`
on a new SQLite file, `gitops-bot serve --no-workers` answering /readyz and the dashboard, and one
template rendered by the installed package. Anything read from the source tree by file path
would be missing there. The build and the install happen once per session (about 10 seconds
with a warm pip cache).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support.botenv import free_port

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
# What deploy/Dockerfile builds from (.dockerignore lets in only these).
SOURCES = (
    "pyproject.toml",
    "README.md",
    "LICENSE",
    "bot",
    "handlers",
    "templates",
    "migrations",
    "deploy/examples",
)
# Files that are part of the checkout but not of the running bot.
NOT_SHIPPED = ("__pycache__", "*.pyc")

RENDER = """
import json, sys
import bot
from bot.templating import template_environment
templates = template_environment()
text = templates.get_template("commands/did_you_mean.md.j2").render(message="Did you mean `plan`?")
json.dump({"bot": bot.__file__, "templates": templates.list_templates(), "text": text}, sys.stdout)
"""


@dataclass(frozen=True)
class Installed:
    wheel: Path
    venv: Path
    elsewhere: Path  # a working directory outside the checkout
    checkout: Path  # the sources the wheel was built from

    def bin(self, name: str) -> Path:
        return self.venv / "bin" / name

    def env(self, **settings: str) -> dict[str, str]:
        """The caller's environment without anything that would point Python or the bot elsewhere."""
        kept = {k: v for k, v in os.environ.items() if k not in POINTS_ELSEWHERE}
        env = {k: v for k, v in kept.items() if not k.startswith("GITOPS_BOT_")}
        env.update({f"GITOPS_BOT_{name.upper()}": value for name, value in settings.items()})
        return env

    def run(
        self, *command: str | Path, cwd: Path | None = None, **settings: str
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(part) for part in command],
            cwd=cwd or self.elsewhere,
            env=self.env(**settings),
            capture_output=True,
            text=True,
            timeout=120,
        )


# What would let pip see packages other than the ones it installs: with the checkout on
# PYTHONPATH, the checkout's own gitops_bot.egg-info made pip take the bot as installed already
# and leave it out of the venv.
POINTS_ELSEWHERE = ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV")


def _pip(*args: str | Path) -> None:
    command = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet", *map(str, args)]
    env = {key: value for key, value in os.environ.items() if key not in POINTS_ELSEWHERE}
    completed = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env)
    assert completed.returncode == 0, f"{' '.join(command)}:\n{completed.stdout}\n{completed.stderr}"


def _shipped_files(folder: str) -> set[str]:
    """The files of a top-level folder the bot needs at run time, relative to that folder."""
    base = ROOT / folder
    return {
        path.relative_to(base).as_posix()
        for path in base.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    }


@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    source.mkdir()
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(
                ROOT / name, source / name, ignore=shutil.ignore_patterns(*NOT_SHIPPED), dirs_exist_ok=True
            )
        else:
            shutil.copy2(ROOT / name, source / name)
    # A copy, so the build leaves no build/ or egg-info behind in the checkout, and no stale
    # build/ from an earlier run can hide a file missing from the package data.
    _pip("wheel", "--no-deps", "--wheel-dir", work / "dist", source)
    (wheel,) = (work / "dist").glob("gitops_bot-*.whl")
    venv = work / "venv"
    # No pip inside and no --system-site-packages: only the wheel and its dependencies.
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True, timeout=120)
    # --no-compile: byte-compiling every dependency cost about 14 s of CPU; the few modules the
    # tests import are compiled when first imported, as on any install without it.
    _pip("--python", venv / "bin" / "python", "install", "--no-compile", wheel)
    elsewhere = work / "elsewhere"
    elsewhere.mkdir()
    yield Installed(wheel=wheel, venv=venv, elsewhere=elsewhere, checkout=source)


@pytest.mark.parametrize(
    ("folder", "package"),
    [("templates", "templates"), ("migrations", "migrations"), ("deploy/examples", "examples")],
)
def test_the_wheel_carries_every_template_migration_and_example(
    installed: Installed, folder: str, package: str
) -> None:
    with zipfile.ZipFile(installed.wheel) as wheel:
        packaged = {
            name.removeprefix(f"bot/_{package}/")
            for name in wheel.namelist()
            if name.startswith(f"bot/_{package}/")
        }
    assert _shipped_files(folder) - packaged == set()


def test_templates_render_from_the_installed_package(installed: Installed) -> None:
    completed = installed.run(installed.bin("python"), "-c", textwrap.dedent(RENDER))
    assert completed.returncode == 0, completed.stderr
    rendered = json.loads(completed.stdout)
    assert Path(rendered["bot"]).is_relative_to(installed.venv), rendered["bot"]
    assert set(rendered["templates"]) >= _shipped_files("templates") - {"__init__.py"}
    assert "Did you mean `plan`?" in rendered["text"]


def test_migrate_then_serve_from_outside_the_checkout(installed: Installed) -> None:
    settings = {
        "database_url": f"sqlite:///{installed.elsewhere / 'bot.db'}",
        "data_dir": str(installed.elsewhere / "data"),
        "log_level": "WARNING",
    }
    migrated = installed.run(installed.bin("gitops-bot"), "migrate", **settings)
    assert migrated.returncode == 0, migrated.stderr[-3000:]
    assert "database schema at revision" in migrated.stdout
    assert installed.run(installed.bin("gitops-bot"), "--help").returncode == 0

    port = free_port()
    log = installed.elsewhere / "serve.log"
    with log.open("wb") as output:
        server = subprocess.Popen(
            [
                installed.bin("gitops-bot"),
                "serve",
                "--no-workers",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            cwd=installed.elsewhere,
            env=installed.env(**settings),
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        ready = _wait_ready(f"http://127.0.0.1:{port}", server, log)
        assert ready.json()["status"] == "ready"
        assert ready.json()["schema"] and ready.json()["schema"] in migrated.stdout
        dashboard = httpx.get(f"http://127.0.0.1:{port}/", timeout=10)  # a template, rendered by serve
        assert dashboard.status_code == 200, dashboard.text
        assert "<html" in dashboard.text.lower()
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)


def _wait_ready(
    url: str, server: subprocess.Popen[bytes], log: Path, timeout: float = 60.0
) -> httpx.Response:
    deadline = time.monotonic() + timeout
    last = "no answer"
    with httpx.Client(timeout=2) as client:  # one client: each builds a TLS context
        while time.monotonic() < deadline:
            assert server.poll() is None, f"serve exited: {log.read_text(errors='replace')[-3000:]}"
            try:
                response = client.get(url + "/readyz")
                if response.status_code == 200:
                    return response
                last = f"{response.status_code} {response.text}"
            except httpx.HTTPError as exc:
                last = repr(exc)
            time.sleep(0.2)
    raise AssertionError(f"serve never became ready ({last}): {log.read_text(errors='replace')[-3000:]}")


def test_python_m_bot_in_the_checkout_migrates_and_renders(installed: Installed) -> None:
    """In the repository, `python -m bot` imports the checkout's bot, which has no bot._migrations or
    bot._templates: the top-level folders are used there (this failed with "No module named
    'bot._migrations'")."""
    database = f"sqlite:///{installed.elsewhere / 'from-checkout.db'}"
    migrated = installed.run(
        installed.bin("python"), "-m", "bot", "migrate", cwd=installed.checkout, database_url=database
    )
    assert migrated.returncode == 0, migrated.stderr[-3000:]
    assert "database schema at revision" in migrated.stdout
    rendered = installed.run(installed.bin("python"), "-c", RENDER, cwd=installed.checkout)
    assert rendered.returncode == 0, rendered.stderr[-3000:]
    answer = json.loads(rendered.stdout)
    assert Path(answer["bot"]).is_relative_to(installed.checkout)  # the checkout's bot, not the wheel's
    assert "Did you mean `plan`?" in answer["text"]
