"""Terraform runs end to end: a plan through the GitHub stand-in makes a run with its output, the
commit status links to it, the console shows and streams it; unlocking from the console."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.terraform.runs_store import TerraformRuns
from tests.integration.terraform.test_pull_request_flow import BIGGER, FILES, REPO, comments, open_pr, say
from tests.support.botenv import MLFLOW_SECRET, BotEnv, bot_env
from tests.support.requirements import require
from tests.support.terraform_shim import TerraformShim

PUBLIC = "https://gitops.example.com"


@pytest.fixture
def env(tmp_path: Path, sqlite_database_url: str, terraform_shim: TerraformShim) -> Iterator[BotEnv]:
    require(shutil.which("git") is not None, "the git executable")
    with bot_env(
        tmp_path, sqlite_database_url, repo=REPO, files=FILES, gitops_repos=[], public_url=PUBLIC + "/"
    ) as built:
        # "console": the login the console acts as without sign-in (GITOPS_BOT_CONSOLE_LOGIN).
        for login, role in (("dev", "write"), ("alice", "write"), ("reader", "read"), ("console", "write")):
            built.standin.set_permission(REPO, login, role)
        yield built


def head_statuses(env: BotEnv, number: int) -> dict[str, dict]:
    pull = next(p for p in env.standin.pulls(REPO) if p.number == number)
    return {s["context"]: s for s in env.standin.statuses(REPO, pull.head_sha)}


def runs(env: BotEnv) -> TerraformRuns:
    return TerraformRuns(env.services.database)


def csrf(env: BotEnv, path: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', env.client.get(path).text)
    assert found is not None
    return found.group(1)


def test_a_plan_makes_a_run_with_its_output_and_the_status_links_to_it(env: BotEnv) -> None:
    # The plan prints a value the bot knows as a secret: it never reaches a run's lines.
    secret_tf = BIGGER + f'\noutput "token" {{\n  value = "{MLFLOW_SECRET}"\n}}\n'
    number = open_pr(env, "more-gpus", {"terraform/staging/main.tf": secret_tf})
    (run,) = runs(env).newest(10, repo=REPO, pr_number=number)
    assert (run.command, run.project, run.dir, run.status, run.outcome) == (
        "plan", "staging", "terraform/staging", "succeeded", "planned",
    )  # fmt: skip
    assert run.headline == "Plan: 1 to add, 0 to change, 0 to destroy." and run.requested_by == "dev"
    assert run.pr_url and run.pr_url.endswith(f"/pull/{number}") and run.finished_at is not None
    lines = runs(env).lines(run.id, limit=5000)
    assert [line.seq for line in lines] == list(range(1, run.line_count + 1))
    assert {line.step for line in lines} >= {"init", "plan"}
    assert any("terraform_data.gpu_pool" in line.line for line in lines)
    assert any("[redacted]" in line.line for line in lines)
    assert not any(MLFLOW_SECRET in line.line for line in lines)

    status = head_statuses(env, number)["gitops-bot/plan"]
    assert (status["state"], status["target_url"]) == ("success", f"{PUBLIC}/runs/{run.id}")
    (plan,) = comments(env, number)
    assert f"[Terraform's output on the console]({PUBLIC}/runs/{run.id})" in plan

    # The console: the page shows the lines and the summary; the JSON twin pages by seq.
    page = env.client.get(f"/runs/{run.id}")
    assert page.status_code == 200 and "terraform_data.gpu_pool" in page.text
    assert "Plan: 1 to add, 0 to change, 0 to destroy." in page.text and "data-stream" not in page.text
    first = env.client.get(f"/api/runs/{run.id}", params={"limit": 3})
    body = first.json()
    assert body["id"] == run.id and body["status"] == "succeeded" and len(body["lines"]) == 3
    assert first.headers["link"] == f'</api/runs/{run.id}?after=3&limit=3>; rel="next"'
    rest = env.client.get(f"/api/runs/{run.id}", params={"after": 3, "limit": 500}).json()["lines"]
    assert [x["seq"] for x in body["lines"] + rest] == [line.seq for line in lines]
    assert env.client.get("/api/runs", params={"repo": REPO, "pr": number}).json()[0]["id"] == run.id
    assert env.client.get("/api/runs/999999").status_code == 404
    assert env.client.get(f"/api/runs/{run.id}", params={"after": "x"}).status_code == 400

    # A finished run's stream sends every line, then the end.
    with env.client.stream("GET", f"/runs/{run.id}/stream", params={"after": 2}) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        text = "".join(stream.iter_text())
    assert text.count("event: line\n") == len(lines) - 2
    assert "id: 3\n" in text and text.endswith("event: end\ndata: succeeded\n\n")


def test_apply_makes_its_run_and_a_pull_request_of_several_projects_links_its_runs(env: BotEnv) -> None:
    number = open_pr(
        env, "both", {"terraform/staging/main.tf": BIGGER + "\n", "terraform/shared/main.tf": BIGGER}
    )
    planned = runs(env).newest(10, repo=REPO, pr_number=number)
    assert sorted(run.project for run in planned) == ["shared", "staging"]
    status = head_statuses(env, number)["gitops-bot/plan"]
    assert status["target_url"] == f"{PUBLIC}/runs?repo=acme%2Finfra&pr={number}"
    # While planning, the pending status already links there: the runs appear as they start.
    pull = next(p for p in env.standin.pulls(REPO) if p.number == number)
    (pending,) = [s for s in env.standin.statuses(REPO, pull.head_sha) if s["state"] == "pending"]
    assert pending["target_url"] == status["target_url"]
    listing = env.client.get("/runs", params={"repo": REPO, "pr": number})
    assert listing.status_code == 200 and all(f'href="/runs/{run.id}"' in listing.text for run in planned)

    env.standin.add_review(REPO, number, "alice", "APPROVED")
    assert "Apply complete!" in say(env, number, "/gitops apply -p staging")
    (applied,) = [run for run in runs(env).newest(10, repo=REPO, pr_number=number) if run.command == "apply"]
    assert (applied.project, applied.status, applied.outcome) == ("staging", "succeeded", "applied")
    assert applied.headline.startswith("Apply complete! Resources: 1 added")
    assert head_statuses(env, number)["gitops-bot/apply"]["target_url"] == f"{PUBLIC}/runs/{applied.id}"


def test_unlock_from_the_console_releases_one_lock_discards_its_plan_and_tells_the_pull_request(
    env: BotEnv,
) -> None:
    number = open_pr(env, "more-gpus", {"terraform/staging/main.tf": BIGGER + "\n"})
    (lock,) = env.services.locks.list(REPO)
    page = env.client.get("/locks")
    assert page.status_code == 200 and "terraform/staging" in page.text and f"#{number}</a>" in page.text
    assert f'action="/locks/{lock.id}/unlock"' in page.text and "data-confirm=" in page.text

    # Without the page's CSRF token nothing happens.
    assert env.client.post(f"/locks/{lock.id}/unlock", data={"csrf": "forged"}).status_code == 403
    assert env.services.locks.list(REPO) == [lock]

    token = csrf(env, "/locks")
    done = env.client.post(f"/locks/{lock.id}/unlock", data={"csrf": token}, follow_redirects=False)
    assert (done.status_code, done.headers["location"]) == (303, "/locks?done=unlocked")
    assert env.services.locks.list(REPO) == []
    from bot.terraform.store import plan_store

    assert plan_store(env.services).for_pull(REPO, number) == []
    told = comments(env, number)[-1]
    assert "released the lock on project `staging` dir `terraform/staging`" in told
    assert f"[console]({PUBLIC}/locks)" in told and "`/gitops plan -p staging`" in told
    (audited,) = env.actions("console.unlock")
    assert audited["outcome"] == "done" and audited["target"] == f"lock:{lock.id}"
    assert "Unlocked: the lock is released" in env.client.get("/locks?done=unlocked").text

    # Again (a second tab): nothing is held any more.
    again = env.client.post(f"/locks/{lock.id}/unlock", headers={"X-CSRF-Token": token})
    assert again.status_code == 200 and "That lock was no longer held." in again.text


def test_the_periodic_purge_drops_runs_older_than_the_plans_ttl(env: BotEnv) -> None:
    from datetime import timedelta

    from bot.storage.types import utcnow
    from tests.integration.terraform.test_runs_store import new_run

    ttl = timedelta(seconds=env.settings.terraform_plan_ttl_seconds)
    old = TerraformRuns(env.services.database, clock=lambda: utcnow() - ttl - timedelta(minutes=1))
    gone, kept = old.start(new_run(1)), runs(env).start(new_run(2))
    (task,) = [task for task in env.router.periodic_tasks() if task.name == "terraform.runs_purge"]
    task.func(env.services)
    assert runs(env).get(gone.id) is None and runs(env).get(kept.id) is not None


def test_the_purge_ends_runs_a_stopped_bot_left_running(env: BotEnv) -> None:
    from datetime import timedelta

    from bot.storage.types import utcnow
    from bot.terraform.runs import STALE_HEADLINE
    from tests.integration.terraform.test_runs_store import new_run

    long_ago = TerraformRuns(env.services.database, clock=lambda: utcnow() - timedelta(hours=3))
    stale, current = long_ago.start(new_run(1)), runs(env).start(new_run(2))
    (task,) = [task for task in env.router.periodic_tasks() if task.name == "terraform.runs_purge"]
    task.func(env.services)
    ended = runs(env).get(stale.id)
    assert (ended.status, ended.headline) == ("failed", STALE_HEADLINE) and runs(env).get(current.id).running


def test_what_terraform_printed_is_shown_as_text(env: BotEnv) -> None:
    from dataclasses import replace

    from bot.terraform.runs_store import RunLine
    from tests.integration.terraform.test_runs_store import new_run

    nasty = "<script>alert(1)</script>"
    run = runs(env).start(replace(new_run(3), project=nasty, pr_url="javascript:alert(1)"))
    runs(env).append(run.id, [RunLine(1, "plan", f'  + name = "{nasty}"')])
    for path in (f"/runs/{run.id}", "/runs"):
        page = env.client.get(path).text
        assert nasty not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
        assert "javascript:" not in page
