"""The `gitops-bot` command line (also `python -m bot`)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import signal
import sys
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bot.cli_settings import settings_or_exit
from bot.settings import Settings

ENV_SECRETS = (
    "GITOPS_BOT_GITHUB_WEBHOOK_SECRET",
    "GITOPS_BOT_REGISTRY_TOKEN",
    "GITOPS_BOT_MLFLOW_WEBHOOK_SECRET",
    "GITOPS_BOT_SLACK_SIGNING_SECRET",
    "GITOPS_BOT_CONSOLE_TOKEN",
    "GITOPS_BOT_CONSOLE_SESSION_SECRET",
)


def _settings() -> Settings:
    return settings_or_exit()


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from bot.adapters.forge.local.seed import with_example_repository
    from bot.app import create_app
    from bot.console.access import serving_refusal, serving_settings
    from bot.http_server import serve as serve_http
    from bot.logging import configure_logging
    from bot.startup import announce_serving

    settings = _settings()
    # A console without sign-in is served on loopback only; a mode needs its credentials.
    refusal = serving_refusal(settings, args.host)
    if refusal is not None:
        print(f"gitops-bot serve: {refusal}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, json=settings.log_json)
    settings = serving_settings(settings, args.host)
    # The bot's own address is where it serves: the local forge's links point there.
    shown_host = f"[{args.host}]" if ":" in args.host else args.host
    settings = settings.model_copy(update={"url": f"http://{shown_host}:{args.port}"})
    seeded = with_example_repository(settings)
    if seeded is not None:  # the local forge, no GitOps repository set: the example's
        settings = seeded.settings
    app = create_app(settings, run_workers=not args.no_workers)
    # One block (readable logs) or one `serving` line (JSON): where, who may sign in, what is on.
    announce_serving(app.state.services, host=args.host, port=args.port, workers=not args.no_workers)
    config = uvicorn.Config(
        app, host=args.host, port=args.port, log_config=None, access_log=False, proxy_headers=True
    )
    return serve_http(config)


def cmd_worker(_args: argparse.Namespace) -> int:
    from bot.heap import freeze_startup_objects
    from bot.intake.store import event_sink
    from bot.logging import configure_logging
    from bot.routing import load_router
    from bot.runtime import Runtime
    from bot.services import build_services

    settings = _settings()
    configure_logging(settings.log_level, json=settings.log_json)
    router = load_router(settings.handlers)

    async def run() -> None:
        services = build_services(settings)
        services.event_sink = event_sink(services.queue, router)  # the local forge's events
        runtime = Runtime(services, router)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await runtime.start()
        freeze_startup_objects()
        try:
            await stop.wait()
        finally:
            await runtime.stop()
            services.close()

    asyncio.run(run())
    return 0


def cmd_migrate(_args: argparse.Namespace) -> int:
    from sqlalchemy import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from bot.storage.availability import short_error
    from bot.storage.db import migrate

    settings = _settings()
    try:
        state = migrate(settings.database_url)
    except SQLAlchemyError as exc:
        # The driver's one line says what to fix (server down, schema missing, no permission);
        # SQLAlchemy's traceback around it says nothing more to an operator.
        where = make_url(settings.database_url).render_as_string(hide_password=True)
        raise SystemExit(f"gitops-bot migrate: could not migrate {where}: {short_error(exc)}") from None
    print(f"database schema at revision {state.current} (head {state.head})")
    return 0


def cmd_check_config(args: argparse.Namespace) -> int:
    from bot.config import check_config_file

    if args.repo is not None and not Path(args.repo).is_dir():
        print(f"gitops-bot check-config: --repo {args.repo} is not a directory", file=sys.stderr)
        return 2
    errors = check_config_file(Path(args.file), checkout=args.repo)
    for error in errors:
        print(error, file=sys.stderr)
    if errors:
        print(f"{len(errors)} error(s) in {args.file}", file=sys.stderr)
        return 1
    print(f"{args.file}: OK")
    return 0


def write_env_file(path: Path) -> list[str]:
    """Random secrets into a .env (created with mode 0600): the names it added. A secret the file
    already names (set or empty) is left as it is; nothing else in the file changes."""
    if path.exists():
        text = path.read_text()
        present = {line.split("=", 1)[0].strip() for line in text.splitlines() if "=" in line}
        missing = [name for name in ENV_SECRETS if name not in present]
        if missing:
            with path.open("a") as handle:
                handle.write("" if not text or text.endswith("\n") else "\n")
                handle.write(f"# Added by `gitops-bot init-env`: {', '.join(missing)}.\n")
                handle.writelines(f"{name}={secrets.token_urlsafe(32)}\n" for name in missing)
        return missing
    lines = ["# Written by `gitops-bot init-env`: random webhook and console secrets for a local bot.\n"]
    lines += [f"{name}={secrets.token_urlsafe(32)}\n" for name in ENV_SECRETS]
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.writelines(lines)
    return list(ENV_SECRETS)


def cmd_init_env(args: argparse.Namespace) -> int:
    path = Path(args.path)
    existed = path.exists()
    added = write_env_file(path)
    if not existed:
        print(f"wrote {path} with random webhook and console secrets (mode 0600)")
    elif added:
        print(f"{path} exists; added {', '.join(added)}")
    else:
        print(f"{path} exists; left as it is")
    return 0


def _guess_github_event(payload: dict[str, object]) -> str:
    if "zen" in payload and "hook_id" in payload:
        return "ping"
    if "comment" in payload and "issue" in payload:
        return "issue_comment"
    if "pull_request" in payload:
        return "pull_request"
    if "registry_package" in payload:
        return "registry_package"
    if "package" in payload:
        return "package"
    if "ref" in payload and "commits" in payload:
        return "push"
    raise SystemExit("gitops-bot send-event: cannot tell which GitHub event this is: pass --event NAME")


def build_signed_request(
    settings: Settings, source: str, body: bytes, *, event: str | None = None
) -> tuple[str, dict[str, str]]:
    """The path and headers for a signed request, as the real sender would sign it."""
    from bot.intake.signatures import github_signature, mlflow_signature, slack_signature

    def need(value: object, variable: str) -> str:
        secret = getattr(value, "get_secret_value", lambda: None)()
        if not secret:
            raise SystemExit(
                f"gitops-bot send-event: {variable} is not set (run `gitops-bot init-env` or set it)"
            )
        return str(secret)

    if source == "github":
        secret = need(settings.github_webhook_secret, "GITOPS_BOT_GITHUB_WEBHOOK_SECRET")
        name = event or _guess_github_event(json.loads(body))
        return "/webhooks/github", {
            "Content-Type": "application/json",
            "X-GitHub-Event": name,
            "X-GitHub-Delivery": str(uuid.uuid4()),
            "X-Hub-Signature-256": github_signature(secret, body),
        }
    if source in ("registry", "alertmanager"):
        token = need(settings.registry_token, "GITOPS_BOT_REGISTRY_TOKEN")
        content_type = "application/json"
        if source == "registry" and b'"events"' in body[:200]:
            content_type = "application/vnd.docker.distribution.events.v1+json"
        return f"/webhooks/{source}", {"Content-Type": content_type, "Authorization": f"Bearer {token}"}
    if source == "mlflow":
        secret = need(settings.mlflow_webhook_secret, "GITOPS_BOT_MLFLOW_WEBHOOK_SECRET")
        delivery, timestamp = str(uuid.uuid4()), str(int(time.time()))
        return "/webhooks/mlflow", {
            "Content-Type": "application/json",
            "X-MLflow-Delivery-Id": delivery,
            "X-MLflow-Timestamp": timestamp,
            "X-MLflow-Signature": mlflow_signature(secret, delivery, timestamp, body),
        }
    if source == "slack":
        secret = need(settings.slack_signing_secret, "GITOPS_BOT_SLACK_SIGNING_SECRET")
        timestamp = str(int(time.time()))
        path = "/slack/interactions" if body.startswith(b"payload=") else "/slack/commands"
        return path, {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": timestamp,
            "X-Slack-Signature": slack_signature(secret, timestamp, body),
        }
    raise SystemExit(f"unknown source {source!r}")


def cmd_send_event(args: argparse.Namespace) -> int:
    """Every mistake is one line saying what to do (exit 1), never a traceback."""
    import httpx

    def fail(problem: str) -> SystemExit:
        return SystemExit(f"gitops-bot send-event: {problem}")

    settings = _settings()
    url = (args.url or settings.url).rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise fail(f"{url!r} is not an http(s) URL: fix --url or GITOPS_BOT_URL")
    try:
        body = Path(args.file).read_bytes()
    except OSError as exc:
        raise fail(f"cannot read {args.file}: {exc.strerror or exc} (tests/payloads/ has samples)") from None
    if args.source == "slack":
        body = body.strip()
    try:
        path, headers = build_signed_request(settings, args.source, body, event=args.event)
    except ValueError as exc:  # a body that is not JSON where the event name is guessed from it
        raise fail(f"{args.file} is not JSON ({exc}): check --source, or pass --event NAME") from None
    try:
        response = httpx.post(url + path, content=body, headers=headers, timeout=30)
    except httpx.InvalidURL as exc:
        raise fail(f"{url!r} is not a usable URL ({exc}): fix --url or GITOPS_BOT_URL") from None
    except httpx.TransportError as exc:
        raise fail(
            f"cannot reach the bot at {url} ({exc or type(exc).__name__}): start it with "
            "`gitops-bot serve` (or `make run`), or point --url or GITOPS_BOT_URL at it"
        ) from None
    print(f"{response.status_code} {response.text}")
    return 0 if response.is_success else 1


def cmd_terraform_job(_args: argparse.Namespace) -> int:
    # No Settings: the pod has no bot configuration, only its run's GITOPS_BOT_JOB_* variables.
    from bot.adapters.terraform_jobs.pod import main as run_job

    return run_job()


def cmd_schema(_args: argparse.Namespace) -> int:
    from bot.config.json_schema import repo_config_json_schema_text

    sys.stdout.write(repo_config_json_schema_text())
    return 0


class HelpWithDefaults(argparse.HelpFormatter):
    """Every option's help ends with its default, when it has one worth saying."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        if "%(default)" in text or default in (None, False, argparse.SUPPRESS) or not action.option_strings:
            return text
        return f"{text} (default: %(default)s)"


