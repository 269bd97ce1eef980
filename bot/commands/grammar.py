"""PR comment commands: ``/gitops <command> ...`` and Atlantis's ``atlantis <command> ...``.

A pure function from the comment body to one of four outcomes, mirroring Atlantis's
``CommentParser`` (server/events/comment_parser.go) so teams can move over without
relearning:

- ``NotForUs``: not addressed to the bot; ignore it silently.
- ``Usage``: addressed to the bot but asking for help or wrong; reply with help or the error
  and the command's usage (rendered by ``bot.commands.render``).
- ``DidYouMean``: looks like a mistyped invocation (``terraform plan``, ``atlantsi plan``).
- ``Command``: a valid command.

Executable names: ``/gitops``, ``atlantis`` and ``@<bot login>``. Atlantis's legacy ``run``
alias is not accepted (it collides with ordinary prose), and a bare ``gitops`` is answered
with "did you mean ``/gitops``" rather than run. Where we differ from Atlantis on purpose:

- ``-d`` with an absolute path is refused (Atlantis silently makes it relative);
- ``-d`` is checked path component by component, so a directory named ``..foo`` is fine;
- workspaces also refuse a leading ``-`` or ``~`` and ``$`` (Terraform's own rule is
  Atlantis's: the name must survive ``url.PathEscape`` unchanged, and contain no ``..``);
- extra arguments after ``--`` are an allowlist (``-target``, ``-replace``, ``-var``,
  ``-var-file`` inside the project, ``-destroy``, ``-refresh-only``, ``-refresh=false``,
  ``-lock=false``, ``-lock-timeout``, ``-parallelism``, ``-compact-warnings``, ``-no-color``;
  see ``bot.adapters.terraform_cli.safety``), normalised to one word per flag;
- "did you mean" answers only when the second word is a command or a help flag, so prose
  such as "terraform is great" or "Atlantis is down" stays ignored;
- ``--auto-merge-disabled`` (and ``--auto-merge-method``) are refused with an explanation:
  the bot does not merge a pull request after apply, so there is nothing to disable;
- ``rollback``, ``promote``, ``pause`` and ``resume`` take an optional deployment name (``pause``
  and ``resume`` hold and release a canary's traffic steps); ``status`` and ``unlock``
  take nothing (as Atlantis's ``unlock``); nor do ``approve_policies`` and ``cancel``
  (Atlantis's names). Atlantis's ``cancel`` only drops queued operations; ours also stops the
  running ones (see ``bot.commands.cancelling``).
"""

from __future__ import annotations

import posixpath
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from bot.adapters.terraform_cli.safety import ExtraArgsRefused, check_extra_args, is_valid_workspace
from bot.commands.flags import FlagError, FlagSpec, HelpRequested, ParsedFlags, parse_flags

Via = Literal["gitops", "atlantis"]
UsageKind = Literal["help", "command_help", "error"]

GITOPS_EXECUTABLE = "/gitops"
ATLANTIS_EXECUTABLE = "atlantis"

COMMENT_COMMANDS: tuple[str, ...] = (
    "plan",
    "apply",
    "unlock",
    "approve_policies",
    "cancel",
    "rollback",
    "promote",
    "pause",
    "resume",
    "status",
    "help",
)
HELP_WORDS = frozenset({"help", "-h", "--help"})

PROJECT = FlagSpec("project", "p", takes_value=True)
DIR = FlagSpec("dir", "d", takes_value=True)
WORKSPACE = FlagSpec("workspace", "w", takes_value=True)
VERBOSE = FlagSpec("verbose", None, takes_value=False)

# The flags each command accepts, in the order its usage lists them.
COMMAND_FLAGS: Mapping[str, tuple[FlagSpec, ...]] = {
    "plan": (WORKSPACE, DIR, PROJECT, VERBOSE),
    "apply": (WORKSPACE, DIR, PROJECT, VERBOSE),
    "unlock": (),
    "approve_policies": (),
    "cancel": (),
    "rollback": (),
    "promote": (),
    "pause": (),
    "resume": (),
    "status": (),
}
# Commands taking one optional positional argument: a deployment name.
DEPLOYMENT_ARGUMENT_COMMANDS = frozenset({"rollback", "promote", "pause", "resume"})
TERRAFORM_COMMANDS = frozenset({"plan", "apply"})

