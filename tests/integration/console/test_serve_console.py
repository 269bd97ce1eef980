"""`gitops-bot serve` as a real process: it prints the console's sign-in link when it starts
serving on loopback (like a notebook server), and that link signs a visitor in."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.support.botenv import free_port

TOKEN = "serve-console-token-42"


def test_serve_on_loopback_prints_the_sign_in_link_that_works(
    tmp_path: Path, sqlite_database_url: str
) -> None:
    port = free_port()
    environment = {key: value for key, value in os.environ.items() if not key.startswith("GITOPS_BOT_")} | {
        "GITOPS_BOT_DATABASE_URL": sqlite_database_url,
        "GITOPS_BOT_DATA_DIR": str(tmp_path / "data"),
        "GITOPS_BOT_CONSOLE_AUTH": "token",
        "GITOPS_BOT_CONSOLE_TOKEN": TOKEN,
        "GITOPS_BOT_LOG_JSON": "true",
    }
    command = [
        sys.executable,
        "-m",
        "bot",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-workers",
    ]
    process = subprocess.Popen(command, cwd=tmp_path, env=environment, stderr=subprocess.PIPE, text=True)
    try:
        line = _serving_line(process)
        assert line["console"] == f"http://127.0.0.1:{port}/login?token={TOKEN}"
        assert line["console_auth"] == "token"
        _wait_until_up(port)
        with httpx.Client() as browser:
            assert browser.get(f"http://127.0.0.1:{port}/api/events").status_code == 401
            visit = browser.get(line["console"], follow_redirects=False)
            assert (visit.status_code, visit.headers["location"]) == (303, "/")
            assert "secure" not in visit.headers["set-cookie"].lower()  # loopback over http
            assert browser.get(f"http://127.0.0.1:{port}/api/events").status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=20)
        if process.stderr is not None:
            process.stderr.close()


def _serving_line(process: subprocess.Popen[str], timeout: float = 30) -> dict:
    assert process.stderr is not None
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        text = process.stderr.readline()
        if not text:
            assert process.poll() is None, f"serve exited: {''.join(seen)}"
            continue
        seen.append(text)
        if text.startswith("{"):
            record = json.loads(text)
            if record.get("event") == "serving":
                return record
    raise AssertionError(f"no serving line: {''.join(seen)}")


def _wait_until_up(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise AssertionError("serve did not answer /healthz")
