"""``/gitops`` in Slack and the thread buttons: who is asking, on which repository, and the work.

The same rules as pull request comments: a Slack user acts as the GitHub login that the
repository's ``.gitops-bot.yaml`` maps them to (``users:``), and ``permissions:`` decides
(``bot.config.permissions``, with the facts from ``bot.commands.authorization``). A command on
one repository runs through :func:`bot.commands.execute.execute`; ``status`` and ``locks`` read
every repository the asker may read, so there permission filters rather than refuses. Every
command, refused or run, is in the audit log with the Slack user; answers go through the
:class:`~bot.commands.execute.SlackReply`.

The commands call the updates (``bot.updates``) and deployments (``bot.deployments``) services,
imported when used.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bot import reasons
from bot.commands.authorization import authorize
from bot.commands.execute import Asker, Invocation, SlackReply, execute, render_slack
from bot.commands.render import render_slack_reply
from bot.commands.slack import SlackRequest, SlackUsage
from bot.commands.slack_buttons import BUTTON_KIND, NOT_DONE, Press, claim_press, release_press
from bot.commands.slack_ladder import climbing_for, press_ladder
from bot.config.schema import RepoConfig
from bot.notify import blocks as bk
from bot.notify.render import PAUSE_ACTION, PROMOTE_ACTION, RESUME_ACTION, ROLLBACK_ACTION

if TYPE_CHECKING:
    from bot.deployments.ladder_control import Climbing
    from bot.services import Services


@dataclass(frozen=True)
class Target:
    repo: str
    config: RepoConfig


def _configs(services: Services) -> list[Target]:
    targets = []
    for repo in services.settings.gitops_repos:
        loaded = services.repo_config(repo)
        if loaded.config is not None:
            targets.append(Target(repo, loaded.config))
    return targets


def _login(target: Target, asker: Asker) -> str | None:
    return target.config.github_login(asker.user_id)


class SlackCommands:
    def __init__(self, services: Services, reply: SlackReply) -> None:
        self.services = services
        self.templates = services.templates
        self.reply = reply
        self.asker = reply.asker

    def _render(self, name: str, **context: Any) -> str:
        return render_slack(self.templates, name, **context)

    def _refuse(self, command: str, reason: str, repo: str | None, shown: str) -> None:
        text = self._render("refused", reason=reason)
        self.reply.refuse_with(command, text, repo=repo, shown=shown, reason=reason)

    def _refuse_unmapped(self, command: str, repos: list[str], repo: str | None, shown: str) -> None:
        text = self._render("unmapped", user_id=self.asker.user_id, repos=repos)
        where = ", ".join(repos) if repos else "any configured repository"
        reason = f"Slack user {self.asker.user_id} is not in `users:` of {where}'s .gitops-bot.yaml"
        self.reply.refuse_with(command, text, repo=repo, shown=shown, reason=reason)

    def _execute(self, target: Target, command: str, shown: str, work: Callable[[str], str]) -> None:
        """Run ``work(login)`` on ``target`` through the one runner, as the asker's GitHub login."""
        login = _login(target, self.asker)
        if login is None:
            self._refuse_unmapped(command, [target.repo], target.repo, shown)
            return
        invocation = Invocation(command, target.repo, target.config, login, shown, work=lambda: work(login))
        execute(self.services, invocation, self.reply)

    def _report(
        self, kind: str, summary: str, outcome: Any, *, what: str, login: str, repo: str, deployment: str
    ) -> str:
        """Audit what a command or button did, and word the answer to the Slack user."""
        refused = outcome.status == "refused"
        details = {"github_login": login, "status": outcome.status, "pr_url": outcome.pr_url}
        self.reply.audit(
            kind,
            f"{summary}: {outcome.status}" + (f": {outcome.message}" if refused else ""),
            repo=repo,
            target=deployment,
            outcome="refused" if refused else "done",
            details={**details, "reason": outcome.message} if refused else details,
        )
        return self._render(
            "outcome",
            what=what,
            status=outcome.status,
            message=outcome.message,
            pr_url=outcome.pr_url,
            pr_number=outcome.pr_number,
        )

    # -- commands ------------------------------------------------------------------------------

    def run(self, parsed: SlackRequest | SlackUsage) -> None:
        if isinstance(parsed, SlackUsage):
            self.reply.audit("slack.help", f"/gitops help ({parsed.kind}: {parsed.message or 'help'})")
            self.reply.answer(render_slack_reply(parsed, self.templates))
        elif parsed.name == "help":
            self.reply.answer(render_slack_reply(SlackUsage("help", "", None), self.templates))
        elif parsed.name in ("deploy", "rollback"):
            self._deployment_command(parsed)
        elif parsed.name == "status":
            self._status(parsed.deployment)
        elif parsed.name == "locks":
            self._locks()
        else:
            self._unlock(parsed.lock_id or 0)

    def _deployment_command(self, parsed: SlackRequest) -> None:
        assert parsed.deployment is not None
        what = f"{parsed.name} {parsed.deployment}" + (f" {parsed.version}" if parsed.version else "")
        target = next(
            (
                t
                for t in _configs(self.services)
                if any(d.name == parsed.deployment for d in t.config.deployments)
            ),
            None,
        )
        if target is None:
            self._refuse(parsed.name, self._no_deployment_reason(parsed.deployment), None, what)
            return

        def work(login: str) -> str:
            outcome = (
                self._deploy(target, parsed, login)
                if parsed.name == "deploy"
                else self._roll_back(target, parsed, login)
            )
            return self._report(
                f"slack.{parsed.name}",
                f"/gitops {what} as {login}",
                outcome,
                what=what,
                login=login,
                repo=target.repo,
                deployment=parsed.deployment or "",
            )

        self._execute(target, parsed.name, what, work)

    def _no_deployment_reason(self, deployment: str) -> str:
        if not self.services.settings.gitops_repos:
            return f"No repository configures `{deployment}`: {reasons.no_gitops_repos().reason}."
        return f"No repository configures a deployment named `{deployment}`."

    def _deploy(self, target: Target, parsed: SlackRequest, login: str) -> Any:
        from bot.updates.propose import propose_update
        from bot.updates.source import manual_source

        assert parsed.deployment is not None and parsed.version is not None
        return propose_update(
            self.services,
            repo=target.repo,
            deployment=parsed.deployment,
            version=parsed.version,
            source=manual_source(f"/gitops deploy in Slack by {login}", login),
            requested_by=login,
            explicit=True,
            lift_quarantine=True,
            event_id=self.asker.event_id,
        )

    def _roll_back(self, target: Target, parsed: SlackRequest, login: str) -> Any:
        from bot.deployments.rollback import request_rollback

        return request_rollback(
            self.services,
            repo=target.repo,
            deployment=parsed.deployment,
            requested_by=login,
            reason=f"/gitops rollback in Slack by {login}",
        )

    def _readable(self, command: str) -> tuple[list[Target], list[Target]]:
        """The repositories where the asker may run ``command``; and all the configured ones."""
        targets = _configs(self.services)
        allowed = []
        for target in targets:
            login = _login(target, self.asker)
            if login is None:
                continue
            forge = self.services.forge_for_repo(target.repo)
            if authorize(forge, target.repo, target.config, command, login)[0]:
                allowed.append(target)
        return allowed, targets

    def _no_repository(self, command: str, targets: list[Target]) -> None:
        if not targets and not self.services.settings.gitops_repos:
            self._refuse(command, f"Nothing to show: {reasons.no_gitops_repos().reason}.", None, command)
        elif not any(_login(t, self.asker) for t in targets):
            self._refuse_unmapped(command, [t.repo for t in targets], None, command)
        else:
            self._refuse(command, f"You may not run `{command}` on any repository.", None, command)

    def _status(self, deployment: str | None) -> None:
        from bot.deployments.status import deployment_status

        allowed, targets = self._readable("status")
        if not allowed:
            self._no_repository("status", targets)
            return
        items = [
            item
            for target in allowed
            for item in deployment_status(self.services, repo=target.repo, deployment=deployment)
        ]
        self.reply.audit(
            "slack.status", f"/gitops status {deployment or ''}".strip() + f": {len(items)} shown"
        )
        self.reply.answer(self._render("status", items=items, deployment=deployment))

    def _locks(self) -> None:
        allowed, targets = self._readable("locks")
        if not allowed:
            self._no_repository("locks", targets)
            return
        locks = [lock for target in allowed for lock in self.services.locks.list(target.repo)]
        self.reply.audit("slack.locks", f"/gitops locks: {len(locks)} shown")
        self.reply.answer(self._render("locks", locks=locks))

    def _unlock(self, lock_id: int) -> None:
        lock = self.services.locks.get(lock_id)
        what = f"unlock {lock_id}"
        target = next((t for t in _configs(self.services) if lock and t.repo == lock.key.repo), None)
        if lock is None or target is None:
            self._refuse("unlock", f"There is no lock `#{lock_id}`; `/gitops locks` lists them.", None, what)
            return

        def work(login: str) -> str:
            released = self.services.locks.release(lock_id) or lock
            held = f"released {released.key.describe()} held by #{released.pr_number}"
            self.reply.audit(
                "slack.unlock",
                f"/gitops {what} as {login}: {held}",
                repo=target.repo,
                target=f"lock:{lock_id}",
                details={"github_login": login},
            )
            return self._render("unlocked", lock=released)

        self._execute(target, "unlock", what, work)

    # -- buttons -------------------------------------------------------------------------------

    def press(self, action_id: str, value: str | None) -> None:
        command = {
            ROLLBACK_ACTION: "rollback",
            PROMOTE_ACTION: "promote",
            PAUSE_ACTION: "pause",
            RESUME_ACTION: "resume",
        }.get(action_id)
        try:
            data = bk.decode_value(value)
            repo, deployment, version = str(data["repo"]), str(data["deployment"]), str(data["version"])
        except (ValueError, KeyError) as exc:
            self._refuse("button", f"Unusable button: {exc}", None, action_id)
            return
        if command is None:
            self._refuse("button", f"Unknown button `{action_id}`.", repo, action_id)
            return
        what = f"{command} {deployment} {version} (button)"
        target = next((t for t in _configs(self.services) if t.repo == repo), None)
        if target is None:
            self._refuse(command, f"{repo} is not a configured GitOps repository.", repo, what)
            return
        key = str(data.get("key") or f"{repo}:{deployment}:{version}")
        pressed = Press(command, repo, deployment, version, key)
        climbing = climbing_for(self.services, command, repo, deployment, version)
        if climbing is not None:
            self._execute(
                target, command, what, lambda login: self._on_ladder(pressed, climbing, login, what)
            )
            return
        if command in ("pause", "resume"):
            self._refuse(command, f"{deployment} {version} has no canary climbing traffic steps.", repo, what)
            return
        self._execute(target, command, what, lambda login: self._act_once(pressed, login, what))

    def _on_ladder(self, pressed: Press, climbing: Climbing, login: str, what: str) -> str:
        outcome = press_ladder(self.services, climbing, pressed.command, login)
        summary = f"{pressed.command} {pressed.deployment} {pressed.version} as {login}"
        return self._report(
            f"slack.{pressed.command}", summary, outcome, what=what, login=login, repo=pressed.repo,
            deployment=pressed.deployment,
        )  # fmt: skip

    def _act_once(self, pressed: Press, login: str, what: str) -> str:
        """One press acts; the story's thread row is the mutex, the audit log the memory."""
        earlier, claim_id = claim_press(self.services.database, pressed, self.asker, login)
        if earlier is not None:
            self.reply.audit(
                BUTTON_KIND,
                f"{pressed.label} pressed again: nothing done",
                repo=pressed.repo,
                target=pressed.target,
                outcome="duplicate",
            )
            return self._render(
                "pressed",
                actor=earlier.actor,
                label=pressed.label,
                deployment=pressed.deployment,
                version=pressed.version,
                summary=earlier.summary,
            )
        outcome = self._pressed_work(pressed, login)
        if outcome.status in NOT_DONE and claim_id is not None:
            release_press(self.services.database, claim_id, outcome.status, outcome.message)
        return self._report(
            f"slack.{pressed.command}",
            f"{pressed.label} for {pressed.deployment} {pressed.version} as {login}",
            outcome,
            what=what,
            login=login,
            repo=pressed.repo,
            deployment=pressed.deployment,
        )

    def _pressed_work(self, pressed: Press, login: str) -> Any:
        if pressed.command == "rollback":
            from bot.deployments.rollback import request_rollback

            return request_rollback(
                self.services,
                repo=pressed.repo,
                deployment=pressed.deployment,
                requested_by=login,
                reason=f"“{pressed.label}” pressed in Slack by {login}",
            )
        from bot.updates.service import promote

        return promote(
            self.services,
            repo=pressed.repo,
            from_deployment=pressed.deployment,
            version=pressed.version,
            requested_by=login,
        )


__all__ = ["SlackCommands", "Target"]
