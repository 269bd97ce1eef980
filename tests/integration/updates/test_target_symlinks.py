"""Target files behind symbolic links that leave the repository: refused, recorded, never followed.

Before, a target committed as a symlink to a file outside the repository made the contents API
answer "symlink", the forge raised, and the update job was retried until ``dead`` with nothing
said to anyone. The refusal is now an audited ``update.propose`` like every other one.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.updates.branch import push_branch
from bot.updates.plan import UpdatePlan, plan_update
from bot.updates.targets import UnsafeTarget, escaping_symlink, read_targets
from tests.integration.updates.conftest import DIGEST, REPO
from tests.support.botenv import BotEnv, distribution_push
from tests.support.github_standin_git import SymlinkTo

TARGET = "apps/chat-llm/values-staging.yaml"
SECRET = "secret-that-must-stay-outside: 1\nimage:\n  tag: '1.2.0'\n"


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A file outside every repository that would be a perfectly editable values file."""
    path = tmp_path / "outside" / "values-staging.yaml"
    path.parent.mkdir()
    path.write_text(SECRET)
    return path


def _push_and_refusal(env: BotEnv) -> dict[str, object]:
    assert env.post_registry(distribution_push("serving/chat-llm", "1.3.0", DIGEST)) == 202
    env.run_jobs()  # fails the test when a job fails (it would be retried until dead)
    assert env.standin.pulls(REPO) == []
    assert env.standin.branch_sha(REPO, "gitops-bot/chat-llm-staging/1.3.0") is None
    (action,) = [a for a in env.actions("update.propose") if a["target"] == "chat-llm-staging@1.3.0"]
    assert action["outcome"] == "refused"
    return action


@pytest.mark.parametrize("link", ["absolute", "relative", "system"])
def test_a_target_that_is_a_symlink_out_of_the_repository_is_refused(
    env: BotEnv, outside: Path, link: str
) -> None:
    target = {
        "absolute": str(outside),
        "relative": "../" * 40 + str(outside).lstrip("/"),
        "system": "/etc/hostname",
    }[link]
    env.standin.commit(REPO, "main", {TARGET: SymlinkTo(target)}, "values live elsewhere")

    action = _push_and_refusal(env)
    details = action["details"]
    assert isinstance(details, dict)
    assert details["code"] == "unusable_file"
    assert TARGET in str(action["summary"]) and "symlink" in str(action["summary"])
    assert "does not follow symbolic links" in str(details["reason"])
    assert outside.read_text() == SECRET  # nothing written outside
    recorded = json.dumps(env.actions())
    assert "secret-that-must-stay-outside" not in recorded  # nothing read from outside


def test_a_target_behind_a_symlinked_directory_is_refused(env: BotEnv, outside: Path) -> None:
    env.standin.commit(
        REPO,
        "main",
        {TARGET: None, "apps/chat-llm": SymlinkTo(str(outside.parent))},
        "the directory lives elsewhere",
    )

    action = _push_and_refusal(env)
    details = action["details"]
    assert isinstance(details, dict)
    assert details["code"] == "missing_file"
    assert "does not follow symbolic links" in str(details["reason"])
    assert outside.read_text() == SECRET
    assert "secret-that-must-stay-outside" not in json.dumps(env.actions())


def test_the_work_tree_check_names_the_link_that_leaves_the_repository(env: BotEnv, outside: Path) -> None:
    env.standin.commit(
        REPO,
        "main",
        {
            TARGET: SymlinkTo(str(outside)),
            "apps/linked": SymlinkTo(str(outside.parent)),
            "apps/inside.yaml": SymlinkTo("chat-llm/values-staging.yaml"),
            "apps/scorer-link": SymlinkTo("scorer"),
        },
        "links",
    )
    with env.services.git().worktree(env.settings.clone_url(REPO), "main") as tree:
        assert escaping_symlink(tree.path, TARGET) == (
            f"{TARGET} is a symbolic link to {outside} and leads outside the repository"
        )
        assert escaping_symlink(tree.path, "apps/linked/values-staging.yaml") == (
            f"apps/linked is a symbolic link to {outside.parent} and leads outside the repository"
        )
        # The chain inside.yaml -> chat-llm/values-staging.yaml -> outside leaves too.
        assert escaping_symlink(tree.path, "apps/inside.yaml") == (
            "apps/inside.yaml is a symbolic link to chat-llm/values-staging.yaml "
            "and leads outside the repository"
        )
        # Links that stay inside the repository, and plain files, are fine.
        assert escaping_symlink(tree.path, "apps/scorer-link/values.yaml") is None
        assert escaping_symlink(tree.path, "apps/embedder/values.yaml") is None
        assert escaping_symlink(tree.path, "apps/new/values.yaml") is None


def test_a_link_that_appears_in_the_work_tree_after_planning_stops_the_push(
    env: BotEnv, outside: Path
) -> None:
    # The plan is made from a regular file; by the time the work tree is checked out, someone
    # has replaced it with a link out of the repository. Nothing may be written through it.
    config = env.services.repo_config(REPO).config
    assert config is not None
    deployment = config.deployment("chat-llm-staging")
    assert deployment is not None
    forge = env.services.forge_for_repo(REPO)
    files = read_targets(forge, REPO, (t.file for t in deployment.targets), "main")
    plan = plan_update(repo=REPO, deployment=deployment, version="1.3.0", digest=DIGEST, files=files.texts)
    assert isinstance(plan, UpdatePlan)
    env.standin.commit(REPO, "main", {TARGET: SymlinkTo(str(outside))}, "raced")

    with pytest.raises(UnsafeTarget) as caught:
        push_branch(env.services, forge, plan, base="main", message="m", check_existing=False)
    assert caught.value.reason.startswith(f"{TARGET} is a symbolic link to {outside}")
    assert outside.read_text() == SECRET
    assert env.standin.branch_sha(REPO, plan.branch) is None
