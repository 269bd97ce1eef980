"""Who may run which command: the same rules for PR comments and Slack.

Pure decisions over facts the adapters gather (the user's permission level on the
repository and the teams they belong to), so they are tested with tables.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

LEVELS: tuple[str, ...] = ("none", "read", "triage", "write", "maintain", "admin")
"""GitHub repository permission levels, weakest first: the one list the bot knows them by."""

CONFIG_LEVELS: tuple[str, ...] = LEVELS[1:]
"""The levels a ``permissions:`` entry may name: "none" would admit anyone, so it is kept for
the built-in defaults (``help``) and never written in a repository's config."""

# Used for a command that `permissions:` in .gitops-bot.yaml does not mention.
DEFAULT_PERMISSIONS: Mapping[str, Sequence[str]] = {
    "plan": ("write",),
    "apply": ("write",),
    "unlock": ("write",),
    "rollback": ("write",),
    "promote": ("write",),
    "pause": ("write",),
    "resume": ("write",),
    "deploy": ("maintain",),
    "approve_policies": ("maintain",),
    "status": ("read",),
    "locks": ("read",),
    "help": ("none",),
}


@dataclass(frozen=True)
class Rule:
    logins: frozenset[str]
    teams: frozenset[str]
    min_level: str | None

    def describe(self) -> str:
        parts = []
        if self.min_level:
            parts.append(f"{self.min_level} permission or higher")
        parts += [f"team:{team}" for team in sorted(self.teams)]
        parts += sorted(self.logins)
        return ", ".join(parts) if parts else "nobody"


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str


def parse_rule(entries: Iterable[str]) -> Rule:
    """Entries are GitHub logins, ``team:<slug>``, or a permission level (lowest wins)."""
    logins: set[str] = set()
    teams: set[str] = set()
    levels: list[str] = []
    for entry in entries:
        value = entry.strip()
        if value.lower().startswith("team:"):
            teams.add(value[5:].strip().lower())
        elif value.lower() in LEVELS:
            levels.append(value.lower())
        elif value:
            logins.add(value.lower())
    min_level = min(levels, key=LEVELS.index) if levels else None
    return Rule(frozenset(logins), frozenset(teams), min_level)


def rule_for(command: str, permissions: Mapping[str, Sequence[str]] | object | None) -> Rule:
    """The rule for ``command`` from a mapping or the config's ``permissions:`` model."""
    if permissions is None:
        configured = None
    elif isinstance(permissions, Mapping):
        configured = permissions.get(command)
    else:
        configured = getattr(permissions, command, None)
    if configured is None:
        configured = DEFAULT_PERMISSIONS.get(command, ("maintain",))
    return parse_rule(configured)


def at_least(level: str, minimum: str) -> bool:
    """Whether ``level`` is ``minimum`` or higher; an unknown level counts as "none"."""
    normalised = level.lower() if level.lower() in LEVELS else "none"
    return LEVELS.index(normalised) >= LEVELS.index(minimum)


def decide(rule: Rule, *, login: str, level: str, member_of: Iterable[str] = ()) -> Decision:
    login_key = login.lower()
    if login_key in rule.logins:
        return Decision(True, f"{login} is listed by name")
    teams = {team.lower() for team in member_of} & rule.teams
    if teams:
        return Decision(True, f"{login} is in team:{sorted(teams)[0]}")
    normalised = level.lower() if level.lower() in LEVELS else "none"
    if rule.min_level is not None and at_least(normalised, rule.min_level):
        return Decision(True, f"{login} has {normalised} permission")
    return Decision(False, f"{login} has {normalised} permission; this needs {rule.describe()}")


def authorize(
    command: str,
    permissions: Mapping[str, Sequence[str]] | object | None,
    *,
    login: str,
    level: str,
    member_of: Iterable[str] = (),
) -> Decision:
    """May ``login`` run ``command``, given the repository's ``permissions:`` (or None: the
    defaults), the login's permission ``level`` and the teams it is known to be in.

    The same decision for PR comments and Slack; the caller gathers the facts from the forge
    (``bot.commands.authorization``), asking only about the teams the rule names."""
    return decide(rule_for(command, permissions), login=login, level=level, member_of=member_of)
