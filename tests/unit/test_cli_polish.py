"""The command line's manners: `--version`, a bare `gitops-bot` shows the commands, every option
says what it does and its default, and `send-event` fails in one line that says what to do."""

from __future__ import annotations

import argparse
import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot import installed_version
from bot.cli import build_parser, main
from tests.support.botenv import free_port

PING = Path(__file__).resolve().parents[1] / "payloads/github/ping.json"


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A directory without .env, and the secrets send-event signs with."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GITOPS_BOT_GITHUB_WEBHOOK_SECRET", "gh-secret")
    monkeypatch.delenv("GITOPS_BOT_URL", raising=False)
    return tmp_path


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out == f"gitops-bot {installed_version()}\n"


def test_bare_gitops_bot_prints_the_commands_and_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: gitops-bot")
    for command in ("serve", "worker", "migrate", "check-config", "init-env", "send-event"):
        assert command in out
    assert "COMMAND --help" in out


def _commands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    (subparsers,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(subparsers.choices)


@pytest.mark.parametrize("name", sorted(_commands()))
def test_every_option_has_help_and_says_its_default(name: str) -> None:
    command = _commands()[name]
    for action in command._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        assert action.help, f"`gitops-bot {name}` {action.dest}: no help text"
    text = command.format_help()
    for action in command._actions:
        if action.option_strings and action.default not in (None, False, argparse.SUPPRESS):
            assert f"(default: {action.default})" in " ".join(text.split()), (name, action.dest)
    assert "(default: None)" not in text and "(default: False)" not in text


def test_serve_help_names_the_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["serve", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "(default: 127.0.0.1)" in out and "(default: 8080)" in out


def _one_line_failure(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    message = str(exited.value.code)
    assert exited.value.code not in (0, None)
    assert message.startswith("gitops-bot send-event: ") and "\n" not in message
    assert "Traceback" not in capsys.readouterr().err
    return message


def test_a_missing_file_is_one_line(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    message = _one_line_failure(capsys, ["send-event", "nowhere.json", "--source", "github"])
    assert "cannot read nowhere.json: No such file or directory" in message


def test_no_bot_listening_is_one_line_with_the_fix(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    port = free_port()
    argv = ["send-event", str(PING), "--source", "github", "--url", f"http://127.0.0.1:{port}"]
    message = _one_line_failure(capsys, argv)
    assert f"cannot reach the bot at http://127.0.0.1:{port}" in message
    assert "gitops-bot serve" in message and "GITOPS_BOT_URL" in message


def test_not_a_url_is_one_line(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    message = _one_line_failure(capsys, ["send-event", str(PING), "--source", "github", "--url", "bot:8080"])
    assert "'bot:8080' is not an http(s) URL" in message


def test_a_form_body_sent_as_github_is_one_line(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    form = env / "command.txt"
    form.write_text("token=x&command=%2Fgitops")
    message = _one_line_failure(capsys, ["send-event", str(form), "--source", "github"])
    assert "is not JSON" in message and "--source" in message


class _Recorder(http.server.BaseHTTPRequestHandler):
    seen: list[tuple[str, dict[str, str]]] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        type(self).seen.append((self.path, dict(self.headers)))
        body = json.dumps({"status": "accepted"}).encode()
        self.send_response(202)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def listener() -> Iterator[str]:
    server = http.server.HTTPServer(("127.0.0.1", 0), _Recorder)
    _Recorder.seen = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_send_event_goes_to_gitops_bot_url(
    env: Path, listener: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GITOPS_BOT_URL", listener + "/")
    assert main(["send-event", str(PING), "--source", "github"]) == 0
    assert capsys.readouterr().out.startswith("202 ")
    ((path, headers),) = _Recorder.seen
    assert path == "/webhooks/github" and headers["X-GitHub-Event"] == "ping"


def test_url_flag_beats_gitops_bot_url(env: Path, listener: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITOPS_BOT_URL", "http://127.0.0.1:9")
    assert main(["send-event", str(PING), "--source", "github", "--url", listener]) == 0
    assert [path for path, _headers in _Recorder.seen] == ["/webhooks/github"]


def test_migrate_against_a_database_it_cannot_reach_is_one_line(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    port = free_port()
    monkeypatch.setenv("GITOPS_BOT_DATABASE_URL", f"postgresql+psycopg://bot:s3cret@127.0.0.1:{port}/bot")
    with pytest.raises(SystemExit) as exited:
        main(["migrate"])
    message = str(exited.value.code)
    assert message.startswith(
        f"gitops-bot migrate: could not migrate postgresql+psycopg://bot:***@127.0.0.1:{port}/bot: "
    )
    assert "Connection refused" in message or "connection failed" in message
    assert "\n" not in message and "s3cret" not in message
    assert "Traceback" not in capsys.readouterr().err
