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
    return Settings()


def cmd_serve(args: argparse.Namespace) -> int:
    import structlog
    import uvicorn

    from bot.app import create_app
    from bot.console.access import serving_refusal, serving_settings, start_address
    from bot.logging import configure_logging

    settings = _settings()
    # A console without sign-in is served on loopback only; a mode needs its credentials.
    refusal = serving_refusal(settings, args.host)
    if refusal is not None:
        print(f"gitops-bot serve: {refusal}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, json=settings.log_json)
    settings = serving_settings(settings, args.host)
    app = create_app(settings, run_workers=not args.no_workers)
    structlog.get_logger("gitops_bot.serve").info(
        "serving",
        console=start_address(settings, args.host, args.port),
        console_auth=settings.console_auth,
        host=args.host,
        port=args.port,
    )
    uvicorn.run(app, host=args.host, port=args.port, log_config=None, access_log=False, proxy_headers=True)
    return 0


def cmd_worker(_args: argparse.Namespace) -> int:
    from bot.logging import configure_logging
    from bot.routing import load_router
    from bot.runtime import Runtime
    from bot.services import build_services

    settings = _settings()
    configure_logging(settings.log_level, json=settings.log_json)
    router = load_router(settings.handlers)

    async def run() -> None:
        services = build_services(settings)
        runtime = Runtime(services, router)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await runtime.start()
        try:
            await stop.wait()
        finally:
            await runtime.stop()
            services.close()

    asyncio.run(run())
    return 0


def cmd_migrate(_args: argparse.Namespace) -> int:
    from bot.storage.db import migrate

    settings = _settings()
    state = migrate(settings.database_url)
    print(f"database schema at revision {state.current} (head {state.head})")
    return 0


def cmd_check_config(args: argparse.Namespace) -> int:
    from bot.config import check_config_file

    errors = check_config_file(Path(args.file))
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
    raise SystemExit("cannot tell which GitHub event this is: pass --event NAME")


def build_signed_request(
    settings: Settings, source: str, body: bytes, *, event: str | None = None
) -> tuple[str, dict[str, str]]:
    """The path and headers for a signed request, as the real sender would sign it."""
    from bot.intake.signatures import github_signature, mlflow_signature, slack_signature

    def need(value: object, variable: str) -> str:
        secret = getattr(value, "get_secret_value", lambda: None)()
        if not secret:
            raise SystemExit(f"{variable} is not set (run `gitops-bot init-env` or set it)")
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
    import httpx

    body = Path(args.file).read_bytes()
    if args.source == "slack":
        body = body.strip()
    path, headers = build_signed_request(_settings(), args.source, body, event=args.event)
    response = httpx.post(args.url.rstrip("/") + path, content=body, headers=headers, timeout=30)
    print(f"{response.status_code} {response.text}")
    return 0 if response.is_success else 1


def cmd_terraform_job(_args: argparse.Namespace) -> int:
    # No Settings: the pod has no bot configuration, only its run's GITOPS_BOT_JOB_* variables.
    from bot.adapters.terraform_jobs.pod import main as run_job

    return run_job()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gitops-bot", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="HTTP server + workers + scheduler in one process")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--no-workers", action="store_true", help="serve HTTP only (run `worker` elsewhere)")
    serve.set_defaults(func=cmd_serve)

    worker = commands.add_parser("worker", help="workers + scheduler only")
    worker.set_defaults(func=cmd_worker)

    migrate = commands.add_parser("migrate", help="apply database migrations (idempotent)")
    migrate.set_defaults(func=cmd_migrate)

    check = commands.add_parser("check-config", help="validate a .gitops-bot.yaml")
    check.add_argument("file")
    check.set_defaults(func=cmd_check_config)

    init_env = commands.add_parser(
        "init-env", help="write a .env with random webhook and console secrets (adds missing ones)"
    )
    init_env.add_argument("--path", default=".env")
    init_env.set_defaults(func=cmd_init_env)

    send = commands.add_parser("send-event", help="send a payload file to a running bot, signed")
    send.add_argument("file")
    send.add_argument(
        "--source", required=True, choices=["github", "registry", "mlflow", "alertmanager", "slack"]
    )
    send.add_argument(
        "--event", help="GitHub event name (X-GitHub-Event); guessed from the payload if omitted"
    )
    send.add_argument("--url", default="http://127.0.0.1:8080")
    send.set_defaults(func=cmd_send_event)

    terraform_job = commands.add_parser(
        "terraform-job", help="run one Terraform plan or apply inside a Kubernetes Job (the Job runs it)"
    )
    terraform_job.set_defaults(func=cmd_terraform_job)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
