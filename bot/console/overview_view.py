"""What the overview (``/``) shows, decided without I/O: which deployments belong together (a
promotion chain, staging → prod), each one's environment, what runs now and what ran before, its
state, and the pages of groups, newest first.

"Every deployment" is every deployment a GitOps repository's ``.gitops-bot.yaml`` configures, and
every one the bot recorded a merge for (a deployment removed from the config keeps its history).
The environment is the end of a deployment's name when it names one (``chat-llm-staging``,
``chat-llm-prod``); the promotion chain (``promote: {to: …}``) orders a group's rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from bot.deployments import plan as plans
from bot.pagination import Cursor, PageRequest

# Name endings read as an environment (``chat-llm-prod``): shown as written.
ENVIRONMENTS = frozenset(
    {
        "dev", "development", "test", "testing", "qa", "uat", "sandbox", "staging", "stage", "stg",
        "preprod", "canary", "prod", "production", "prd", "live",
    }
)  # fmt: skip
_SEPARATORS = "-_."
# Groups nobody deployed yet sort after every deployed one, in name order.
NEVER = datetime(1970, 1, 1, tzinfo=UTC)


def environment_of(name: str) -> str | None:
    """The environment a deployment's name ends with, or None."""
    for separator in _SEPARATORS:
        stem, found, suffix = name.rpartition(separator)
        if found and stem and suffix.lower() in ENVIRONMENTS:
            return suffix
    return None


def stem_of(name: str) -> str:
    """The name without its environment: what the deployments of one chain share."""
    environment = environment_of(name)
    return name[: -len(environment) - 1] if environment else name


@dataclass(frozen=True)
class Configured:
    """A deployment as a repository's ``.gitops-bot.yaml`` configures it."""

    repo: str
    name: str
    promote_to: str | None = None
    index: int = 0  # its place in the config
    canary: bool = False


@dataclass(frozen=True)
class Newest:
    """The newest ``deployments`` row of a deployment: the last merge that changed its version."""

    id: int
    repo: str
    name: str
    version: str
    previous_version: str | None
    status: str
    merged_at: datetime
    pr_number: int | None = None
    pr_url: str | None = None
    rollback_pr_number: int | None = None
    rollback_pr_url: str | None = None
    rolled_back_at: datetime | None = None


@dataclass(frozen=True)
class Member:
    """One deployment of a group, in chain order."""

    repo: str
    name: str
    depth: int  # 0 for the first stage of a promotion chain
    configured: bool
    promote_to: str | None = None
    canary: bool = False


@dataclass(frozen=True)
class Group:
    """Deployments that promote into each other (or one alone): the overview's unit, and its page key."""

    repo: str
    app: str
    members: tuple[Member, ...]
    key: Cursor

    def names(self) -> list[str]:
        return [member.name for member in self.members]


def _components(configured: Sequence[Configured]) -> list[list[Configured]]:
    """The deployments of one repository joined by ``promote.to``, each in config order."""
    parent = {item.name: item.name for item in configured}

    def root(name: str) -> str:
        while parent[name] != name:
            parent[name] = parent[parent[name]]
            name = parent[name]
        return name

    for item in configured:
        if item.promote_to in parent:
            parent[root(item.name)] = root(item.promote_to)
    joined: dict[str, list[Configured]] = {}
    for item in configured:
        joined.setdefault(root(item.name), []).append(item)
    return list(joined.values())


def _depths(component: Sequence[Configured]) -> dict[str, int]:
    """How many promotions lead to each deployment at most (the config refuses loops)."""
    depth = {item.name: 0 for item in component}
    for _ in component:  # longest paths in a graph without cycles: |V| rounds suffice
        for item in component:
            if item.promote_to in depth:
                depth[item.promote_to] = max(depth[item.promote_to], depth[item.name] + 1)
    return depth


def _app_name(names: Sequence[str]) -> str:
    stems = [stem_of(name) for name in names]
    return max(dict.fromkeys(stems), key=stems.count)  # the commonest stem, the first on a tie


