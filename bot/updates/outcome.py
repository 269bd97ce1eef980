"""What a proposal came to, and what follows from that: pure functions over the plan and result.

The live and dry-run paths of :mod:`bot.updates.propose` both end in a :class:`Proposed`; from it
these functions decide the row to record, the audit details and the notes to send, so the two
paths cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from bot.adapters.forge.port import ChangeOutcome
from bot.notify import UpdateProposed, UpdateSuperseded
from bot.storage.models import UpdateStatus
from bot.updates.plan import NoUpdate, UpdatePlan
from bot.updates.source import UpdateSource
from bot.updates.store import ProposalRecord

OutcomeStatus = Literal["opened", "updated", "unchanged", "superseded", "refused", "dry_run"]

UNCHANGED_REASON = "the pull request already proposes exactly this"

ChangeStatus = Literal["opened", "updated", "unchanged"]

_CHANGE_STATUS: dict[ChangeOutcome, ChangeStatus] = {
    ChangeOutcome.CREATED: "opened",
    ChangeOutcome.UPDATED: "updated",
    ChangeOutcome.UNCHANGED: "unchanged",
}


@dataclass(frozen=True)
class UpdateOutcome:
    status: OutcomeStatus
    message: str
    pr_number: int | None = None
    pr_url: str | None = None
    code: str = ""
    """The planner's code for no-ops and refusals (``already_current``, ``quarantined``, …)."""


@dataclass(frozen=True)
class UpdateAsk:
    """What a caller asks for: ``version`` of ``deployment`` in ``repo``, and on whose behalf.

    ``explicit``: a person chose this version (``deploy`` permission checked by the caller): the
    tag policy and the never-backwards rule do not apply. ``lift_quarantine``: that person also
    chose to deploy a rolled-back version again; the lift is audited."""

    repo: str
    deployment: str
    version: str
    source: UpdateSource
    requested_by: str | None
    digest: str | None = None
    explicit: bool = False
    lift_quarantine: bool = False
    installation_id: int | None = None
    event_id: int | None = None

    @property
    def actor(self) -> str:
        return self.requested_by or "gitops-bot"

    @property
    def target(self) -> str:
        return f"{self.deployment}@{self.version}"


@dataclass(frozen=True)
class Proposed:
    """A planned update carried out (or, in dry-run, only decided)."""

    status: ChangeStatus | Literal["dry_run"]
    reason: str
    pr_number: int | None = None
    pr_url: str | None = None
    head_sha: str | None = None

    @property
    def dry_run(self) -> bool:
        return self.status == "dry_run"


def no_update_status(plan: NoUpdate) -> OutcomeStatus:
    return "refused" if plan.refused else "unchanged"


def change_status(outcome: ChangeOutcome) -> ChangeStatus:
    return _CHANGE_STATUS[outcome]


def live_proposal(plan: UpdatePlan, outcome: ChangeOutcome, *, number: int, url: str, head: str) -> Proposed:
    """The pull request was opened or updated (or already said it all): the reason says which."""
    status = change_status(outcome)
    reason = UNCHANGED_REASON if status == "unchanged" else plan.reason
    return Proposed(status, reason, number, url, head)


def planning_quarantine(
    quarantined: frozenset[str], version: str, *, lift: bool, dry_run: bool
) -> frozenset[str]:
    """The quarantined versions the planner sees. A lift asked for in dry-run is not performed,
    but the plan is made as if it were, so the dry-run shows what the live run would do."""
    return quarantined - {version} if lift and dry_run else quarantined


def request_details(ask: UpdateAsk, plan: UpdatePlan, *, base: str, title: str) -> dict[str, object]:
    """The proposal as the audit log and the row keep it, with the full diff."""
    return {
        "version": ask.version,
        "digest": ask.digest,
        "previous_version": plan.previous_version,
        "branch": plan.branch,
        "base": base,
        "reason": plan.reason,
        "source": ask.source.as_json(),
        "diff": plan.diff,
        "title": title,
        "supersedes": [old.number for old in plan.supersedes],
        "explicit": ask.explicit,
        # The automerge sweep checks only pull requests the bot may merge (an idle bot sweeps nothing).
        "automerge": plan.deployment.pull_request.automerge,
    }


def audit_details(details: dict[str, object], proposed: Proposed) -> dict[str, object]:
    if proposed.dry_run:
        return details
    return {**details, "pr_number": proposed.pr_number, "pr_url": proposed.pr_url}


def proposal_record(
    ask: UpdateAsk, plan: UpdatePlan, proposed: Proposed, details: dict[str, object]
) -> ProposalRecord:
    """The row to keep. Only a live pull request supersedes the older ones (dry-run closes none)."""
    return ProposalRecord(
        repo=plan.repo,
        branch=plan.branch,
        deployment=plan.deployment.name,
        version=plan.version,
        digest=plan.digest,
        status=UpdateStatus.DRY_RUN if proposed.dry_run else UpdateStatus.OPEN,
        requested_by=ask.actor,
        details=details,
        event_id=ask.event_id,
        pr_number=proposed.pr_number,
        pr_url=proposed.pr_url,
        head_sha=proposed.head_sha,
        supersedes=() if proposed.dry_run else tuple(old.branch for old in plan.supersedes),
    )


def proposal_notes(
    ask: UpdateAsk, plan: UpdatePlan, proposed: Proposed, *, channel: str | None
) -> list[UpdateProposed | UpdateSuperseded]:
    """A new proposal is announced (in dry-run too); an update of an open one is not."""
    if proposed.status not in ("opened", "dry_run"):
        return []
    proposal = UpdateProposed(
        repo=ask.repo,
        channel=channel,
        dry_run=proposed.dry_run,
        deployment=ask.deployment,
        version=ask.version,
        previous_version=plan.previous_version,
        pr_number=proposed.pr_number,
        pr_url=proposed.pr_url,
        source=ask.source.summary,
        requested_by=ask.requested_by,
    )
    if proposed.dry_run:
        return [proposal]  # nothing was closed, so nothing was superseded
    superseded = [
        UpdateSuperseded(
            repo=ask.repo,
            channel=channel,
            deployment=ask.deployment,
            version=old.version,
            pr_url=old.url,
            superseded_by_version=ask.version,
            superseded_by_url=proposed.pr_url,
        )
        for old in plan.supersedes
    ]
    return [proposal, *superseded]
