"""The command line: check-config, init-env and the signing of send-event."""

from __future__ import annotations

import json
import re
import stat
import time
from pathlib import Path

import pytest

from bot.cli import build_signed_request, main, write_env_file
from bot.intake.signatures import verify_github, verify_mlflow, verify_slack, verify_token
from bot.settings import Settings

EXAMPLE = Path(__file__).resolve().parents[2] / "deploy/examples/gitops-repo/.gitops-bot.yaml"


def test_check_config_accepts_the_example(capsys) -> None:
    assert main(["check-config", str(EXAMPLE)]) == 0
    assert "OK" in capsys.readouterr().out


def test_check_config_names_the_line_and_exits_1(tmp_path: Path, capsys) -> None:
    bad = tmp_path / ".gitops-bot.yaml"
    bad.write_text(
        "version: 1\ndeployments:\n  - name: x\n    trigger: {image: {repository: a/b}}\n"
        "    targets: [{file: v.yaml, key: image.tag}]\n    colour: blue\n"
    )
    assert main(["check-config", str(bad)]) == 1
    err = capsys.readouterr().err
    assert f"{bad}:6:5: deployments[0].colour" in err
    assert "1 error(s)" in err


def test_init_env_writes_secrets_once_with_mode_0600(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    assert write_env_file(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    first = path.read_text()
    assert "GITOPS_BOT_GITHUB_WEBHOOK_SECRET=" in first and "GITOPS_BOT_SLACK_SIGNING_SECRET=" in first
    assert not write_env_file(path)
    assert path.read_text() == first
    settings = Settings(_env_file=path)
    assert settings.github_webhook_secret is not None
    assert len(settings.github_webhook_secret.get_secret_value()) >= 32


@pytest.fixture
def settings() -> Settings:
    return Settings(
        _env_file=None,
        github_webhook_secret="g",
        registry_token="r",
        mlflow_webhook_secret="m",
        slack_signing_secret="s",
    )


def test_send_event_signs_like_the_real_senders(settings: Settings) -> None:
    body = json.dumps({"action": "opened", "pull_request": {}}).encode()
    path, headers = build_signed_request(settings, "github", body)
    assert path == "/webhooks/github" and headers["X-GitHub-Event"] == "pull_request"
    assert verify_github("g", body, headers["X-Hub-Signature-256"])

    path, headers = build_signed_request(settings, "registry", b'{"events": []}')
    assert headers["Content-Type"] == "application/vnd.docker.distribution.events.v1+json"
    assert verify_token("r", headers["Authorization"], None)

    path, headers = build_signed_request(settings, "mlflow", body)
    assert path == "/webhooks/mlflow"
    assert (
        verify_mlflow(
            "m",
            body,
            signature_header=headers["X-MLflow-Signature"],
            delivery_id=headers["X-MLflow-Delivery-Id"],
            timestamp=headers["X-MLflow-Timestamp"],
            now=float(headers["X-MLflow-Timestamp"]),
        )
        is None
    )

    path, headers = build_signed_request(settings, "slack", b"payload=%7B%7D")
    assert path == "/slack/interactions"
    stamp = headers["X-Slack-Request-Timestamp"]
    assert verify_slack(
        "s",
        b"payload=%7B%7D",
        signature_header=headers["X-Slack-Signature"],
        timestamp=stamp,
        now=lambda: float(stamp),
    )


def test_send_event_without_a_secret_says_which_variable(settings: Settings) -> None:
    with pytest.raises(SystemExit, match="GITOPS_BOT_GITHUB_WEBHOOK_SECRET"):
        build_signed_request(Settings(_env_file=None), "github", b"{}", event="ping")


@pytest.mark.parametrize(
    "text",
    [
        "version: 1\nusers: " + "[" * 3_000 + "]" * 3_000 + "\n",  # flow style
        "version: 1\nusers:\n  " + "- " * 3_000 + "x\n",  # block style
        "version: 1\n" + "# padding\n" * 500_000,  # 5 MB
    ],
    ids=["deep-flow", "deep-block", "several-mib"],
)
def test_check_config_reports_hostile_files_as_errors_with_a_line(tmp_path: Path, capsys, text: str) -> None:
    hostile = tmp_path / ".gitops-bot.yaml"
    hostile.write_text(text)
    started = time.monotonic()
    assert main(["check-config", str(hostile)]) == 1
    assert time.monotonic() - started < 5  # a guard against minutes (on a loaded machine), not a benchmark
    err = capsys.readouterr().err
    assert re.search(rf"^{re.escape(str(hostile))}:\d+:\d+: ", err, re.MULTILINE)
    assert "nested deeper than 64 levels" in err or "may be at most 256 KiB" in err
    assert "1 error(s)" in err and "Traceback" not in err and "recursion" not in err
