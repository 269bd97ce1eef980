"""Notifications: what happened, as typed data; delivery happens in a worker.

Domain code calls ``Notifier.notify(...)``. The notifier only enqueues a durable job
(``notify.deliver``), so a Slack outage never blocks or fails the deployment work that
produced the notification; the delivery job retries on its own. Each notification
names its *story* (repo, deployment, version) so every message about one deployment
lands in one Slack thread.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import structlog
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from bot.queue import JobQueue

log = structlog.get_logger("gitops_bot.notify")

DELIVER_HANDLER = "notify.deliver"


class _Note(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    repo: str
    channel: str | None = None  # from .gitops-bot.yaml notify.slack.channel; None: no Slack message
    dry_run: bool = False


class _StoryNote(_Note):
    deployment: str
    version: str

    @property
    def story_key(self) -> str:
        return f"{self.repo}:{self.deployment}:{self.version}"


class UpdateProposed(_StoryNote):
    kind: Literal["update_proposed"] = "update_proposed"
    previous_version: str | None = None
    pr_number: int | None = None
    pr_url: str | None = None
    source: str = ""  # e.g. "registry push registry.example.com/serving/chat-llm:1.4.0@sha256:…"
    requested_by: str | None = None


class UpdateSuperseded(_StoryNote):
    kind: Literal["update_superseded"] = "update_superseded"
    pr_url: str | None = None
    superseded_by_version: str
    superseded_by_url: str | None = None


class CanaryStarted(_StoryNote):
    kind: Literal["canary_started"] = "canary_started"
    deployment_id: int
    pr_url: str | None = None
    duration_seconds: int
    interval_seconds: int
    metrics: list[str] = Field(default_factory=list)
    step_label: str | None = None  # with traffic steps: the first step ("step 1/3 (10%)")


class CanaryInterval(_StoryNote):
    kind: Literal["canary_interval"] = "canary_interval"
    deployment_id: int
    index: int
    verdict: Literal["pass", "fail", "inconclusive"]
    evidence: dict[str, Any]


class CanaryFinished(_StoryNote):
    kind: Literal["canary_finished"] = "canary_finished"
    deployment_id: int
    status: Literal["passed", "failed", "stopped_inconclusive", "cancelled"]
    reason: str
    evidence: dict[str, Any] = Field(default_factory=dict)
    next_step: str | None = None  # e.g. "rolling back", "promoting to chat-llm-prod", "notify only"


class CanaryStep(_StoryNote):
    """The traffic ladder moved or stopped: a rung committed, stuck, paused, resumed, promoted."""

    kind: Literal["canary_step"] = "canary_step"
    step: int  # 1-based rung (the shadow stage, when there is one, is rung 1)
    steps: int
    label: str  # "step 2/3 (50%)", "shadow (20% mirrored)"
    weight: int
    event: Literal["committed", "stuck", "paused", "resumed", "promoted"]
    reason: str | None = None
    commit_sha: str | None = None
    pr_url: str | None = None
    by: str | None = None


class GatesFailed(_StoryNote):
    """A model version failed its gates and ``on_gate_failure: refuse`` opened no pull request."""

    kind: Literal["gates_failed"] = "gates_failed"
    reason: str
    gates: dict[str, Any] = Field(default_factory=dict)


class RollbackOpened(_StoryNote):
    kind: Literal["rollback_opened"] = "rollback_opened"
    deployment_id: int | None = None
    pr_number: int | None = None
    pr_url: str | None = None
    reason: str
    automerge: bool = False
    requested_by: str | None = None


class RollbackMerged(_StoryNote):
    kind: Literal["rollback_merged"] = "rollback_merged"
    pr_url: str | None = None
    restored_version: str | None = None


class RollbackFailed(_StoryNote):
    kind: Literal["rollback_failed"] = "rollback_failed"
    reason: str


class PromotionOpened(_StoryNote):
    kind: Literal["promotion_opened"] = "promotion_opened"
    to_deployment: str
    pr_url: str | None = None


class TerraformResult(_Note):
    kind: Literal["terraform_result"] = "terraform_result"
    command: Literal["plan", "apply"]
    pr_number: int
    pr_url: str | None = None
    project: str
    ok: bool
    headline: str  # e.g. "Plan: 1 to add, 0 to change, 0 to destroy."
    requested_by: str | None = None


Notification = Annotated[
    UpdateProposed
    | UpdateSuperseded
    | CanaryStarted
    | CanaryInterval
    | CanaryFinished
    | CanaryStep
    | GatesFailed
    | RollbackOpened
    | RollbackMerged
    | RollbackFailed
    | PromotionOpened
    | TerraformResult,
    Field(discriminator="kind"),
]
NOTIFICATION_ADAPTER: TypeAdapter[Notification] = TypeAdapter(Notification)


def notification_from_json(data: dict[str, Any]) -> Notification:
    return NOTIFICATION_ADAPTER.validate_python(data)


class Notifier:
    """Enqueues one delivery job per notification; never raises into the caller's work."""

    def __init__(self, queue: JobQueue, *, enabled: bool = True) -> None:
        self.queue = queue
        # Off when no Slack bot token is configured: there is nowhere to deliver to, and a
        # delivery job without a destination would only fail.
        self.enabled = enabled

    def notify(self, notification: Notification) -> None:
        if notification.channel is None or not self.enabled:
            return
        try:
            with self.queue.database.transaction() as session:
                self.queue.enqueue(
                    session, DELIVER_HANDLER, payload={"notification": notification.model_dump(mode="json")}
                )
        except Exception:
            log.exception("notification_not_queued", kind=notification.kind)
