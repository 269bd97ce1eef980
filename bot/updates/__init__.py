"""Version updates: registry and model-registry events become pull requests.

``plan`` decides (pure), ``render`` words it (templates/updates), ``outcome`` decides what a
proposal's result means (pure), ``propose`` and ``branch`` do the I/O, ``store`` owns the
``UpdateRequest`` rows, ``service`` and ``automerge`` are what the handlers call.
"""

from bot.updates.outcome import UpdateAsk, UpdateOutcome
from bot.updates.plan import NoUpdate, PendingUpdate, UpdatePlan, branch_for, plan_update
from bot.updates.propose import find_deployment, propose_update
from bot.updates.service import promote
from bot.updates.source import UpdateSource, image_source, manual_source, model_source
from bot.updates.store import UpdateStore

__all__ = [
    "NoUpdate",
    "PendingUpdate",
    "UpdateAsk",
    "UpdateOutcome",
    "UpdatePlan",
    "UpdateSource",
    "UpdateStore",
    "branch_for",
    "find_deployment",
    "image_source",
    "manual_source",
    "model_source",
    "plan_update",
    "promote",
    "propose_update",
]