class Parser(argparse.ArgumentParser):
    """The parser of `gitops-bot` and of each command (``add_subparsers`` makes them of this class)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpWithDefaults)
        super().__init__(*args, **kwargs)


def build_parser() -> argparse.ArgumentParser:
    from bot import installed_version

    parser = Parser(
        prog="gitops-bot",
        description=__doc__,
        epilog="`gitops-bot COMMAND --help` shows a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {installed_version()}")
    # Not required: a bare `gitops-bot` prints this help (main), rather than an error.
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    _add_running_commands(commands)
    _add_tool_commands(commands)
    terraform_job = commands.add_parser(
        "terraform-job", help="run one Terraform plan or apply inside a Kubernetes Job (the Job runs it)"
    )
    terraform_job.set_defaults(func=cmd_terraform_job)
    schema = commands.add_parser("schema", help="print the JSON Schema of .gitops-bot.yaml (for editors)")
    schema.set_defaults(func=cmd_schema)

    from bot.adapters.forge.local.cli import add_parser as add_pr_parser
    from bot.updates.preview_cli import add_parser as add_preview_parser

    add_preview_parser(commands)
    add_pr_parser(commands)
    return parser


def _add_running_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The commands that run the bot: serve, worker, migrate."""
    serve = commands.add_parser("serve", help="HTTP server + workers + scheduler in one process")
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (beyond loopback the console needs sign-in)"
    )
    serve.add_argument("--port", type=int, default=8080, help="port to listen on")
    serve.add_argument("--no-workers", action="store_true", help="serve HTTP only (run `worker` elsewhere)")
    serve.set_defaults(func=cmd_serve)

    worker = commands.add_parser("worker", help="workers + scheduler only")
    worker.set_defaults(func=cmd_worker)

    migrate = commands.add_parser("migrate", help="apply database migrations (idempotent)")
    migrate.set_defaults(func=cmd_migrate)


