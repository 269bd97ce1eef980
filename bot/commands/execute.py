"""One command runner for PR comments and Slack: may they → acknowledge → run → answer.

Both surfaces parse with the grammars of ``bot.commands`` and hand :func:`execute` an
:class:`Invocation`: which command, on which repository, for which GitHub login, and the domain
work to run. Permission is decided first, so a refused command is never acknowledged (a 👀 on a
comment always means "running"); then the surface acknowledges, the work runs (the domain
functions audit what they do) and its answer goes back through the surface's :class:`Reply`:
a comment on the pull request, or Slack's ``response_url`` (``chat.postEphemeral`` when that
is refused). Slack needs no acknowledgement here: the intake already answered "Working on it…".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import jinja2

from bot.adapters.forge.port import Forge
from bot.adapters.slack_api import SlackError, client_from_settings
from bot.commands.authorization import authorize
from bot.config import RepoConfig
from bot.notify import blocks as bk
from bot.notify.render import duration

if TYPE_CHECKING:
    from bot.services import Services

Work = Callable[[], str | None]
"""The domain work of a command; returns the answer, or None when the work answered itself."""


@dataclass(frozen=True)
class Invocation:
    command: str  # the name ``permissions:`` knows it by: plan, apply, rollback, deploy, ...
    repo: str
    config: RepoConfig | None
    login: str  # the GitHub login whose permission is checked
    shown: str  # how the invocation reads in audit summaries: "/gitops rollback", "unlock 3"
    work: Work
    installation_id: int | None = None
    open_to_all: bool = False  # no permission needed (``status`` on a pull request)
    permission: str | None = None  # the ``permissions:`` entry checked, when not ``command``'s own


class Reply(Protocol):
    """Where a command's answers go; each surface words a refusal its own way."""

    def refuse(self, invocation: Invocation, why: str) -> None: ...

    def acknowledge(self) -> None: ...

    def answer(self, text: str) -> None: ...


def execute(services: Services, invocation: Invocation, reply: Reply) -> bool:
    """Run ``invocation`` if its login may; True when it ran."""
    if not invocation.open_to_all:
        forge = services.forge_for_repo(invocation.repo, invocation.installation_id)
        allowed, why = authorize(
            forge,
            invocation.repo,
            invocation.config,
            invocation.permission or invocation.command,
            invocation.login,
        )
        if not allowed:
            reply.refuse(invocation, why)
            return False
    reply.acknowledge()
    text = invocation.work()
    if text:
        reply.answer(text)
    return True


# -- pull request comments ---------------------------------------------------------------------


@dataclass(frozen=True)
class CommentReply:
    """Answers on the pull request; 👀 on the command's comment acknowledges it."""

    services: Services
    forge: Forge
    repo: str
    number: int
    comment_id: int
    audit_kind: str  # "terraform.apply", "comment.rollback": the kinds the audit log has always used

    def refuse(self, invocation: Invocation, why: str) -> None:
        self.services.audit(
            kind=self.audit_kind,
            actor=invocation.login,
            summary=f"refused {invocation.shown} on #{self.number}: {why}",
            repo=self.repo,
            outcome="refused",
            details={"reason": why},
        )
        self.answer(f"@{invocation.login} may not run `{invocation.command}` here: {why}.")

    def acknowledge(self) -> None:
        self.forge.add_reaction(self.repo, self.comment_id, "eyes", number=self.number)

    def answer(self, text: str) -> None:
        self.forge.create_comment(self.repo, self.number, text)


# -- Slack -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Asker:
    """The Slack user behind a command or a button press."""

    user_id: str
    user_name: str | None = None
    event_id: int | None = None

    @property
    def actor(self) -> str:
        name = f" (@{self.user_name})" if self.user_name else ""
        return f"slack:{self.user_id}{name}"


def render_slack(templates: jinja2.Environment, name: str, **context: Any) -> str:
    """A Slack reply from ``templates/slack/replies/``, with mrkdwn escaping at hand."""
    context.setdefault("esc", lambda value: bk.escape(str(value or "")))
    context.setdefault("link", bk.link)
    context.setdefault("duration", duration)
    return templates.get_template(f"slack/replies/{name}.md.j2").render(**context).strip()


@dataclass(frozen=True)
class SlackReply:
    """Answers the asker alone, at the command's ``response_url`` (one use of the five Slack
    allows in 30 minutes) or, when that is refused or expired, by ``chat.postEphemeral``.

    The work is never redone to deliver an answer: a failed answer is logged and audited."""

    services: Services
    asker: Asker
    response_url: str | None
    channel: str | None
    log: Any  # the job's structlog logger

    def audit(self, kind: str, summary: str, *, repo: str | None = None, **fields: Any) -> None:
        details = {
            "slack_user_id": self.asker.user_id,
            "slack_user_name": self.asker.user_name,
            **fields.pop("details", {}),
        }
        self.services.audit(
            kind=kind,
            actor=self.asker.actor,
            summary=summary,
            repo=repo,
            details=details,
            event_id=self.asker.event_id,
            **fields,
        )

    def refuse(self, invocation: Invocation, why: str) -> None:
        reason = (
            f"{invocation.login} (Slack {self.asker.user_id}) may not run `{invocation.command}`"
            f" on {invocation.repo}: {why}."
        )
        text = render_slack(self.services.templates, "refused", reason=reason)
        self.refuse_with(invocation.command, text, repo=invocation.repo, shown=invocation.shown, reason=why)

    def refuse_with(self, command: str, text: str, *, repo: str | None, shown: str, reason: str) -> None:
        """A refusal (also one decided before any permission check: unknown deployment, unmapped
        user): the audit log says why, in ``reason``; ``text`` is the answer to the asker."""
        self.audit(
            f"slack.{command}",
            f"refused /gitops {shown}: {reason}",
            repo=repo,
            outcome="refused",
            details={"reason": reason},
        )
        self.answer(text)

    def acknowledge(self) -> None:
        """Nothing to do: the intake answered "Working on it…" within Slack's 3 seconds."""

    def answer(self, text: str) -> None:
        client = client_from_settings(self.services.settings)
        if client is None:
            self.log.warning(
                "slack_answer_dropped", reason="no GITOPS_BOT_SLACK_BOT_TOKEN", user=self.asker.user_id
            )
            return
        try:
            if self.response_url:
                try:
                    client.respond(
                        self.response_url, text=text, response_type="ephemeral", replace_original=False
                    )
                    return
                except SlackError as exc:
                    if self.channel is None:
                        raise
                    self.log.info("slack_response_url_failed", error=exc.message)
            if self.channel is not None:
                client.post_ephemeral(self.channel, self.asker.user_id, text=text)
        except SlackError as exc:
            self.log.warning("slack_answer_failed", error=exc.message, user=self.asker.user_id)
            self.services.audit(
                kind="slack.answer",
                actor=self.asker.actor,
                summary=f"the answer could not be delivered: {exc.message}",
                outcome="failed",
                event_id=self.asker.event_id,
            )


__all__ = [
    "Asker",
    "CommentReply",
    "Invocation",
    "Reply",
    "SlackReply",
    "Work",
    "execute",
    "render_slack",
]
