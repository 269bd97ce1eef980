"""Persistence: typed SQLAlchemy models, their status values, engine set-up and schema checks."""

from bot.storage.db import Database, SchemaState
from bot.storage.models import (
    Action,
    AnalysisStatus,
    Base,
    DeploymentStatus,
    Event,
    EventStatus,
    Job,
    JobStatus,
    PlanStatus,
    UpdateStatus,
)
from bot.storage.statements import insert_ignoring_conflicts, upsert

__all__ = [
    "Action",
    "AnalysisStatus",
    "Base",
    "Database",
    "DeploymentStatus",
    "Event",
    "EventStatus",
    "Job",
    "JobStatus",
    "PlanStatus",
    "SchemaState",
    "UpdateStatus",
    "insert_ignoring_conflicts",
    "upsert",
]
