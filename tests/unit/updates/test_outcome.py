"""What a proposal came to and what follows from it: the row, the audit details, the notes (pure)."""

from __future__ import annotations

import pytest

from bot.adapters.forge.port import ChangeOutcome, MergeRefusal, MergeResult
from bot.config import load_repo_config
from bot.notify import UpdateProposed, UpdateSuperseded
from bot.storage.models import UpdateStatus
from bot.updates.automerge import automerge_summary, is_bot_branch
from bot.updates.outcome import (
    UNCHANGED_REASON,
    Proposed,
    UpdateAsk,
    audit_details,
    change_status,
    live_proposal,
    no_update_status,
    planning_quarantine,
    proposal_notes,
    proposal_record,
    request_details,
)
from bot.updates.plan import NoUpdate, PendingUpdate, UpdatePlan, plan_update
from bot.updates.service import Promotion, promotion_target
from bot.updates.source import manual_source
from bot.updates.store import closed_status

CONFIG = load_repo_config(
    """\
version: 1
deployments:
  - name: chat
    trigger: {image: {repository: registry.example.com/serving/chat}}
    targets: [{file: values.yaml, key: image.tag}]
"""
)
OLD = PendingUpdate("1.3.0", 7, "https://forge/acme/gitops/pull/7", "gitops-bot/chat/1.3.0")
ASK = UpdateAsk(
    repo="acme/gitops",
    deployment="chat",
    version="1.4.0",
    source=manual_source("deploy of 1.4.0", "alice"),
    requested_by="alice",
    event_id=12,
)


def _plan() -> UpdatePlan:
    plan = plan_update(
        repo="acme/gitops",
        deployment=CONFIG.deployments[0],
        version="1.4.0",
        digest=None,
        files={"values.yaml": "image:\n  tag: 1.2.0\n"},
        pending=[OLD],
    )
    assert isinstance(plan, UpdatePlan)
    return plan


PLAN = _plan()
OPENED = Proposed("opened", PLAN.reason, 8, "https://forge/acme/gitops/pull/8", "abc123")
DRY_RUN = Proposed("dry_run", PLAN.reason)


@pytest.mark.parametrize(
    ("outcome", "status", "reason"),
    [
        (ChangeOutcome.CREATED, "opened", PLAN.reason),
        (ChangeOutcome.UPDATED, "updated", PLAN.reason),
        (ChangeOutcome.UNCHANGED, "unchanged", UNCHANGED_REASON),
    ],
)
def test_the_forge_answer_names_the_outcome_and_its_reason(
    outcome: ChangeOutcome, status: str, reason: str
) -> None:
    assert change_status(outcome) == status
    proposed = live_proposal(PLAN, outcome, number=8, url="u", head="abc")
    assert (proposed.status, proposed.reason, proposed.pr_number, proposed.head_sha) == (
        status,
        reason,
        8,
        "abc",
    )


@pytest.mark.parametrize(
    ("plan", "status"),
    [
        (NoUpdate("already_current", "every target holds 1.4.0"), "unchanged"),
        (NoUpdate("newer_pending", "#7 proposes 1.5.0"), "unchanged"),
        (NoUpdate("quarantined", "1.4.0 was rolled back"), "refused"),
        (NoUpdate("invalid_version", "not a version"), "refused"),
    ],
)
def test_a_plan_without_update_is_unchanged_or_refused(plan: NoUpdate, status: str) -> None:
    assert no_update_status(plan) == status


@pytest.mark.parametrize(
    ("lift", "dry_run", "expected"),
    [
        (False, False, {"1.4.0", "1.1.0"}),
        (False, True, {"1.4.0", "1.1.0"}),
        (True, False, {"1.4.0", "1.1.0"}),  # lifted in the store before planning
        (True, True, {"1.1.0"}),  # not lifted, but planned as if it were
    ],
)
def test_planning_sees_a_dry_run_lift_as_done(lift: bool, dry_run: bool, expected: set[str]) -> None:
    assert planning_quarantine(frozenset({"1.4.0", "1.1.0"}), "1.4.0", lift=lift, dry_run=dry_run) == expected


def test_details_carry_the_full_diff_and_live_audits_add_the_pull_request() -> None:
    details = request_details(ASK, PLAN, base="main", title="chat: deploy 1.4.0")
    assert details["diff"] == PLAN.diff and "+  tag: 1.4.0" in PLAN.diff
    assert (details["version"], details["previous_version"], details["supersedes"]) == ("1.4.0", "1.2.0", [7])
    assert audit_details(details, DRY_RUN) == details
    assert audit_details(details, OPENED) == {
        **details,
        "pr_number": 8,
        "pr_url": "https://forge/acme/gitops/pull/8",
    }


