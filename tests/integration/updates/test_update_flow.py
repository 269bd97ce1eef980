"""Registry and MLflow events become pull requests: through the app, the queue, real git and the stand-in."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.storage.models import UpdateRequest
from tests.integration.updates.conftest import DIGEST, REPO, TFVARS, VALUES, gitops_env
from tests.support.botenv import FORGES, BotEnv, distribution_push
from tests.support.github_standin_git import git, text


# One suite, both forges: each test runs against the GitHub and the GitLab stand-in.
@pytest.fixture(params=FORGES)
def env(request: pytest.FixtureRequest, tmp_path: Path, database_url: str) -> Iterator[BotEnv]:
    with gitops_env(tmp_path, database_url, request.param) as built:
        yield built


BRANCH = "gitops-bot/chat-llm-staging/1.3.0"


def push(env: BotEnv, tag: str, digest: str = DIGEST, repository: str = "serving/chat-llm") -> None:
    assert env.post_registry(distribution_push(repository, tag, digest)) == 202
    env.run_jobs()


def show(env: BotEnv, ref: str, path: str) -> str:
    return git(env.standin.repo_path(REPO), "show", f"{ref}:{path}").stdout.decode()


def requests(env: BotEnv) -> dict[str, UpdateRequest]:
    with env.services.database.sessions() as session:
        return {row.branch: row for row in session.scalars(select(UpdateRequest))}


def test_a_push_opens_a_pull_request_that_changes_only_the_lines_that_must_change(env: BotEnv) -> None:
    push(env, "1.3.0")

    (pull,) = env.standin.pulls(REPO)
    assert pull.head_ref == BRANCH
    assert pull.title == "chat-llm-staging: deploy 1.3.0 (from 1.2.0)"
    assert env.standin.labels(REPO, pull.number) == ["model-update"]
    assert "alice" in pull.requested_reviewers
    bare = env.standin.repo_path(REPO)
    assert show(env, BRANCH, "apps/chat-llm/values-staging.yaml") == VALUES.replace(
        '"1.2.0"', '"1.3.0"'
    ).replace("sha256:" + "0" * 64, DIGEST)
    assert show(env, BRANCH, "terraform/staging/serving.auto.tfvars") == TFVARS.replace(
        'chat_llm_version = "1.2.0"', 'chat_llm_version = "1.3.0"'
    )
    numstat = text(bare, "diff", "--numstat", f"main...{BRANCH}").split("\n")
    assert sorted(numstat) == [
        "1\t1\tterraform/staging/serving.auto.tfvars",
        "2\t2\tapps/chat-llm/values-staging.yaml",
    ]
    assert text(bare, "rev-list", "--count", f"main..{BRANCH}") == "1"
    # The body says what, why, the source with its digest, the diff and the canary that follows.
    assert "registry push registry.example.com/serving/chat-llm:1.3.0" in pull.body
    assert DIGEST in pull.body
    assert '-  tag: "1.2.0"   # set by gitops-bot' in pull.body
    assert "watches the canary for 2m" in pull.body
    row = requests(env)[BRANCH]
    assert (row.status, row.pr_number, row.version, row.digest) == ("open", pull.number, "1.3.0", DIGEST)
    (action,) = env.actions("update.propose")
    assert action["outcome"] == "opened"
    assert "diff --git a/apps/chat-llm/values-staging.yaml" in action["details"]["diff"]


def test_a_repeated_event_changes_nothing(env: BotEnv) -> None:
    body = distribution_push("serving/chat-llm", "1.3.0", DIGEST)
    assert env.post_registry(body) == 202
    env.run_jobs()
    head = env.standin.branch_sha(REPO, BRANCH)
    calls = len(env.standin.requests)
    assert env.post_registry(body) == 200  # the same delivery: a duplicate, not a new event
    assert env.run_jobs() == []
    # Another registry replica announcing the same push under a new event id.
    again = distribution_push("serving/chat-llm", "1.3.0", DIGEST)
    again["events"][0]["id"] = "evt-from-replica-2"
    assert env.post_registry(again) in (200, 202)
    env.run_jobs()
    assert env.standin.branch_sha(REPO, BRANCH) == head
    assert len(env.standin.pulls(REPO)) == 1
    writes = [r for r in env.standin.requests[calls:] if r.method in ("POST", "PATCH", "PUT", "DELETE")]
    assert writes == []


def test_a_newer_version_supersedes_the_open_pull_request(env: BotEnv) -> None:
    push(env, "1.3.0")
    push(env, "1.4.0", "sha256:" + "cd" * 32)
    pulls = {pull.head_ref: pull for pull in env.standin.pulls(REPO)}
    old, new = pulls[BRANCH], pulls["gitops-bot/chat-llm-staging/1.4.0"]
    assert old.state == "closed" and not old.merged
    assert new.state == "open"
    (comment,) = env.standin.comments(REPO, old.number)
    # The forge's own reference, which it links: "!N" is a merge request on GitLab ("#N" an issue).
    sigil = "!" if env.forge == "gitlab" else "#"
    assert f"Superseded by {sigil}{new.number}" in comment.body
    assert "1.4.0" in comment.body
    rows = requests(env)
    assert rows[BRANCH].status == "superseded"
    assert rows[BRANCH].superseded_by == rows["gitops-bot/chat-llm-staging/1.4.0"].id
    # Going back to the older version is refused while the newer one is proposed.
    push(env, "1.3.0", "sha256:" + "ef" * 32)
    assert len([p for p in env.standin.pulls(REPO) if p.state == "open"]) == 1
    assert env.actions("update.propose")[0]["outcome"] == "unchanged"


def test_never_backwards_and_policy_refusals_are_audited(env: BotEnv) -> None:
    push(env, "1.1.0")
    push(env, "2.0.0")
    push(env, "1.3.0-rc.1")
    assert env.standin.pulls(REPO) == []
    outcomes = [(a["target"], a["outcome"]) for a in env.actions("update.propose")]
    assert ("chat-llm-staging@1.1.0", "refused") in outcomes
    assert ("chat-llm-staging@2.0.0", "refused") in outcomes
    assert ("chat-llm-staging@1.3.0-rc.1", "refused") in outcomes


def test_other_images_and_digest_only_pushes_open_nothing(env: BotEnv) -> None:
    push(env, "1.3.0", repository="serving/other")
    assert env.post_registry(distribution_push("serving/chat-llm", "", DIGEST)) in (200, 202)
    env.run_jobs()
    assert env.standin.pulls(REPO) == []


def test_automerge_merges_once_checks_pass(env: BotEnv) -> None:
    push(env, "1.0.0", repository="serving/embedder")
    (pull,) = env.standin.pulls(REPO)
    assert pull.head_ref == "gitops-bot/embedder/1.0.0"
    assert pull.merged
    assert (
        show(env, "main", "apps/embedder/values.yaml").splitlines()[-1]
        == f"    image: registry.example.com/serving/embedder:1.0.0@{DIGEST}"
    )
    assert requests(env)["gitops-bot/embedder/1.0.0"].status == "merged"
    (merged,) = env.actions("update.automerge")
    assert merged["outcome"] == "merged"


def test_automerge_waits_while_required_checks_are_missing(env: BotEnv) -> None:
    from handlers.updates import automerge_sweep

    env.standin.new_pull_merge_block = "Required status check 'ci' is expected."
    push(env, "1.0.0", repository="serving/embedder")
    (pull,) = env.standin.pulls(REPO)
    assert not pull.merged
    assert env.actions("update.automerge") == []  # "blocked": not even tried
    env.standin.block_merge(REPO, pull.number, None)  # the check passed
    automerge_sweep(env.services)
    env.run_jobs()
    (pull,) = env.standin.pulls(REPO)
    assert pull.merged


def test_the_automerge_sweep_checks_only_pull_requests_the_bot_may_merge(env: BotEnv) -> None:
    from sqlalchemy import func, select

    from bot.storage.models import Job
    from handlers.updates import automerge_sweep

    push(env, "1.3.0")  # chat-llm-staging: no automerge
    assert [p.head_ref for p in env.standin.pulls(REPO) if p.state == "open"] == [
        "gitops-bot/chat-llm-staging/1.3.0"
    ]

    def automerge_jobs() -> int:
        with env.services.database.sessions() as session:
            return int(
                session.scalar(select(func.count(Job.id)).where(Job.handler == "updates.automerge")) or 0
            )

    before = automerge_jobs()
    automerge_sweep(env.services)  # an open pull request, but none the bot may merge: no work at all
    assert automerge_jobs() == before


def test_mlflow_alias_and_new_versions_open_pull_requests(env: BotEnv) -> None:
    assert (
        env.post_mlflow(
            "model_version_alias",
            "created",
            {"name": "reranker", "alias": "champion", "version": "4"},
            delivery="d-1",
        )
        == 202
    )
    assert (
        env.post_mlflow(
            "model_version_alias",
            "created",
            {"name": "reranker", "alias": "challenger", "version": "5"},
            delivery="d-2",
        )
        == 202
    )
    assert (
        env.post_mlflow(
            "model_version",
            "created",
            {"name": "scorer", "version": "2", "source": "models:/m-1", "run_id": "r1"},
            delivery="d-3",
        )
        == 202
    )
    assert (
        env.post_mlflow("model_version", "created", {"name": "reranker", "version": "6"}, delivery="d-4")
        == 202
    )
    env.run_jobs()
    pulls = {pull.head_ref: pull for pull in env.standin.pulls(REPO)}
    assert set(pulls) == {"gitops-bot/reranker-staging/4", "gitops-bot/scorer/2"}
    assert show(env, "gitops-bot/reranker-staging/4", "terraform/staging/serving.auto.tfvars") == (
        TFVARS.replace('reranker_model_version = "3"', 'reranker_model_version = "4"')
    )
    assert "MLflow alias reranker@champion set to version 4" in pulls["gitops-bot/reranker-staging/4"].body
    assert show(env, "gitops-bot/scorer/2", "apps/scorer/values.yaml") == (
        "model:\n  name: scorer\n  version: '2'\n"
    )


def test_dry_run_records_every_decision_with_its_diff_and_pushes_nothing(dry_env: BotEnv) -> None:
    assert dry_env.services.dry_run
    push(dry_env, "1.3.0")
    assert dry_env.standin.pulls(REPO) == []
    assert dry_env.standin.branch_sha(REPO, BRANCH) is None
    (action,) = dry_env.actions("update.propose")
    assert action["outcome"] == "dry_run"
    assert action["dry_run"] is True
    assert '+  tag: "1.3.0"   # set by gitops-bot' in action["details"]["diff"]
    assert requests(dry_env)[BRANCH].status == "dry_run"


def test_an_invalid_config_is_reported_with_the_line_and_key(env: BotEnv) -> None:
    broken = (
        "version: 1\ndeployments:\n  - name: chat\n    trigger: {image: {repository: x}}\n    tragets: []\n"
    )
    env.standin.commit(REPO, "main", {".gitops-bot.yaml": broken}, "typo")
    env.services.repo_configs.invalidate(REPO)
    push(env, "1.3.0")
    assert env.standin.pulls(REPO) == []
    (report,) = env.actions("config.unusable")
    assert ".gitops-bot.yaml:5" in report["summary"]
    assert "tragets" in report["summary"]


def test_gitlab_automerge_is_merge_when_pipeline_succeeds(tmp_path: Path, database_url: str) -> None:
    """The bot asks GitLab to merge when the pipeline succeeds: GitLab merges by itself, bot or no bot."""
    with gitops_env(tmp_path, database_url, "gitlab") as env:
        env.standin.require_pipeline(REPO)  # "Pipelines must succeed"; CI starts on every new head
        push(env, "1.0.0", repository="serving/embedder")
        (pull,) = env.standin.pulls(REPO)
        assert not pull.merged and pull.auto_merge is not None  # ci_still_running: scheduled, not merged
        (scheduled,) = env.actions("update.automerge")
        assert scheduled["outcome"] == "scheduled"
        env.standin.finish_pipeline(REPO, pull.number, "success")  # GitLab merges; the hooks go out
        (pull,) = env.standin.pulls(REPO)
        assert pull.merged and pull.merged_by == "gitops-bot"
        env.run_jobs()
        assert requests(env)["gitops-bot/embedder/1.0.0"].status == "merged"
        assert len(env.actions("update.automerge")) == 1  # scheduled once, never merged twice


def test_gitlab_a_finished_pipeline_triggers_the_automerge_check(tmp_path: Path, database_url: str) -> None:
    """Where GitLab's own auto-merge was not set (the pipeline had not started), the pipeline hook
    is the moment the bot checks again and merges."""
    with gitops_env(tmp_path, database_url, "gitlab") as env:
        env.standin.require_pipeline(REPO)
        env.standin.start_pipelines = False
        push(env, "1.0.0", repository="serving/embedder")
        (pull,) = env.standin.pulls(REPO)
        assert not pull.merged and env.actions("update.automerge") == []
        env.standin.finish_pipeline(REPO, pull.number, "success")
        ran = env.run_jobs()
        assert ("updates.pipeline_finished", "done") in ran
        (pull,) = env.standin.pulls(REPO)
        assert pull.merged and requests(env)["gitops-bot/embedder/1.0.0"].status == "merged"


def test_a_burst_of_versions_opens_one_pull_request_for_the_newest(env: BotEnv) -> None:
    # Eleven pushes arrive before any update runs (a pipeline tagging a release train, and a
    # rebuild of an older tag among them).
    tags = [f"1.3.{n}" for n in range(10)]
    for tag in [*tags[:5], "1.2.9", *tags[5:]]:
        assert env.post_registry(distribution_push("serving/chat-llm", tag, DIGEST)) == 202
    env.run_jobs()

    (pull,) = env.standin.pulls(REPO)
    assert pull.head_ref == "gitops-bot/chat-llm-staging/1.3.9"
    assert set(requests(env)) == {"gitops-bot/chat-llm-staging/1.3.9"}  # no branch for the others
    actions = env.actions("update.propose")
    assert sorted(action["outcome"] for action in actions) == ["opened"] + ["superseded"] * 10
    # Each skipped update says which pending version replaces it; nothing else was written.
    for action in actions:
        if action["outcome"] == "superseded":
            assert "1.3.9 is waiting in the queue" in action["summary"], action["summary"]
            assert action["details"]["code"] == "superseded_by_pending"
            assert action["details"]["by_version"] == "1.3.9"
    assert env.standin.comments(REPO, pull.number) == []


def test_a_push_that_arrives_while_an_update_plans_takes_its_place(env: BotEnv) -> None:
    # A burst's first update starts before the rest arrive, so no newer version waits yet. The
    # next push arrives while that update reads the open pull requests; asked again before it
    # writes, the update gives way, and only the newer version opens a pull request.
    def the_next_push_arrives() -> None:
        assert env.post_registry(distribution_push("serving/chat-llm", "1.3.1", DIGEST)) == 202

    listing = "/merge_requests" if env.forge == "gitlab" else r"/pulls$"
    env.standin.before_next("GET", listing, the_next_push_arrives)
    push(env, "1.3.0")

    (pull,) = env.standin.pulls(REPO)
    assert pull.head_ref == "gitops-bot/chat-llm-staging/1.3.1"
    assert set(requests(env)) == {"gitops-bot/chat-llm-staging/1.3.1"}
    actions = {action["outcome"]: action for action in env.actions("update.propose")}
    assert sorted(actions) == ["opened", "superseded"]
    assert actions["superseded"]["details"]["code"] == "superseded_by_pending"
    assert actions["superseded"]["details"]["by_version"] == "1.3.1"
    assert env.standin.branch_sha(REPO, BRANCH) is None  # 1.3.0 wrote nothing
