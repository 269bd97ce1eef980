"""``/gitops cancel`` through ``terraform.comment``: who may, what it stops, what it says."""

from __future__ import annotations

from bot.adapters.forge.port import CommitState
from bot.events import ParsedEvent
from bot.intake.store import EventStore
from bot.terraform.locks import LockKey
from tests.unit.handlers.conftest import MakeDriver
from tests.unit.handlers.driver import REPO, HandlerDriver, comment, github, pull_request, sample

HANDLER = "terraform.comment"
PERMISSIONS = """\
version: 1
permissions:
  plan: [team:sre]
  apply: [admin]
"""


def comment_on(number: int, body: str, *, login: str, comment_id: int) -> ParsedEvent:
    """A comment on another pull request of the same repository."""
    payload = sample("github/issue_comment.created.json")
    payload["issue"]["number"] = number
    payload["comment"].update(body=body, id=comment_id)
    payload["comment"]["user"]["login"] = login
    payload["sender"]["login"] = login
    return github("issue_comment", payload, delivery=f"d-{comment_id}")


def queue_events(driver: HandlerDriver, *events: ParsedEvent) -> None:
    """Store events as intake does: their jobs wait in the queue, none runs."""
    EventStore(driver.services.queue, driver.router).store(list(events))


def job_states(driver: HandlerDriver, handler: str) -> list[tuple[str, str | None]]:
    return [(job.status, job.last_error) for job in driver.jobs(handler)]


def test_nothing_queued_or_running_is_nothing_to_cancel(driver: HandlerDriver) -> None:
    driver.forge.add_pull_request(REPO, 42)
    driver.forge.set_permission(REPO, "bob", "write")
    driver.run(HANDLER, comment("/gitops cancel"))

    assert driver.forge.comment_bodies(REPO, 42) == [
        "Nothing to cancel: no plan or apply of this pull request is queued or running."
    ]
    assert driver.forge.statuses == []
    (action,) = driver.actions("terraform.cancel")
    assert (action.actor, action.summary) == ("bob", "nothing to cancel on #42")


def test_queued_plans_and_applies_of_the_pull_request_are_cancelled(make_driver: MakeDriver) -> None:
    driver = make_driver(config=PERMISSIONS)
    driver.forge.add_pull_request(REPO, 42)
    driver.forge.add_team_member("acme", "sre", "bob")  # may plan, may not apply: may cancel both
    driver.services.locks.acquire(LockKey(REPO, "terraform/staging"), pr_number=42, owner="alice")
    queue_events(
        driver,
        pull_request(action="synchronize"),  # the autoplan of #42
        comment("/gitops plan -p staging", login="alice", comment_id=1),
        comment("atlantis apply", login="carol", comment_id=2),
        comment("/gitops unlock", login="alice", comment_id=3),
    )
    driver.run(HANDLER, comment("atlantis cancel", comment_id=4))

    (answer,) = driver.forge.comment_bodies(REPO, 42)
    assert answer == (
        "### 🛑 Cancelled by @bob\n\n"
        "- the queued autoplan: it will not run\n"
        "- the queued plan (`/gitops plan -p staging` by @alice): it will not run\n"
        "- the queued apply (`atlantis apply` by @carol): it will not run\n\n"
        "Locks and saved plans of this pull request are kept: comment `atlantis plan` to plan again,"
        " or `atlantis unlock` to release them."
    )
    statuses = {(s.status.context, s.status.state, s.status.description) for s in driver.forge.statuses}
    assert statuses == {
        ("gitops-bot/plan", CommitState.FAILURE, "cancelled by @bob"),
        ("gitops-bot/apply", CommitState.FAILURE, "cancelled by @bob"),
    }
    assert {s.sha for s in driver.forge.statuses} == {driver.forge.get_pull_request(REPO, 42).head_sha}
    reason = "cancelled by @bob (atlantis cancel)"
    assert job_states(driver, "terraform.pull_request") == [("cancelled", reason)]
    # plan, apply, unlock, then the cancel's own job (queued by nobody here: the driver ran it).
    states = job_states(driver, HANDLER)
    assert states[:3] == [("cancelled", reason), ("cancelled", reason), ("queued", None)]
    assert all(status == "queued" for status, _ in job_states(driver, "deployments.comment"))
    assert len(driver.services.locks.list(REPO)) == 1  # a cancel keeps the locks
    (action,) = driver.actions("terraform.cancel")
    assert action.summary.startswith("cancelled on #42: plan job ") and "(queued, autoplan)" in action.summary


def test_the_cancelled_statuses_link_to_the_pull_requests_runs(make_driver: MakeDriver) -> None:
    driver = make_driver(public_url="https://gitops.example.com/")
    driver.forge.add_pull_request(REPO, 42)
    driver.forge.set_permission(REPO, "bob", "write")
    queue_events(driver, comment("/gitops plan", login="alice", comment_id=1))
    driver.run(HANDLER, comment("/gitops cancel", comment_id=2))

    ((context, url),) = {(s.status.context, s.status.target_url) for s in driver.forge.statuses}
    assert (context, url) == ("gitops-bot/plan", "https://gitops.example.com/runs?repo=acme%2Fgitops&pr=42")


def test_another_pull_requests_work_is_left_alone(driver: HandlerDriver) -> None:
    driver.forge.add_pull_request(REPO, 42)
    driver.forge.set_permission(REPO, "bob", "write")
    queue_events(driver, comment_on(43, "/gitops plan", login="alice", comment_id=1))
    driver.run(HANDLER, comment("/gitops cancel", comment_id=2))

    assert driver.forge.comment_bodies(REPO, 42)[-1].startswith("Nothing to cancel")
    assert job_states(driver, HANDLER)[0] == ("queued", None)


def test_who_may_not_plan_may_not_cancel(make_driver: MakeDriver) -> None:
    driver = make_driver(config=PERMISSIONS)
    driver.forge.add_pull_request(REPO, 42)
    driver.forge.set_permission(REPO, "bob", "admin")  # may apply, but plan needs team:sre
    queue_events(driver, comment("/gitops plan", login="alice", comment_id=1))
    driver.run(HANDLER, comment("/gitops cancel", comment_id=2))

    assert driver.forge.comment_bodies(REPO, 42) == [
        "@bob may not run `cancel` here: bob has admin permission; this needs team:sre."
    ]
    assert driver.forge.reactions == [] and driver.forge.statuses == []
    assert job_states(driver, HANDLER)[0] == ("queued", None)
    (action,) = driver.actions("terraform.cancel")
    assert action.outcome == "refused"


def test_in_dry_run_nothing_is_cancelled(make_driver: MakeDriver) -> None:
    driver = make_driver(dry_run=True)
    queue_events(driver, comment("/gitops plan", login="alice", comment_id=1))
    driver.run(HANDLER, comment("/gitops cancel", comment_id=2))

    assert driver.forge.comment_bodies(REPO, 42) == []
    assert job_states(driver, HANDLER)[0] == ("queued", None)
    (action,) = driver.actions("terraform.cancel")
    assert action.outcome == "dry_run"
