"""``/gitops`` in Slack and the thread buttons: who is asking, may they, and what happens.

The same rules as pull request comments: a Slack user acts as the GitHub login that the
repository's ``.gitops-bot.yaml`` maps them to (``users:``), and ``permissions:`` decides,
with the login's permission level and teams read from the forge (``bot.deployments.authorize``).
Every command, refused or run, is in the audit log with the Slack user.

The commands call the updates (``bot.updates``) and deployments (``bot.deployments``) services,
imported when used. Each returns the reply text; sending it is the handler's business.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jinja2
from sqlalchemy import select

from bot.commands import SlackRequest, SlackUsage, render_slack_reply
from bot.config.schema import RepoConfig
from bot.notify import blocks as bk
from bot.notify.render import PROMOTE_ACTION, ROLLBACK_ACTION, duration
from bot.services import Services
from bot.storage.models import Action, SlackThread

BUTTON_KIND = "slack.button"
# Outcomes after which the button did nothing, so pressing it again may act.
NOT_DONE = frozenset({"refused", "nothing_to_revert", "conflict"})


@dataclass(frozen=True)
class Asker:
    user_id: str
    user_name: str | None = None
    event_id: int | None = None

    @property
    def actor(self) -> str:
        name = f" (@{self.user_name})" if self.user_name else ""
        return f"slack:{self.user_id}{name}"


@dataclass(frozen=True)
class Target:
    repo: str
    config: RepoConfig


def render(templates: jinja2.Environment, name: str, **context: Any) -> str:
    context.setdefault("esc", lambda value: bk.escape(str(value or "")))
    context.setdefault("link", bk.link)
    context.setdefault("duration", duration)
    return templates.get_template(f"slack/replies/{name}.md.j2").render(**context).strip()


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
    def __init__(self, services: Services) -> None:
        self.services = services
        self.templates = services.templates

    # -- bookkeeping ---------------------------------------------------------------------------

    def _report(
        self,
        asker: Asker,
        kind: str,
        summary: str,
        outcome: Any,
        *,
        what: str,
        login: str,
        repo: str,
        deployment: str | None,
    ) -> str:
        """Audit what a command or button did, and word the answer to the Slack user."""
        self.audit(
            asker,
            kind,
            f"{summary}: {outcome.status}",
            repo=repo,
            target=deployment,
            outcome="done" if outcome.status != "refused" else "refused",
            details={"github_login": login, "status": outcome.status, "pr_url": outcome.pr_url},
        )
        return render(
            self.templates,
            "outcome",
            what=what,
            status=outcome.status,
            message=outcome.message,
            pr_url=outcome.pr_url,
            pr_number=outcome.pr_number,
        )

    def audit(self, asker: Asker, kind: str, summary: str, *, repo: str | None = None, **kw: Any) -> None:
        details = {
            "slack_user_id": asker.user_id,
            "slack_user_name": asker.user_name,
            **kw.pop("details", {}),
        }
        self.services.audit(
            kind=kind,
            actor=asker.actor,
            summary=summary,
            repo=repo,
            details=details,
            event_id=asker.event_id,
            **kw,
        )

    def _authorise(self, asker: Asker, target: Target, command: str) -> tuple[str | None, str | None]:
        """(login, None) when allowed, else (login or None, the refusal text)."""
        from bot.deployments.service import authorize

        login = _login(target, asker)
        if login is None:
            return None, render(self.templates, "unmapped", user_id=asker.user_id, repos=[target.repo])
        forge = self.services.forge_for_repo(target.repo)
        allowed, why = authorize(forge, target.repo, target.config, command, login)
        if allowed:
            return login, None
        reason = f"{login} (Slack {asker.user_id}) may not run `{command}` on {target.repo}: {why}."
        return login, render(self.templates, "refused", reason=reason)

    def _refuse(self, asker: Asker, command: str, text: str, repo: str | None, what: str) -> str:
        self.audit(asker, f"slack.{command}", f"refused /gitops {what}", repo=repo, outcome="refused")
        return text

    def _find(self, deployment: str) -> Target | None:
        for target in _configs(self.services):
            if any(d.name == deployment for d in target.config.deployments):
                return target
        return None

    # -- commands ------------------------------------------------------------------------------

    def run(self, asker: Asker, parsed: SlackRequest | SlackUsage) -> str:
        if isinstance(parsed, SlackUsage):
            self.audit(asker, "slack.help", f"/gitops help ({parsed.kind}: {parsed.message or 'help'})")
            return render_slack_reply(parsed, self.templates)
        if parsed.name == "help":
            return render_slack_reply(SlackUsage("help", "", None), self.templates)
        if parsed.name in ("deploy", "rollback"):
            return self._deployment_command(asker, parsed)
        if parsed.name == "status":
            return self._status(asker, parsed.deployment)
        if parsed.name == "locks":
            return self._locks(asker)
        return self._unlock(asker, parsed.lock_id or 0)

    def _deployment_command(self, asker: Asker, parsed: SlackRequest) -> str:
        assert parsed.deployment is not None
        what = f"{parsed.name} {parsed.deployment}" + (f" {parsed.version}" if parsed.version else "")
        target = self._find(parsed.deployment)
        if target is None:
            text = render(
                self.templates,
                "refused",
                reason=f"No repository configures a deployment named `{parsed.deployment}`.",
            )
            return self._refuse(asker, parsed.name, text, None, what)
        login, refusal = self._authorise(asker, target, parsed.name)
        if refusal is not None or login is None:
            return self._refuse(asker, parsed.name, refusal or "", target.repo, what)
        if parsed.name == "deploy":
            from bot.updates import propose_update
            from bot.updates.source import manual_source

            assert parsed.version is not None
            outcome = propose_update(
                self.services,
                repo=target.repo,
                deployment=parsed.deployment,
                version=parsed.version,
                source=manual_source(f"/gitops deploy in Slack by {login}", login),
                requested_by=login,
                explicit=True,
                lift_quarantine=True,
                event_id=asker.event_id,
            )
        else:
            from bot.deployments.service import request_rollback

            outcome = request_rollback(
                self.services,
                repo=target.repo,
                deployment=parsed.deployment,
                requested_by=login,
                reason=f"/gitops rollback in Slack by {login}",
            )
        return self._report(
            asker,
            f"slack.{parsed.name}",
            f"/gitops {what} as {login}",
            outcome,
            what=what,
            login=login,
            repo=target.repo,
            deployment=parsed.deployment,
        )

    def _readable(self, asker: Asker, command: str) -> tuple[list[Target], list[Target]]:
        """The repositories where the asker may run ``command``; and all the configured ones."""
        targets = _configs(self.services)
        return [t for t in targets if self._authorise(asker, t, command)[1] is None], targets

    def _no_repository(self, asker: Asker, command: str, targets: list[Target]) -> str:
        if not any(_login(t, asker) for t in targets):
            text = render(self.templates, "unmapped", user_id=asker.user_id, repos=[t.repo for t in targets])
        else:
            text = render(self.templates, "refused", reason=f"You may not run `{command}` on any repository.")
        return self._refuse(asker, command, text, None, command)

    def _status(self, asker: Asker, deployment: str | None) -> str:
        from bot.deployments.service import deployment_status

        allowed, targets = self._readable(asker, "status")
        if not allowed:
            return self._no_repository(asker, "status", targets)
        items = [
            item
            for target in allowed
            for item in deployment_status(self.services, repo=target.repo, deployment=deployment)
        ]
        self.audit(
            asker, "slack.status", f"/gitops status {deployment or ''}".strip() + f": {len(items)} shown"
        )
        return render(self.templates, "status", items=items, deployment=deployment)

    def _locks(self, asker: Asker) -> str:
        allowed, targets = self._readable(asker, "locks")
        if not allowed:
            return self._no_repository(asker, "locks", targets)
        locks = [lock for target in allowed for lock in self.services.locks.list(target.repo)]
        self.audit(asker, "slack.locks", f"/gitops locks: {len(locks)} shown")
        return render(self.templates, "locks", locks=locks)

    def _unlock(self, asker: Asker, lock_id: int) -> str:
        lock = self.services.locks.get(lock_id)
        what = f"unlock {lock_id}"
        target = next((t for t in _configs(self.services) if lock and t.repo == lock.key.repo), None)
        if lock is None or target is None:
            text = render(
                self.templates,
                "refused",
                reason=f"There is no lock `#{lock_id}`; `/gitops locks` lists them.",
            )
            return self._refuse(asker, "unlock", text, None, what)
        login, refusal = self._authorise(asker, target, "unlock")
        if refusal is not None:
            return self._refuse(asker, "unlock", refusal, target.repo, what)
        released = self.services.locks.release(lock_id) or lock
        self.audit(
            asker,
            "slack.unlock",
            f"/gitops {what} as {login}: released {released.key.describe()} held by #{released.pr_number}",
            repo=target.repo,
            target=f"lock:{lock_id}",
            details={"github_login": login},
        )
        return render(self.templates, "unlocked", lock=released)

    # -- buttons -------------------------------------------------------------------------------

    def press(self, asker: Asker, action_id: str, value: str | None) -> str:
        command = {ROLLBACK_ACTION: "rollback", PROMOTE_ACTION: "promote"}.get(action_id)
        try:
            data = bk.decode_value(value)
            repo, deployment, version = str(data["repo"]), str(data["deployment"]), str(data["version"])
        except (ValueError, KeyError) as exc:
            return self._refuse(
                asker,
                "button",
                render(self.templates, "refused", reason=f"Unusable button: {exc}"),
                None,
                action_id,
            )
        if command is None:
            text = render(self.templates, "refused", reason=f"Unknown button `{action_id}`.")
            return self._refuse(asker, "button", text, repo, action_id)
        what = f"{command} {deployment} {version} (button)"
        target = next((t for t in _configs(self.services) if t.repo == repo), None)
        if target is None:
            text = render(self.templates, "refused", reason=f"{repo} is not a configured GitOps repository.")
            return self._refuse(asker, command, text, repo, what)
        login, refusal = self._authorise(asker, target, command)
        if refusal is not None or login is None:
            return self._refuse(asker, command, refusal or "", repo, what)
        key = str(data.get("key") or f"{repo}:{deployment}:{version}")
        label = "Roll back now" if command == "rollback" else "Promote"
        button_target = f"{key}:{command}"
        # One press acts; the story's thread row is the mutex, the audit log the memory.
        with self.services.database.transaction() as session:
            session.scalars(select(SlackThread).where(SlackThread.key == key).with_for_update()).first()
            earlier = session.scalars(
                select(Action)
                .where(Action.kind == BUTTON_KIND, Action.target == button_target, Action.outcome == "done")
                .order_by(Action.id)
            ).first()
            claim: Action | None = None
            if earlier is None:
                claim = Action(
                    kind=BUTTON_KIND,
                    actor=asker.actor,
                    repo=repo,
                    target=button_target,
                    summary=f"{label} pressed by {login}",
                    outcome="done",
                    details={"github_login": login, "slack_user_id": asker.user_id},
                    event_id=asker.event_id,
                )
                session.add(claim)
                session.flush()
            claim_id = claim.id if claim is not None else None
        if earlier is not None:
            self.audit(
                asker,
                BUTTON_KIND,
                f"{label} pressed again: nothing done",
                repo=repo,
                target=button_target,
                outcome="duplicate",
            )
            return render(
                self.templates,
                "pressed",
                actor=earlier.actor,
                label=label,
                deployment=deployment,
                version=version,
                summary=earlier.summary,
            )
        if command == "rollback":
            from bot.deployments.service import request_rollback

            outcome: Any = request_rollback(
                self.services,
                repo=repo,
                deployment=deployment,
                requested_by=login,
                reason=f"“{label}” pressed in Slack by {login}",
            )
        else:
            from bot.updates import promote

            outcome = promote(
                self.services, repo=repo, from_deployment=deployment, version=version, requested_by=login
            )
        if outcome.status in NOT_DONE and claim_id is not None:
            # Nothing happened: the button stays usable (a later press may succeed).
            with self.services.database.transaction() as session:
                row = session.get(Action, claim_id)
                if row is not None:
                    row.outcome = "refused"
                    row.summary = f"{row.summary}: {outcome.status}"
        return self._report(
            asker,
            f"slack.{command}",
            f"{label} for {deployment} {version} as {login}",
            outcome,
            what=what,
            login=login,
            repo=repo,
            deployment=deployment,
        )
