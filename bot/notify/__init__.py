"""Notifications: what happened (``notes``), a deployment's story (``story``), its Slack rendering
(``render``, ``blocks``) and its delivery to Slack (``deliver``). Handlers enqueue notes;
``handlers/notifications.py`` runs ``deliver`` in a job of its own."""

from __future__ import annotations

from bot.notify.notes import (
    DELIVER_HANDLER,
    CanaryFinished,
    CanaryInterval,
    CanaryStarted,
    CanaryStep,
    GatesFailed,
    Notification,
    Notifier,
    PromotionOpened,
    RollbackFailed,
    RollbackMerged,
    RollbackOpened,
    TerraformResult,
    UpdateProposed,
    UpdateSuperseded,
    notification_from_json,
)

__all__ = [
    "DELIVER_HANDLER",
    "CanaryFinished",
    "CanaryInterval",
    "CanaryStarted",
    "CanaryStep",
    "GatesFailed",
    "Notification",
    "Notifier",
    "PromotionOpened",
    "RollbackFailed",
    "RollbackMerged",
    "RollbackOpened",
    "TerraformResult",
    "UpdateProposed",
    "UpdateSuperseded",
    "notification_from_json",
]