def _add_tool_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The commands people run beside the bot: check a config, write secrets, send an event."""
    check = commands.add_parser("check-config", help="validate a .gitops-bot.yaml")
    check.add_argument("file", help="the .gitops-bot.yaml to check")
    check.add_argument(
        "--repo",
        metavar="DIR",
        help="a checkout of the GitOps repository: every target file, key and project dir must exist there",
    )
    check.set_defaults(func=cmd_check_config)

    init_env = commands.add_parser(
        "init-env", help="write a .env with random webhook and console secrets (adds missing ones)"
    )
    init_env.add_argument("--path", default=".env", help="the file to write (or to add missing secrets to)")
    init_env.set_defaults(func=cmd_init_env)

    send = commands.add_parser("send-event", help="send a payload file to a running bot, signed")
    send.add_argument("file", help="the payload: JSON, or form data for Slack (samples: tests/payloads/)")
    send.add_argument(
        "--source",
        required=True,
        choices=["github", "registry", "mlflow", "alertmanager", "slack"],
        help="the sender it comes from: picks the route and how it is signed",
    )
    send.add_argument(
        "--event", help="GitHub event name (X-GitHub-Event); guessed from the payload if omitted"
    )
    send.add_argument(
        "--url", help="the running bot's address (default: GITOPS_BOT_URL, else http://127.0.0.1:8080)"
    )
    send.set_defaults(func=cmd_send_event)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:  # a bare `gitops-bot`: what it can do
        parser.print_help()
        return 0
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
