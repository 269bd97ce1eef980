"""Version updates: registry and model-registry events become pull requests.

``plan`` decides (pure), ``render`` words it (templates/updates), ``service`` does the I/O.
"""

from bot.updates.plan import NoUpdate, PendingUpdate, UpdatePlan, branch_for, plan_update
from bot.updates.service import UpdateOutcome, find_deployment, promote, propose_update
from bot.updates.source import UpdateSource, image_source, manual_source, model_source

__all__ = [
    "NoUpdate",
    "PendingUpdate",
    "UpdateOutcome",
    "UpdatePlan",
    "UpdateSource",
    "branch_for",
    "find_deployment",
    "image_source",
    "manual_source",
    "model_source",
    "plan_update",
    "promote",
    "propose_update",
]
