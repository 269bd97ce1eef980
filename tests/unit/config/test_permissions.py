from __future__ import annotations

import pytest

from bot.config.permissions import CONFIG_LEVELS, LEVELS, at_least, authorize, decide, parse_rule, rule_for


@pytest.mark.parametrize(
    ("entries", "login", "level", "teams", "allowed"),
    [
        (["write"], "alice", "write", [], True),
        (["write"], "alice", "admin", [], True),
        (["write"], "alice", "triage", [], False),
        (["maintain"], "alice", "write", [], False),
        (["maintain", "write"], "alice", "write", [], True),  # the lowest level listed wins
        (["bob"], "Bob", "read", [], True),  # logins compare case-insensitively
        (["bob"], "alice", "admin", [], False),  # only named users, no level
        (["team:sre"], "alice", "read", ["SRE"], True),
        (["team:sre"], "alice", "read", ["ml"], False),
        ([], "alice", "admin", [], False),
        (["write"], "alice", "bogus", [], False),
        (["none"], "anyone", "none", [], True),
    ],
)
def test_decide(entries, login, level, teams, allowed) -> None:
    decision = decide(parse_rule(entries), login=login, level=level, member_of=teams)
    assert decision.allowed is allowed
    assert login in decision.reason


def test_refusal_says_what_is_needed() -> None:
    decision = decide(parse_rule(["maintain", "team:sre", "carol"]), login="alice", level="write")
    assert (
        decision.reason
        == "alice has write permission; this needs maintain permission or higher, team:sre, carol"
    )


def test_defaults_apply_to_unlisted_commands() -> None:
    assert rule_for("apply", {"plan": ["read"]}).min_level == "write"
    assert rule_for("plan", {"plan": ["read"]}).min_level == "read"
    assert rule_for("deploy", None).min_level == "maintain"


@pytest.mark.parametrize(
    ("command", "permissions", "login", "level", "teams", "allowed"),
    [
        ("apply", None, "alice", "write", [], True),  # the defaults: apply needs write
        ("apply", None, "alice", "triage", [], False),
        ("deploy", None, "alice", "write", [], False),  # deploy lifts quarantine: maintain
        ("deploy", None, "alice", "maintain", [], True),
        ("status", None, "alice", "read", [], True),
        ("status", None, "alice", "none", [], False),
        ("help", None, "anyone", "none", [], True),
        ("unknown", None, "alice", "write", [], False),  # an unknown command needs maintain
        ("apply", {"apply": ["team:sre"]}, "alice", "admin", [], False),  # configured: only the team
        ("apply", {"apply": ["team:sre"]}, "alice", "none", ["sre"], True),
        ("rollback", {"apply": ["bob"]}, "alice", "write", [], True),  # other commands keep defaults
        ("rollback", {"rollback": ["carol", "maintain"]}, "Carol", "read", [], True),
    ],
)
def test_authorize(command, permissions, login, level, teams, allowed) -> None:
    decision = authorize(command, permissions, login=login, level=level, member_of=teams)
    assert decision.allowed is allowed
    assert login in decision.reason


@pytest.mark.parametrize(
    ("level", "minimum", "expected"),
    [
        ("write", "write", True),
        ("admin", "write", True),
        ("maintain", "write", True),
        ("triage", "write", False),
        ("read", "write", False),
        ("none", "none", True),
        ("WRITE", "write", True),  # GitHub's legacy answers are lower case; be lenient anyway
        ("custom-role", "read", False),  # an unknown level counts as none
    ],
)
def test_at_least(level: str, minimum: str, expected: bool) -> None:
    assert at_least(level, minimum) is expected


def test_levels_are_declared_once() -> None:
    from bot.adapters.forge.port import PERMISSION_LEVELS as FORGE_LEVELS
    from bot.config import PERMISSION_LEVELS as CONFIG_ENTRY_LEVELS

    assert FORGE_LEVELS is LEVELS
    assert CONFIG_ENTRY_LEVELS is CONFIG_LEVELS and "none" not in CONFIG_LEVELS
