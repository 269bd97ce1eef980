"""The Slack slash command grammar: the text after ``/gitops``.

    deploy <deployment> <version>
    rollback <deployment>
    status [deployment]
    locks
    unlock <lock-id>
    help

Pure: the Slack adapter passes the command's ``text`` and acts on the result. Words are
split on whitespace (Slack sends no shell quoting, and none of the arguments may contain
spaces). Deployment names follow ``.gitops-bot.yaml``'s rule (letters, digits, ``.``,
``_``, ``-``; starting with a letter or digit), so every configured deployment can be named.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, cast

from bot.commands.grammar import DEPLOYMENT_NAME, quoted

SlackCommandName = Literal["deploy", "rollback", "status", "locks", "unlock", "help"]
SlackUsageKind = Literal["help", "error"]

# An OCI tag (the registry's grammar) also covers MLflow's numeric model versions.
VERSION = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]{0,127}")
LOCK_ID = re.compile(r"#?([1-9][0-9]{0,17})")

# The positional arguments of each command: (name, required).
SLACK_ARGUMENTS: Mapping[str, tuple[tuple[str, bool], ...]] = {
    "deploy": (("deployment", True), ("version", True)),
    "rollback": (("deployment", True),),
    "status": (("deployment", False),),
    "locks": (),
    "unlock": (("lock-id", True),),
    "help": (),
}


@dataclass(frozen=True)
class SlackRequest:
    name: SlackCommandName
    deployment: str | None = None
    version: str | None = None
    lock_id: int | None = None


@dataclass(frozen=True)
class SlackUsage:
    """Reply with help, or an error and the command's usage. ``message`` has no period."""

    kind: SlackUsageKind
    message: str
    command: str | None  # whose usage to show; None: the general help


SlackParse = SlackRequest | SlackUsage


def parse_slack_text(text: str) -> SlackParse:
    words = text.split()
    if not words or words[0] in ("help", "-h", "--help"):
        return SlackUsage("help", "", None)
    name, arguments = words[0].lower(), words[1:]
    if name not in SLACK_ARGUMENTS:
        return SlackUsage("error", f"unknown command {quoted(words[0])}", None)
    expected = SLACK_ARGUMENTS[name]
    required = sum(1 for _, is_required in expected if is_required)
    if len(arguments) < required:
        missing = ", ".join(f"<{arg}>" for arg, _ in expected[len(arguments) : required])
        return SlackUsage("error", f"{name} needs {missing}", name)
    if len(arguments) > len(expected):
        unexpected = " ".join(arguments[len(expected) :])
        return SlackUsage("error", f"unexpected argument(s) \N{EN DASH} {unexpected}", name)

    values = dict(zip((arg for arg, _ in expected), arguments, strict=False))
    deployment = values.get("deployment")
    if deployment is not None and not DEPLOYMENT_NAME.fullmatch(deployment):
        return SlackUsage(
            "error",
            f"invalid deployment name {quoted(deployment)}: use letters, digits, '.', '_' and '-'",
            name,
        )
    version = values.get("version")
    if version is not None and not VERSION.fullmatch(version):
        return SlackUsage("error", f"invalid version {quoted(version)}: expected a tag such as 1.4.2", name)
    lock_id: int | None = None
    if "lock-id" in values:
        match = LOCK_ID.fullmatch(values["lock-id"])
        if match is None:
            return SlackUsage(
                "error",
                f"invalid lock id {quoted(values['lock-id'])}: expected a number from `/gitops locks`",
                name,
            )
        lock_id = int(match.group(1))
    return SlackRequest(
        name=cast(SlackCommandName, name), deployment=deployment, version=version, lock_id=lock_id
    )
