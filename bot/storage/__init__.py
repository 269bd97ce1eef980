"""Persistence: typed SQLAlchemy models, engine set-up and schema checks."""

from bot.storage.db import Database, SchemaState
from bot.storage.models import Action, Base, Event, EventStatus, Job, JobStatus

__all__ = ["Action", "Base", "Database", "Event", "EventStatus", "Job", "JobStatus", "SchemaState"]
