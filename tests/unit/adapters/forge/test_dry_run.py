"""The dry-run forge: every method of the Forge port is written out, reads delegate, writes refuse.

A method added to the port fails ``test_every_port_method_is_implemented_and_classified``
until ``DryRunForge`` implements it and this file says whether it reads or writes; the
behaviour test then holds the implementation to that word.
"""

from __future__ import annotations

import inspect
from typing import Any

import pytest

from bot.adapters.forge.dry_run import DryRunForge, DryRunViolation
from bot.adapters.forge.port import CommitState, CommitStatus, Forge, PullRequestSpec

READS = {
    "default_branch",
    "read_file",
    "get_pull_request",
    "list_changed_files",
    "list_open_pull_requests",
    "list_reviews",
    "review_summary",
    "permission_level",
    "is_team_member",
    "find_open_issue",
}
WRITES = {
    "open_or_update_pull_request",
    "close_pull_request",
    "merge_pull_request",
    "create_comment",
    "edit_comment",
    "add_reaction",
    "set_commit_status",
    "open_or_update_issue",
    "close_issue",
}

# A value for every required parameter of the port's methods, by name.
ARGUMENTS: dict[str, Any] = {
    "repo": "acme/gitops",
    "path": "values.yaml",
    "ref": "main",
    "number": 42,
    "spec": PullRequestSpec(head="gitops-bot/chat", base="main", title="Bump chat", body=""),
    "expected_head_sha": "abc123",
    "comment_id": 7,
    "body": "hello",
    "sha": "abc123",
    "status": CommitStatus(CommitState.SUCCESS, "gitops-bot/plan"),
    "org": "acme",
    "team_slug": "sre",
    "login": "bob",
    "title": "Drift in staging",
}


def port_methods() -> list[str]:
    return sorted(name for name, value in vars(Forge).items() if callable(value) and not name.startswith("_"))


class Recorder:
    """Answers every call with a marker and remembers it."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

    def __getattr__(self, name: str) -> Any:
        def record(*args: Any, **kwargs: Any) -> str:
            self.calls.append((name, args, kwargs))
            return f"answer of {name}"

        return record


def call_arguments(method: str) -> tuple[tuple[Any, ...], dict[str, Any]]:
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    for parameter in list(inspect.signature(getattr(Forge, method)).parameters.values())[1:]:
        if parameter.default is not inspect.Parameter.empty:
            continue
        if parameter.kind is inspect.Parameter.KEYWORD_ONLY:
            kwargs[parameter.name] = ARGUMENTS[parameter.name]
        else:
            args.append(ARGUMENTS[parameter.name])
    return tuple(args), kwargs


def bound(method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    """The call's arguments by name, defaults filled in: what the method was asked."""
    binding = inspect.signature(getattr(Forge, method)).bind(None, *args, **kwargs)
    binding.apply_defaults()
    return dict(binding.arguments)


def test_every_port_method_is_implemented_and_classified() -> None:
    methods = set(port_methods())
    assert methods == READS | WRITES, "classify the port's new methods as READS or WRITES here"
    assert not READS & WRITES
    # Written out in DryRunForge itself: an inherited protocol stub would silently return None.
    assert sorted(name for name in methods if name not in vars(DryRunForge)) == []


@pytest.mark.parametrize("method", port_methods())
def test_each_method_keeps_the_port_signature(method: str) -> None:
    assert inspect.signature(getattr(DryRunForge, method)) == inspect.signature(getattr(Forge, method))


@pytest.mark.parametrize("method", sorted(READS))
def test_reads_are_answered_by_the_wrapped_forge(method: str) -> None:
    inner = Recorder()
    args, kwargs = call_arguments(method)
    assert getattr(DryRunForge(inner), method)(*args, **kwargs) == f"answer of {method}"
    assert [name for name, _args, _kwargs in inner.calls] == [method]
    (_name, passed_args, passed_kwargs), *_ = inner.calls
    assert bound(method, passed_args, passed_kwargs) == bound(method, args, kwargs)


@pytest.mark.parametrize("method", sorted(WRITES))
def test_writes_are_refused_and_never_reach_the_forge(method: str) -> None:
    inner = Recorder()
    args, kwargs = call_arguments(method)
    with pytest.raises(DryRunViolation, match=rf"dry-run: {method} must be recorded"):
        getattr(DryRunForge(inner), method)(*args, **kwargs)
    assert inner.calls == []


def test_it_is_a_forge() -> None:
    assert isinstance(DryRunForge(Recorder()), Forge)
