"""The README's "Try it", run as written: its first shell block, command by command, against
`gitops-bot serve` started as `make run` starts it (the local forge, the example repository made
on first start), each command waited for as a person would before typing the next."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.botenv import free_port
from tests.support.terraform_shim import TerraformShim, terraform_shim

__all__ = ["terraform_shim"]  # the fixture, used by name

ROOT = Path(__file__).resolve().parents[3]
TOKEN = "try-it-console-token"


def try_it_commands() -> list[str]:
    """The first ```sh block under the "## Try it" heading."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("\n## Try it") :]
    block = section[section.index("```sh\n") + len("```sh\n") :]
    return [line for line in block[: block.index("```")].splitlines() if line.strip()]


@pytest.fixture
def environment(tmp_path: Path, terraform_shim: TerraformShim) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("GITOPS_BOT_")}
    env.update(
        GITOPS_BOT_DATABASE_URL=f"sqlite:///{tmp_path / 'bot.db'}",
        GITOPS_BOT_DATA_DIR=str(tmp_path / "data"),
        GITOPS_BOT_LOCAL_REPOS_DIR=str(tmp_path / "repos"),
        GITOPS_BOT_REGISTRY_TOKEN="try-it-registry-token",
        GITOPS_BOT_CONSOLE_AUTH="token",
        GITOPS_BOT_CONSOLE_TOKEN=TOKEN,
        GITOPS_BOT_PROMETHEUS_URL="http://127.0.0.1:9",
        GITOPS_BOT_URL=f"http://127.0.0.1:{free_port()}",
        GITOPS_BOT_LOG_JSON="true",
    )
    return env


@pytest.fixture
def bot(environment: dict[str, str], tmp_path: Path) -> Iterator[str]:
    bot_command = [sys.executable, "-m", "bot"]
    subprocess.run([*bot_command, "migrate"], cwd=tmp_path, env=environment, check=True, capture_output=True)
    port = environment["GITOPS_BOT_URL"].rsplit(":", 1)[1]
    with (tmp_path / "serve.log").open("wb") as log:
        serving = subprocess.Popen(
            [*bot_command, "serve", "--port", port], cwd=tmp_path, env=environment, stdout=log, stderr=log
        )
        try:
            _wait_for(
                lambda: httpx.get(f"{environment['GITOPS_BOT_URL']}/healthz").status_code == 200,
                "the bot to serve",
            )
            yield environment["GITOPS_BOT_URL"]
        finally:
            serving.terminate()
            serving.wait(timeout=30)


def _wait_for(done: object, what: str, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if done():  # type: ignore[operator]
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"waited {timeout:g} s for {what}")


def _idle(url: str) -> bool:
    """No stored event has jobs left to run (what a person waits for before the next command)."""
    answer = httpx.get(
        f"{url}/api/events", params={"status": "queued"}, headers={"Authorization": f"Bearer {TOKEN}"}
    )
    return answer.status_code == 200 and answer.json() == []


def test_the_readme_try_it_runs_as_written(bot: str, environment: dict[str, str]) -> None:
    outputs: list[str] = []
    for line in try_it_commands():
        argv = shlex.split(line)
        assert argv[0] == ".venv/bin/gitops-bot", line
        done = subprocess.run(
            [sys.executable, "-m", "bot", *argv[1:]],
            cwd=ROOT,
            env=environment,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, f"{line}\n{done.stdout}\n{done.stderr}"
        outputs.append(done.stdout)
        # Each command's event is stored before it returns (the intake's 202, the local forge's
        # merge and comment): waiting for no queued event is waiting for its work to end.
        _wait_for(lambda: _idle(bot), f"the bot to finish after: {line}")
    sent, listed, diff, merged, commented, shown = outputs
    assert sent.startswith("202 ")
    assert "chat-llm-staging: deploy 1.5.0 (from 1.4.2)" in listed and "chat-llm-prod: deploy 1.5.0" in listed
    assert '-  tag: "1.4.2"\n+  tag: "1.5.0"' in diff
    assert merged.startswith("Merged #1 (")
    assert commented.startswith("Commented on #2: ")
    assert "--- gitops-bot" in shown and "serving-prod" in shown and "Plan:" in shown, shown
    deployments = httpx.get(f"{bot}/api/deployments", headers={"Authorization": f"Bearer {TOKEN}"}).json()
    assert [(d["name"], d["version"], d["status"]) for d in deployments] == [
        ("chat-llm-staging", "1.5.0", "analysing")
    ]
    # The console shows it all: the deployment, its analysis, and the update still open for prod.
    signed_in = {"Authorization": f"Bearer {TOKEN}"}
    overview = httpx.get(f"{bot}/", headers=signed_in)
    assert overview.status_code == 200 and "chat-llm-staging" in overview.text
    (analysis,) = httpx.get(f"{bot}/api/analyses", headers=signed_in).json()
    page = httpx.get(f"{bot}/analyses/{analysis['id']}", headers=signed_in)
    assert page.status_code == 200 and "chat-llm-staging" in page.text
    updates = {e["deployment"]: e for e in httpx.get(f"{bot}/api/updates", headers=signed_in).json()}
    assert [p["version"] for p in updates["chat-llm-prod"]["proposed"]] == ["1.5.0"]
    assert [p["version"] for p in updates["chat-llm-staging"]["merged"]] == ["1.5.0"]
    assert httpx.get(f"{bot}/pulls/local/gitops/2", headers=signed_in).status_code == 200
