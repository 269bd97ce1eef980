"""The one command runner: permission first, then the acknowledgement, the work and its answer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from bot.commands.execute import Invocation, execute
from tests.support.fake_forge import FakeForge

REPO = "acme/gitops"


@dataclass
class RecordingReply:
    events: list[tuple[str, str]] = field(default_factory=list)

    def refuse(self, invocation: Invocation, why: str) -> None:
        self.events.append(("refuse", why))

    def acknowledge(self) -> None:
        self.events.append(("acknowledge", ""))

    def answer(self, text: str) -> None:
        self.events.append(("answer", text))


@dataclass
class ForgeOnly:
    """All ``execute`` asks of the services: the forge of a repository."""

    forge: FakeForge

    def forge_for_repo(self, repo: str, installation_id: int | None = None) -> FakeForge:
        return self.forge


def run(
    forge: FakeForge, command: str, login: str, answer: str | None = "done", **options: Any
) -> tuple[bool, list[tuple[str, str]], list[str]]:
    worked: list[str] = []
    reply = RecordingReply()

    def work() -> str | None:
        worked.append(command)
        reply.events.append(("work", ""))
        return answer

    invocation = Invocation(command, REPO, None, login, f"/gitops {command}", work, **options)
    ran = execute(ForgeOnly(forge), invocation, reply)  # type: ignore[arg-type]
    return ran, reply.events, worked


@pytest.mark.parametrize(
    ("command", "level", "steps"),
    [
        ("rollback", "write", ["acknowledge", "work", "answer"]),
        ("rollback", "read", ["refuse"]),  # refused: never acknowledged, never run
        ("deploy", "write", ["refuse"]),
        ("deploy", "maintain", ["acknowledge", "work", "answer"]),
        ("status", "read", ["acknowledge", "work", "answer"]),
        ("status", "none", ["refuse"]),
    ],
)
def test_permission_comes_first(command: str, level: str, steps: list[str]) -> None:
    forge = FakeForge()
    forge.set_permission(REPO, "alice", level)
    ran, events, worked = run(forge, command, "alice")
    assert [step for step, _ in events] == steps
    assert ran is (steps[0] != "refuse") and bool(worked) is ran


def test_a_refusal_says_why() -> None:
    ran, events, _ = run(FakeForge(), "apply", "mallory")
    assert not ran
    assert events == [("refuse", "mallory has none permission; this needs write permission or higher")]


def test_work_that_answered_itself_sends_nothing_more() -> None:
    forge = FakeForge()
    forge.set_permission(REPO, "alice", "write")
    _, events, _ = run(forge, "plan", "alice", answer=None)
    assert [step for step, _ in events] == ["acknowledge", "work"]


def test_open_to_all_asks_the_forge_nothing() -> None:
    forge = FakeForge()
    ran, events, _ = run(forge, "status", "anyone", open_to_all=True)
    assert ran and [step for step, _ in events] == ["acknowledge", "work", "answer"]
    assert forge.calls == []


def test_teams_are_asked_only_when_the_rule_names_them() -> None:
    from bot.commands.authorization import authorize
    from bot.config import load_repo_config_bytes

    forge = FakeForge()
    forge.add_team_member("acme", "sre", "carol")
    config = load_repo_config_bytes(b"version: 1\npermissions:\n  apply: [team:sre]\n")
    assert authorize(forge, REPO, config, "apply", "carol") == (True, "carol is in team:sre")
    assert [call.method for call in forge.calls] == ["permission_level", "is_team_member"]
    forge.calls.clear()
    assert authorize(forge, REPO, None, "plan", "carol")[0] is False
    assert [call.method for call in forge.calls] == ["permission_level"]
