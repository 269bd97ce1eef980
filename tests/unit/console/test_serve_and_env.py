"""`gitops-bot serve` refuses a console without sign-in beyond loopback; `init-env` writes the
console's secrets, also into a .env written before they existed."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from bot.cli import ENV_SECRETS, main, write_env_file
from bot.settings import Settings

CONSOLE_VARIABLES = (
    "GITOPS_BOT_CONSOLE_AUTH",
    "GITOPS_BOT_CONSOLE_TOKEN",
    "GITOPS_BOT_GITHUB_OAUTH_CLIENT_ID",
)


@pytest.fixture
def clean(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No .env and none of the console's variables: what `serve` reads is what the test sets."""
    monkeypatch.chdir(tmp_path)
    for name in CONSOLE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return tmp_path


@pytest.mark.parametrize(
    ("environment", "said"),
    [
        ({}, "GITOPS_BOT_CONSOLE_AUTH is not set"),
        ({"GITOPS_BOT_CONSOLE_AUTH": "none"}, "GITOPS_BOT_CONSOLE_AUTH=none"),
        ({"GITOPS_BOT_CONSOLE_AUTH": "token"}, "needs GITOPS_BOT_CONSOLE_TOKEN"),
    ],
)
def test_serve_beyond_loopback_without_sign_in_refuses_to_start(
    clean: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    environment: dict,
    said: str,
) -> None:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    assert main(["serve", "--host", "0.0.0.0", "--port", "1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("gitops-bot serve: ") and said in err


def test_init_env_writes_the_console_secrets(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    assert write_env_file(path) == list(ENV_SECRETS)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    settings = Settings(_env_file=path)
    assert settings.console_token is not None and len(settings.console_token.get_secret_value()) >= 32
    assert settings.console_session_secret is not None


def test_init_env_adds_what_an_older_env_lacks_and_changes_nothing_else(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / ".env"
    older = (
        "GITOPS_BOT_GITHUB_WEBHOOK_SECRET=kept\nGITOPS_BOT_CONSOLE_SESSION_SECRET=\nGITOPS_BOT_LOG_JSON=false"
    )
    path.write_text(older)
    assert main(["init-env", "--path", str(path)]) == 0
    assert "added GITOPS_BOT_REGISTRY_TOKEN" in capsys.readouterr().out
    text = path.read_text()
    assert text.startswith(older + "\n")
    settings = Settings(_env_file=path)
    assert (
        settings.github_webhook_secret is not None
        and settings.github_webhook_secret.get_secret_value() == "kept"
    )
    assert settings.console_token is not None  # added
    assert text.count("GITOPS_BOT_CONSOLE_SESSION_SECRET=") == 1  # named already: left empty
    assert write_env_file(path) == []
    assert path.read_text() == text
    main(["init-env", "--path", str(path)])
    assert "left as it is" in capsys.readouterr().out
