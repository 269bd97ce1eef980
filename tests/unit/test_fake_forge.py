"""The handler tests' FakeForge keeps up with the Forge port: every method, the same signature."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from bot.adapters.forge.port import (
    ChangeOutcome,
    CommitState,
    CommitStatus,
    Forge,
    ForgeNotFound,
    ForgeUnavailable,
    ForgeValidationError,
    MergeRefusal,
    PullRequestSpec,
)
from bot.services import build_services
from bot.settings import Settings
from tests.support.databases import sqlite_url
from tests.support.fake_forge import WRITE_METHODS, FakeForge, install_fake_forge

REPO = "acme/gitops"


def port_methods() -> list[str]:
    return sorted(name for name, value in vars(Forge).items() if inspect.isfunction(value) and name[0] != "_")


def test_the_port_has_methods_to_compare() -> None:
    assert {"read_file", "create_comment", "merge_pull_request", "permission_level"} <= set(port_methods())


@pytest.mark.parametrize("name", port_methods())
def test_fake_forge_implements_the_port_method_with_its_signature(name: str) -> None:
    ours = getattr(FakeForge, name, None)
    assert callable(ours), f"FakeForge lacks Forge.{name}"
    # Both modules use postponed annotations, so the annotations compare as the same strings.
    assert inspect.signature(ours) == inspect.signature(getattr(Forge, name))


def test_fake_forge_is_a_forge() -> None:
    assert isinstance(FakeForge(), Forge)


def test_write_methods_are_port_methods() -> None:
    assert set(port_methods()) >= WRITE_METHODS


def test_every_call_is_recorded_by_parameter_name() -> None:
    forge = FakeForge()
    forge.add_repo(REPO, {"a.txt": "hello"})
    assert forge.read_file(REPO, "a.txt", "main") == b"hello"
    assert forge.read_file(REPO, "missing", "main") is None
    comment = forge.create_comment(REPO, 7, "hi")
    forge.add_reaction(REPO, comment.id)
    assert [call.method for call in forge.calls] == [
        "read_file",
        "read_file",
        "create_comment",
        "add_reaction",
    ]
    assert forge.calls[2]["body"] == "hi" and forge.calls[3]["reaction"] == "eyes"
    assert [call.method for call in forge.writes] == ["create_comment", "add_reaction"]
    assert forge.comment_bodies(REPO, 7) == ["hi"]


def test_pull_requests_open_update_merge_and_close() -> None:
    forge = FakeForge()
    forge.add_repo(REPO)
    spec = PullRequestSpec(head="gitops-bot/x", base="main", title="Bump x", body="b", labels=("a",))
    opened = forge.open_or_update_pull_request(REPO, spec)
    assert opened.outcome == ChangeOutcome.CREATED and opened.pull_request.number == 1
    again = forge.open_or_update_pull_request(REPO, spec)
    assert again.outcome == ChangeOutcome.UNCHANGED
    updated = forge.open_or_update_pull_request(REPO, PullRequestSpec("gitops-bot/x", "main", "Bump y", "b"))
    assert updated.outcome == ChangeOutcome.UPDATED and updated.pull_request.labels == ("a",)
    assert [pr.number for pr in forge.list_open_pull_requests(REPO, head_prefix="gitops-bot/")] == [1]

    moved = forge.merge_pull_request(REPO, 1, expected_head_sha="0" * 40)
    assert not moved.merged and moved.refusal == MergeRefusal.HEAD_MOVED
    head = forge.get_pull_request(REPO, 1).head_sha
    merged = forge.merge_pull_request(REPO, 1, expected_head_sha=head)
    assert merged.merged and forge.get_pull_request(REPO, 1).merge_commit_sha == merged.sha
    assert forge.merge_pull_request(REPO, 1, expected_head_sha=head).refusal == MergeRefusal.ALREADY_MERGED

    forge.add_pull_request(REPO, 2)
    forge.close_pull_request(REPO, 2, comment="superseded")
    assert not forge.get_pull_request(REPO, 2).is_open and forge.comment_bodies(REPO, 2) == ["superseded"]
    with pytest.raises(ForgeNotFound):
        forge.get_pull_request(REPO, 3)


def test_reviews_permissions_teams_and_statuses() -> None:
    forge = FakeForge()
    forge.add_pull_request(REPO, 5, author="alice")
    forge.add_review(REPO, 5, "alice", "APPROVED")  # the author's own review never counts
    forge.add_review(REPO, 5, "bob", "APPROVED")
    assert forge.review_summary(REPO, 5).approved_by == ("bob",)
    forge.set_permission(REPO, "Bob", "write")
    assert forge.permission_level(REPO, "bob") == "write"
    assert forge.permission_level(REPO, "mallory") == "none"
    forge.add_team_member("acme", "sre", "carol")
    assert forge.is_team_member("acme", "SRE", "Carol") and not forge.is_team_member("acme", "sre", "bob")
    forge.set_commit_status(REPO, "abc", CommitStatus(CommitState.SUCCESS, "gitops-bot/plan"))
    assert forge.statuses[0].status.context == "gitops-bot/plan"
    with pytest.raises(ForgeValidationError):
        forge.set_commit_status(REPO, "abc", CommitStatus(CommitState.FAILURE, "c", description="x" * 141))
    with pytest.raises(ForgeValidationError):
        forge.create_comment(REPO, 5, "x" * 70_000)


def test_an_injected_failure_is_raised_once() -> None:
    forge = FakeForge()
    forge.fail_next("default_branch", ForgeUnavailable("down", status=502))
    with pytest.raises(ForgeUnavailable):
        forge.default_branch(REPO)
    assert forge.default_branch(REPO) == "main"
    assert len(forge.calls_to("default_branch")) == 2


def test_services_hand_out_the_fake_and_guard_it_in_dry_run(tmp_path: Path) -> None:
    for dry_run in (False, True):
        settings = Settings(
            _env_file=None, database_url=sqlite_url(tmp_path), github_token="fake-token", dry_run=dry_run
        )
        services = build_services(settings)
        try:
            fake = install_fake_forge(services)
            forge = services.forge_for_repo(REPO, 31415926)
            assert forge.default_branch(REPO) == "main"
            if dry_run:
                with pytest.raises(Exception, match="dry-run"):
                    forge.create_comment(REPO, 1, "not in dry-run")
                assert fake.writes == []
            else:
                assert forge is fake
        finally:
            services.close()
