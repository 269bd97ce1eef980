"""Notifications: what happened (``notes``), a deployment's story (``story``), its Slack rendering
(``render``, ``blocks``). Handlers enqueue notes; ``handlers/notifications.py`` delivers them."""

from __future__ import annotations

from bot.notify.notes import (
    DELIVER_HANDLER,
    CanaryFinished,
    CanaryInterval,
    CanaryStarted,
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
