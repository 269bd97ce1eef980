from __future__ import annotations

import pytest

from bot.config.permissions import decide, parse_rule, rule_for


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