@pytest.mark.parametrize(
    ("proposed", "status", "supersedes", "pr_number"),
    [
        (DRY_RUN, UpdateStatus.DRY_RUN, (), None),
        (OPENED, UpdateStatus.OPEN, ("gitops-bot/chat/1.3.0",), 8),
        (
            Proposed("unchanged", UNCHANGED_REASON, 8, "u", "abc"),
            UpdateStatus.OPEN,
            ("gitops-bot/chat/1.3.0",),
            8,
        ),
    ],
)
def test_the_row_records_the_proposal_and_only_a_live_one_supersedes(
    proposed: Proposed, status: UpdateStatus, supersedes: tuple[str, ...], pr_number: int | None
) -> None:
    record = proposal_record(ASK, PLAN, proposed, {"k": "v"})
    assert (record.branch, record.status, record.supersedes) == ("gitops-bot/chat/1.4.0", status, supersedes)
    assert (record.pr_number, record.requested_by, record.event_id) == (pr_number, "alice", 12)


def _proposed_note(**fields: object) -> UpdateProposed:
    return UpdateProposed(
        repo="acme/gitops",
        channel="#deploys",
        deployment="chat",
        version="1.4.0",
        previous_version="1.2.0",
        source="deploy of 1.4.0",
        requested_by="alice",
        **fields,
    )


SUPERSEDED = UpdateSuperseded(
    repo="acme/gitops",
    channel="#deploys",
    deployment="chat",
    version="1.3.0",
    pr_url=OLD.url,
    superseded_by_version="1.4.0",
    superseded_by_url="https://forge/acme/gitops/pull/8",
)


@pytest.mark.parametrize(
    ("proposed", "notes"),
    [
        (DRY_RUN, [_proposed_note(dry_run=True)]),
        (OPENED, [_proposed_note(pr_number=8, pr_url="https://forge/acme/gitops/pull/8"), SUPERSEDED]),
        (Proposed("updated", PLAN.reason, 8, "u", "abc"), []),
        (Proposed("unchanged", UNCHANGED_REASON, 8, "u", "abc"), []),
    ],
)
def test_a_new_proposal_is_announced_live_or_dry_and_an_updated_one_is_not(
    proposed: Proposed, notes: list[object]
) -> None:
    assert proposal_notes(ASK, PLAN, proposed, channel="#deploys") == notes


@pytest.mark.parametrize(
    ("current", "merged", "expected"),
    [
        ("open", True, "merged"),
        ("open", False, "closed"),
        ("dry_run", True, "merged"),
        ("dry_run", False, "closed"),
        ("merged", False, None),
        ("closed", True, None),
        ("superseded", True, None),
    ],
)
def test_a_closed_pull_request_settles_only_a_standing_proposal(
    current: str, merged: bool, expected: str | None
) -> None:
    assert closed_status(current, merged=merged) == expected


@pytest.mark.parametrize(
    ("result", "summary"),
    [
        (MergeResult(True, sha="m1"), "Merged #8 (chat): checks passed"),
        (MergeResult(False, refusal=MergeRefusal.HEAD_MOVED), "Could not merge #8 (chat): head_moved"),
        (MergeResult(False, message="blocked by rule"), "Could not merge #8 (chat): blocked by rule"),
    ],
)
def test_the_automerge_audit_says_what_happened(result: MergeResult, summary: str) -> None:
    assert automerge_summary("acme/gitops", 8, "chat", "checks passed", result) == summary


@pytest.mark.parametrize(
    ("ref", "ours"),
    [("gitops-bot/chat/1.4.0", True), ("gitops-bot", False), ("feature/gitops-bot/x", False)],
)
def test_bot_branches_are_told_by_their_prefix(ref: str, ours: bool) -> None:
    assert is_bot_branch(ref) is ours


PROMOTING = load_repo_config(
    """\
version: 1
deployments:
  - name: staging
    trigger: {image: {repository: registry.example.com/serving/chat}}
    targets: [{file: staging.yaml, key: tag}]
    promote: {to: production}
  - name: production
    trigger: {image: {repository: registry.example.com/serving/chat}}
    targets: [{file: production.yaml, key: tag}]
"""
)


@pytest.mark.parametrize(
    ("origin", "expected"),
    [
        ("staging", Promotion("production")),
        ("production", "production has no promote.to in acme/gitops's .gitops-bot.yaml"),
        ("canary", "acme/gitops's .gitops-bot.yaml has no deployment named 'canary'"),
    ],
)
def test_a_promotion_goes_where_promote_to_says_or_says_why_not(origin: str, expected: object) -> None:
    assert promotion_target(PROMOTING, "acme/gitops", origin) == expected
