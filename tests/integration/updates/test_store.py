"""UpdateStore: the only writer of UpdateRequest rows, on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import select

from bot.storage.db import Database
from bot.storage.models import UpdateRequest, UpdateStatus
from bot.updates.store import ProposalRecord, UpdateStore

REPO = "acme/gitops"


def proposal(version: str, status: UpdateStatus = UpdateStatus.OPEN, **fields: object) -> ProposalRecord:
    return ProposalRecord(
        repo=REPO,
        branch=f"gitops-bot/chat/{version}",
        deployment="chat",
        version=version,
        digest=None,
        status=status,
        requested_by="alice",
        details={"version": version},
        **fields,  # type: ignore[arg-type]
    )


def rows(database: Database) -> dict[str, UpdateRequest]:
    with database.sessions() as session:
        return {row.version: row for row in session.scalars(select(UpdateRequest))}


def test_a_proposal_is_recorded_once_per_branch_and_a_newer_one_supersedes_it(database: Database) -> None:
    store = UpdateStore(database)
    store.record_proposal(proposal("1.3.0", pr_number=7, pr_url="u7", event_id=None))
    store.record_proposal(proposal("1.3.0", pr_number=7, pr_url="u7", head_sha="a1"))
    store.record_proposal(proposal("1.4.0", pr_number=8, pr_url="u8", supersedes=("gitops-bot/chat/1.3.0",)))
    found = rows(database)
    assert set(found) == {"1.3.0", "1.4.0"}
    assert (found["1.3.0"].status, found["1.3.0"].superseded_by) == ("superseded", found["1.4.0"].id)
    assert (found["1.4.0"].status, found["1.4.0"].pr_number) == ("open", 8)
    assert store.open_pull_requests() == [(REPO, 8)]
    assert store.deployment_of(REPO, 8) == "chat"
    assert store.deployment_of(REPO, 99) is None


def test_both_jobs_of_one_closed_event_leave_the_same_row_in_either_order(database: Database) -> None:
    finals: list[tuple[str, str | None]] = []
    for order in (("updates", "deployments"), ("deployments", "updates")):
        store = UpdateStore(database)
        version = f"1.{len(finals) + 5}.0"
        store.record_proposal(proposal(version, pr_number=9, pr_url="u9"))
        branch = f"gitops-bot/chat/{version}"
        for job in order:
            if job == "updates":
                store.mark_closed(REPO, branch, merged=True, head_sha="h9")
            else:
                store.mark_merged(REPO, branch, head_sha="h9")
        row = rows(database)[version]
        finals.append((row.status, row.head_sha))
    assert finals == [("merged", "h9"), ("merged", "h9")]


def test_a_closed_pull_request_settles_open_and_dry_run_rows_only(database: Database) -> None:
    store = UpdateStore(database)
    store.record_proposal(proposal("1.3.0", UpdateStatus.DRY_RUN))
    store.record_proposal(proposal("1.4.0", pr_number=8, pr_url="u8", supersedes=("gitops-bot/chat/1.3.0",)))
    store.record_proposal(proposal("1.5.0", UpdateStatus.DRY_RUN))
    store.mark_closed(REPO, "gitops-bot/chat/1.4.0", merged=False, head_sha="h8")
    store.mark_closed(REPO, "gitops-bot/chat/1.5.0", merged=True, head_sha="h10")
    store.mark_closed(REPO, "gitops-bot/chat/9.9.9", merged=True, head_sha="x")  # not ours: nothing
    found = rows(database)
    assert {version: row.status for version, row in found.items()} == {
        "1.3.0": "superseded",
        "1.4.0": "closed",
        "1.5.0": "merged",
    }
    store.mark_merged(REPO, "gitops-bot/chat/1.4.0", head_sha="later")  # already settled
    assert rows(database)["1.4.0"].head_sha == "h8"
