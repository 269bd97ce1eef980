"""Drift notes in Slack, the decisions (pure): what a check tells the repository's channel.

The channel hears of drift when it is first found, when its plan summary (the headline, e.g.
"Plan: 1 to add, 0 to change, 0 to destroy.") differs from the one it last heard of, and when the
drift is gone; an unchanged drift, checked again every few hours, says nothing. What the channel
last heard of is kept with the project's check (``noted_headline``), so a failed plan in between
(which says nothing either way) does not make the same drift news again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal

from bot.terraform.drift_schedule import DriftStatus

NOTE_HANDLER = "terraform.drift_note"

NoteKind = Literal["detected", "changed", "resolved"]


def note_kind(noted: str | None, status: DriftStatus, headline: str) -> NoteKind | None:
    """The note a check with ``status`` and ``headline`` calls for, given the drift headline the
    channel last heard of (``noted``, None when it heard of none or of its end); None: no note."""
    if status == "drift":
        if noted is None:
            return "detected"
        return "changed" if headline != noted else None
    if status == "no_drift" and noted is not None:
        return "resolved"
    return None  # a failed plan, or no drift before and none now


def noted_after(noted: str | None, status: DriftStatus, headline: str) -> str | None:
    """What the channel has heard of once this check's note (if any) is sent."""
    if status == "drift":
        return headline
    if status == "no_drift":
        return None
    return noted


def missing_channel(channel: str | None, *, slack_configured: bool) -> str | None:
    """Why a note cannot be sent (None: it can): said once, in the log, when a note is due."""
    if not slack_configured:
        return "no Slack bot token (GITOPS_BOT_SLACK_BOT_TOKEN)"
    if channel is None:
        return "no notify.slack.channel in the repository's .gitops-bot.yaml"
    return None


@dataclass(frozen=True)
class DriftNote:
    """A note to post, as its job carries it (a JSON payload)."""

    kind: NoteKind
    repo: str
    project: str
    channel: str
    headline: str
    previous_headline: str | None  # what the channel heard of before (for "changed", "resolved")
    head: str  # the default branch's commit that was planned
    issue_number: int | None
    issue_url: str | None  # None in dry-run: no issue is kept
    dry_run: bool = False

    def payload(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> DriftNote:
        known: dict[str, Any] = {name: payload[name] for name in cls.__dataclass_fields__ if name in payload}
        return cls(**known)