# Atlantis's multiLineRegex: a line break followed by more text. A trailing blank line
# (GitHub adds two when a comment is copied) is trimmed away first, so it passes.
_MULTI_LINE = re.compile(r".*\r?\n[^\r\n]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_UNICODE_SPACE = re.compile(r"[\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]")
DEPLOYMENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_UNSUPPORTED_ATLANTIS_FLAGS = ("--auto-merge-disabled", "--auto-merge-method")


@dataclass(frozen=True)
class NotForUs:
    reason: str


@dataclass(frozen=True)
class Usage:
    """Reply with help or an error plus usage. ``message`` is one plain sentence, no period."""

    kind: UsageKind
    message: str
    command: str | None  # the command whose usage to show; None: the general help
    executable: str  # as the user addressed the bot, for the examples in the reply


@dataclass(frozen=True)
class DidYouMean:
    message: str
    given: str
    suggestion: str


@dataclass(frozen=True)
class Command:
    name: str
    project: str | None
    dir: str | None  # normalised, relative to the repository root ("." for the root)
    workspace: str | None
    verbose: bool
    extra_args: tuple[str, ...]
    via: Via
    deployment: str | None = None  # rollback/promote/pause/resume: which deployment, when the PR has several


CommentParse = NotForUs | Usage | DidYouMean | Command


def quoted(text: str) -> str:
    """Double-quoted like Go's %q, the way Atlantis shows names in its errors."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def _levenshtein(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, start=1):
        current = [i]
        for j, char_b in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b)))
        previous = current
    return previous[-1]


def _looks_like_invocation(fields: list[str]) -> bool:
    return len(fields) == 1 or fields[1] in COMMENT_COMMANDS or fields[1] in HELP_WORDS


def _did_you_mean(fields: list[str]) -> DidYouMean | None:
    first = fields[0]
    if not _looks_like_invocation(fields):
        return None
    if first == "terraform":
        return DidYouMean(
            f"Did you mean to use `{GITOPS_EXECUTABLE}` (or `{ATLANTIS_EXECUTABLE}`) instead of `terraform`?",
            given=first,
            suggestion=GITOPS_EXECUTABLE,
        )
    for executable in (GITOPS_EXECUTABLE, ATLANTIS_EXECUTABLE):
        # Atlantis's utils.IsSimilarWord: an edit distance of 1 or 2 is a misspelling.
        if 0 < _levenshtein(first, executable) < 3:
            return DidYouMean(
                f"Did you mean to use `{executable}` instead of `{first}`?",
                given=first,
                suggestion=executable,
            )
    return None


def _via(first: str, vcs_user: str | None) -> Via | None:
    if first == GITOPS_EXECUTABLE:
        return "gitops"
    if first == ATLANTIS_EXECUTABLE:
        return "atlantis"
    # GitHub logins are case-insensitive, so is the mention.
    if vcs_user and first.lower() == f"@{vcs_user.lstrip('@')}".lower():
        return "gitops"
    return None


def validate_dir(raw: str) -> str:
    """The directory normalised relative to the repository root; ValueError when it escapes."""
    if _CONTROL.search(raw):
        raise ValueError(f"invalid directory {quoted(raw)}: control characters are not allowed")
    if raw.startswith("/"):
        raise ValueError(
            f"using an absolute path {quoted(raw)} with -d/--dir is not allowed; "
            "give a path relative to the repository root"
        )
    normalised = posixpath.normpath(raw)
    if normalised == ".." or normalised.startswith("../"):
        raise ValueError(f"using a relative path {quoted(raw)} with -d/--dir is not allowed")
    return normalised


def validate_workspace(raw: str) -> str:
    """The workspace name unchanged; ValueError when Terraform or the bot would refuse it."""
    if not is_valid_workspace(raw):
        raise ValueError(f"invalid workspace: {quoted(raw)}")
    return raw


def _error(message: str, command: str, executable: str) -> Usage:
    return Usage("error", message, command, executable)


def parse_comment(body: str, *, vcs_user: str | None = None) -> CommentParse:
    """Parse a pull request comment; ``vcs_user`` is the bot's login for ``@login`` invocations."""
    comment = body.strip()
    if _MULTI_LINE.search(comment):
        return NotForUs("a comment of several lines is not a command")
    fields = comment.split()
    if not fields:
        return NotForUs("empty comment")
    via = _via(fields[0], vcs_user)
    if via is None:
        suggestion = _did_you_mean(fields)
        return suggestion if suggestion is not None else NotForUs("not addressed to the bot")
    executable = GITOPS_EXECUTABLE if fields[0] != ATLANTIS_EXECUTABLE else ATLANTIS_EXECUTABLE

    # Addressed to us: now split again like a shell would, so quoted words survive. shlex only
    # knows ASCII blanks; rendered pages pasted into a comment bring non-breaking spaces.
    try:
        words = shlex.split(_UNICODE_SPACE.sub(" ", comment))
    except ValueError as error:
        return Usage("error", f"could not parse the command: {str(error).lower()}", None, executable)
    if len(words) < 2 or words[1] in HELP_WORDS:
        return Usage("help", "", None, executable)
    name = words[1]
    if name not in COMMAND_FLAGS:
        return Usage("error", f"unknown command {quoted(name)}", None, executable)

    for unsupported in _UNSUPPORTED_ATLANTIS_FLAGS:
        if any(word == unsupported or word.startswith(f"{unsupported}=") for word in _before_dash(words[2:])):
            return _error(
                f"{unsupported} is not supported: the bot does not merge pull requests after apply",
                name,
                executable,
            )
    try:
        parsed = parse_flags(words[2:], COMMAND_FLAGS[name])
    except HelpRequested:
        return Usage("command_help", "", name, executable)
    except FlagError as error:
        return _error(str(error), name, executable)
    return _command(name, parsed, via, executable)


def _before_dash(words: list[str]) -> list[str]:
    return words[: words.index("--")] if "--" in words else words


def _command(name: str, parsed: ParsedFlags, via: Via, executable: str) -> CommentParse:
    positionals = list(parsed.positionals)
    deployment: str | None = None
    if name in DEPLOYMENT_ARGUMENT_COMMANDS and positionals:
        deployment = positionals.pop(0)
        if not DEPLOYMENT_NAME.fullmatch(deployment):
            return _error(f"invalid deployment name {quoted(deployment)}", name, executable)
    if positionals:
        return _error(f"unknown argument(s) \N{EN DASH} {' '.join(positionals)}", name, executable)

    extra_args = parsed.after_dash or ()
    if extra_args and name not in TERRAFORM_COMMANDS:
        return _error(
            f"extra arguments after -- are only passed to terraform by plan and apply, not {name}",
            name,
            executable,
        )
    checked = check_extra_args(extra_args)
    if isinstance(checked, ExtraArgsRefused):
        return _error(checked.message, name, executable)

    values = parsed.values
    # Empty values count as "not given", as in Atlantis.
    project = str(values.get("project") or "") or None
    raw_dir = str(values.get("dir") or "") or None
    raw_workspace = str(values.get("workspace") or "") or None
    try:
        directory = validate_dir(raw_dir) if raw_dir is not None else None
        workspace = validate_workspace(raw_workspace) if raw_workspace is not None else None
    except ValueError as error:
        return _error(str(error), name, executable)
    if project is not None and (directory is not None or workspace is not None):
        return _error("cannot use -p/--project at same time as -d/--dir or -w/--workspace", name, executable)
    return Command(
        name=name,
        project=project,
        dir=directory,
        workspace=workspace,
        verbose=bool(values.get("verbose", False)),
        extra_args=checked,
        via=via,
        deployment=deployment,
    )
