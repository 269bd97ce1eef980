"""The durable state of the bot, one module per concern; every table is mapped on one ``Base``.

Importing this package maps every table (Alembic's autogenerate and the schema check read
``Base.metadata``), and names each model and status here, so callers import them from
``bot.storage.models`` whichever module defines them.
"""

from bot.storage.models.base import Base
from bot.storage.models.deployments import Analysis, AnalysisInterval, AnalysisStep, Deployment
from bot.storage.models.events import Action, Event, Job, SchedulerLease
from bot.storage.models.local_forge import LocalComment, LocalReview, LocalStatus, LocalThread
from bot.storage.models.slack import SlackThread
from bot.storage.models.statuses import (
    AnalysisStatus,
    DeploymentStatus,
    EventStatus,
    JobStatus,
    PlanStatus,
    TerraformJobRunStatus,
    TerraformRunStatus,
    UpdateStatus,
)
from bot.storage.models.terraform import (
    DriftCheck,
    Lock,
    Plan,
    TerraformJobRun,
    TerraformRun,
    TerraformRunLine,
)
from bot.storage.models.updates import Quarantine, UpdateRequest

__all__ = [
    "Action",
    "Analysis",
    "AnalysisInterval",
    "AnalysisStatus",
    "AnalysisStep",
    "Base",
    "Deployment",
    "DeploymentStatus",
    "DriftCheck",
    "Event",
    "EventStatus",
    "Job",
    "JobStatus",
    "LocalComment",
    "LocalReview",
    "LocalStatus",
    "LocalThread",
    "Lock",
    "Plan",
    "PlanStatus",
    "Quarantine",
    "SchedulerLease",
    "SlackThread",
    "TerraformJobRun",
    "TerraformJobRunStatus",
    "TerraformRun",
    "TerraformRunLine",
    "TerraformRunStatus",
    "UpdateRequest",
    "UpdateStatus",
]
