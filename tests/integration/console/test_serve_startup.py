"""`gitops-bot serve` as a real process: with readable logs it starts with one block, and uvicorn's
lines look like the bot's; without GITOPS_BOT_LOG_JSON and no terminal, every line is JSON."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from tests.support.botenv import free_port

READABLE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z \[(\w+)\s*\] .+ \[([\w.]+)\]")


def _serve(tmp_path: Path, database_url: str, port: int, **variables: str) -> subprocess.Popen[str]:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("GITOPS_BOT_")} | {
        "GITOPS_BOT_DATABASE_URL": database_url,
        "GITOPS_BOT_DATA_DIR": str(tmp_path / "data"),
        "GITOPS_BOT_GITHUB_WEBHOOK_SECRET": "gh-secret-0123456789",
        **variables,
    }
    command = [sys.executable, "-m", "bot", "serve", "--port", str(port), "--no-workers"]
    return subprocess.Popen(command, cwd=tmp_path, env=environment, stderr=subprocess.PIPE, text=True)


def _stderr_until(process: subprocess.Popen[str], marker: str, timeout: float = 30) -> list[str]:
    assert process.stderr is not None
    deadline = time.monotonic() + timeout
    lines: list[str] = []
    while time.monotonic() < deadline:
        text = process.stderr.readline()
        if not text:
            assert process.poll() is None, f"serve exited: {''.join(lines)}"
            continue
        lines.append(text.rstrip("\n"))
        if marker in text:
            return lines
    raise AssertionError(f"no {marker!r} in: {lines}")


def _stop(process: subprocess.Popen[str]) -> None:
    process.terminate()
    process.wait(timeout=20)
    if process.stderr is not None:
        process.stderr.close()


def test_readable_logs_start_with_the_block_then_lines_of_one_format(
    tmp_path: Path, sqlite_database_url: str
) -> None:
    port = free_port()
    process = _serve(tmp_path, sqlite_database_url, port, GITOPS_BOT_LOG_JSON="false")
    try:
        lines = _stderr_until(process, "Uvicorn running on")
    finally:
        _stop(process)
    first = next(index for index, text in enumerate(lines) if " serving on " in text)
    block = lines[first : first + 14]
    assert block[0].endswith(f"serving on http://127.0.0.1:{port}/")
    assert block[1] == f"  console    http://127.0.0.1:{port}/"
    assert "  webhooks   github       on   /webhooks/github" in block
    assert "             registry     off  GITOPS_BOT_REGISTRY_TOKEN is not set" in block
    assert "  terraform  not run here (--no-workers: the workers run it)" in block
    logged = [text for text in lines[first:] if READABLE.match(text)]
    assert {READABLE.match(text).group(2) for text in logged} >= {"uvicorn"}  # type: ignore[union-attr]
    assert any("Uvicorn running on" in text for text in logged)
    assert not any(text.startswith("{") for text in lines)


def test_json_when_not_a_terminal_and_unset(tmp_path: Path, sqlite_database_url: str) -> None:
    port = free_port()
    process = _serve(tmp_path, sqlite_database_url, port)
    try:
        lines = _stderr_until(process, "Uvicorn running on")
    finally:
        _stop(process)
    records = [json.loads(text) for text in lines]  # every line, uvicorn's too
    (serving,) = [record for record in records if record["event"] == "serving"]
    assert serving["url"] == f"http://127.0.0.1:{port}/" and serving["webhooks_on"] == ["github"]
    assert serving["webhooks_off"]["mlflow"] == "GITOPS_BOT_MLFLOW_WEBHOOK_SECRET is not set"
    assert serving["terraform"] is None and serving["workers"] == 0
    assert {record["logger"] for record in records} >= {"gitops_bot.serve", "uvicorn"}