def groups(configured: Iterable[Configured], newest: Iterable[Newest]) -> list[Group]:
    """Every deployment in its group, groups newest first: the group whose newest row merged last
    comes first; groups never deployed follow, by repository and name."""
    by_repo: dict[str, list[Configured]] = {}
    for item in configured:
        by_repo.setdefault(item.repo, []).append(item)
    rows = {(row.repo, row.name): row for row in newest}
    found: list[tuple[str, str, tuple[Member, ...]]] = []
    for repo, items in by_repo.items():
        for component in _components(items):
            depth = _depths(component)
            ordered = sorted(component, key=lambda item: (depth[item.name], item.index))
            members = tuple(
                Member(repo, item.name, depth[item.name], True, item.promote_to, item.canary)
                for item in ordered
            )
            found.append((repo, _app_name([m.name for m in members]), members))
    known = {(repo, member.name) for repo, _app, members in found for member in members}
    for repo, name in sorted(rows):
        if (repo, name) not in known:  # recorded, but no longer configured
            found.append((repo, stem_of(name), (Member(repo, name, 0, False),)))
    keyed: list[Group] = []
    never: list[tuple[str, str, tuple[Member, ...]]] = []
    for repo, app, members in found:
        recorded = [rows[(repo, m.name)] for m in members if (repo, m.name) in rows]
        if recorded:
            last = max(recorded, key=lambda row: (row.merged_at, row.id))
            keyed.append(Group(repo, app, members, Cursor(last.merged_at, last.id)))
        else:
            never.append((repo, app, members))
    never.sort(key=lambda item: (item[0], item[1], item[2][0].name))
    keyed.extend(
        Group(repo, app, members, Cursor(NEVER, len(never) - position))
        for position, (repo, app, members) in enumerate(never)
    )
    keyed.sort(key=lambda group: (group.key.at, group.key.id), reverse=True)
    return keyed


def page_of(all_groups: Sequence[Group], page: PageRequest) -> tuple[list[Group], Cursor | None]:
    """The groups after the cursor, at most ``page.limit``; the last one's key when more follow."""
    after = page.after
    start = [
        group for group in all_groups if after is None or (group.key.at, group.key.id) < (after.at, after.id)
    ]
    shown = start[: page.limit]
    return shown, shown[-1].key if len(start) > page.limit else None


# --------------------------------------------------------------------------- one deployment's row


@dataclass(frozen=True)
class Progress:
    """Where the newest version's canary analysis is."""

    analysis_id: int
    status: str
    measured: int
    expected: int
    failed: int = 0
    inconclusive: int = 0
    step: str | None = None
    """With traffic steps: the step it is on (``step 2/3 (50%)``)."""


@dataclass(frozen=True)
class OpenPull:
    """A pull request of the bot's still open for a deployment."""

    number: int
    url: str | None
    version: str
    kind: str  # update | promotion | revert


@dataclass(frozen=True)
class Quarantined:
    version: str
    reason: str
    at: datetime
    by: str


@dataclass(frozen=True)
class Change:
    """The last thing done to a deployment, from the audit log: when, what, who."""

    at: datetime
    kind: str
    actor: str
    summary: str
    outcome: str


@dataclass(frozen=True)
class Facts:
    """What the database knows of one deployment beyond its newest row."""

    newest: Newest | None = None
    progress: Progress | None = None
    pulls: tuple[OpenPull, ...] = ()
    quarantined: tuple[Quarantined, ...] = ()
    change: Change | None = None


@dataclass(frozen=True)
class State:
    name: str  # the CSS class and the JSON value
    label: str
    detail: str = ""


STATE_LABELS = {
    plans.ANALYSING: "analysing",
    plans.PASSED: "passed",
    plans.FAILED: "failed",
    plans.INCONCLUSIVE: "inconclusive",
    plans.ROLLING_BACK: "rolling back",
    plans.ROLLED_BACK: "rolled back",
    plans.SUPERSEDED: "superseded",
    plans.RECORDED: "deployed",
}


def progress_text(progress: Progress) -> str:
    step = f"{progress.step}: " if progress.step else ""
    if progress.status == "waiting_rollout":
        return f"{step}waiting for the rollout"
    if progress.status in ("paused", "stepping"):
        return f"{step}paused" if progress.status == "paused" else f"{step}passed, committing the next step"
    text = f"{step}{progress.measured} of {progress.expected} intervals"
    bad = [
        f"{n} {what}"
        for n, what in ((progress.failed, "failed"), (progress.inconclusive, "inconclusive"))
        if n
    ]
    return text + (f" ({', '.join(bad)})" if bad else "")


def state_of(facts: Facts) -> State:
    """The newest version's state: analysing (with its progress), passed, failed, inconclusive,
    rolling back, rolled back, quarantined (rolled back and held off), or deployed (no canary)."""
    newest = facts.newest
    if newest is None:
        return State("none", "not deployed yet", "no merge recorded by the bot")
    status = newest.status
    if status == plans.ROLLED_BACK:
        held = any(item.version == newest.version for item in facts.quarantined)
        name = "quarantined" if held else "rolled_back"
        return State(name, "quarantined" if held else "rolled back", f"{newest.version} rolled back")
    if status == plans.ROLLING_BACK:
        return State(status, STATE_LABELS[status], f"{newest.version} being reverted")
    if status == plans.ANALYSING:
        detail = progress_text(facts.progress) if facts.progress else "canary analysis"
        return State(status, STATE_LABELS[status], detail)
    if status == plans.RECORDED:
        return State("deployed", STATE_LABELS[status], "no canary section: not analysed")
    return State(status, STATE_LABELS.get(status, status.replace("_", " ")))


def running_versions(newest: Newest | None) -> tuple[str | None, str | None]:
    """(what runs now, what ran before it). After a rollback the revert brought the previous
    version back: it runs, and the rolled-back one is what ran before."""
    if newest is None:
        return None, None
    if newest.status == plans.ROLLED_BACK:
        return newest.previous_version, newest.version
    return newest.version, newest.previous_version


def deployment_path(repo: str, name: str) -> str:
    """``/deployments/owner/repo/name``; a GitLab project keeps its groups (``gitlab:group/sub/project``)."""
    return "/deployments/" + "/".join(quote(part, safe="") for part in (*repo.split("/"), name))


def _at(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


@dataclass(frozen=True)
class Row:
    """One deployment in one environment, as the overview shows it."""

    member: Member
    app: str
    environment: str | None
    version: str | None
    previous_version: str | None
    state: State
    facts: Facts = field(default_factory=Facts)

    @property
    def href(self) -> str:
        return deployment_path(self.member.repo, self.member.name)

    def to_json(self) -> dict[str, Any]:
        facts, newest = self.facts, self.facts.newest
        progress = facts.progress
        return {
            "repo": self.member.repo,
            "name": self.member.name,
            "app": self.app,
            "environment": self.environment,
            "stage": self.member.depth,
            "configured": self.member.configured,
            "promote_to": self.member.promote_to,
            "version": self.version,
            "previous_version": self.previous_version,
            "state": self.state.name,
            "state_detail": self.state.detail,
            "deployment_id": newest.id if newest else None,
            "merged_at": _at(newest.merged_at) if newest else None,
            "pull_request": {"number": newest.pr_number, "url": newest.pr_url} if newest else None,
            "progress": None if progress is None else {
                "analysis_id": progress.analysis_id, "status": progress.status,
                "measured": progress.measured, "expected": progress.expected,
                "failed": progress.failed, "inconclusive": progress.inconclusive,
            },
            "open_pull_requests": [
                {"number": p.number, "url": p.url, "version": p.version, "kind": p.kind} for p in facts.pulls
            ],
            "quarantined": [
                {"version": q.version, "reason": q.reason, "by": q.by, "at": q.at.isoformat()}
                for q in facts.quarantined
            ],
            "last_change": None if facts.change is None else {
                "at": facts.change.at.isoformat(), "kind": facts.change.kind, "actor": facts.change.actor,
                "summary": facts.change.summary, "outcome": facts.change.outcome,
            },
            "href": self.href,
        }  # fmt: skip


def row_of(member: Member, app: str, facts: Facts) -> Row:
    version, previous = running_versions(facts.newest)
    return Row(member, app, environment_of(member.name), version, previous, state_of(facts), facts)


def group_rows(group: Group, facts: Mapping[tuple[str, str], Facts]) -> list[Row]:
    return [row_of(m, group.app, facts.get((m.repo, m.name), Facts())) for m in group.members]


def group_json(group: Group, rows: Sequence[Row]) -> dict[str, Any]:
    return {"repo": group.repo, "app": group.app, "deployments": [row.to_json() for row in rows]}


__all__ = [
    "Change",
    "Configured",
    "Facts",
    "Group",
    "Member",
    "Newest",
    "OpenPull",
    "Progress",
    "Quarantined",
    "Row",
    "State",
    "deployment_path",
    "environment_of",
    "group_json",
    "group_rows",
    "groups",
    "page_of",
    "progress_text",
    "row_of",
    "running_versions",
    "state_of",
    "stem_of",
]
