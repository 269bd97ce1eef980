"""Typed domain events and the envelope every parser returns.

Parsers (``bot.events.github``, ``.registry``, ``.mlflow``, ``.alertmanager``, ``.slack``)
turn one verified webhook request into ``ParsedEvent`` values. A ``ParsedEvent`` carries
what intake needs to store and route the delivery (source, routing key, delivery id,
dedupe key, raw payload) and, when the bot acts on it, a typed ``DomainEvent``.

Domain events are frozen pydantic models with a ``kind`` discriminator so that workers
can rebuild them from the stored JSON with ``domain_event_from_json``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter


class MalformedEvent(ValueError):
    """The request cannot be understood; the message is shown to the sender in a 400 answer."""


class _Frozen(BaseModel):
    # Extra fields are refused so a stored row that does not match the model is noticed
    # rather than silently losing data on the way back in.
    model_config = ConfigDict(frozen=True, extra="forbid")


# --- GitHub -------------------------------------------------------------------------------


class PullRequestComment(_Frozen):
    """A new comment on a pull request's conversation (GitHub ``issue_comment`` created)."""

    kind: Literal["pr_comment"] = "pr_comment"
    repo: str
    pr_number: int
    comment_id: int
    comment_url: str
    html_url: str
    author: str
    author_type: str | None = None  # "User", "Bot", ...: lets handlers ignore other bots
    author_association: str
    body: str
    installation_id: int | None = None
    created_at: datetime | None = None


class PullRequestChanged(_Frozen):
    """Any ``pull_request`` action (opened, synchronize, reopened, closed, labeled, ...)."""

    kind: Literal["pull_request"] = "pull_request"
    action: str
    repo: str
    number: int
    title: str
    author: str
    head_sha: str
    head_ref: str
    head_repo: str | None  # None when the fork behind the pull request was deleted
    base_ref: str
    base_sha: str
    is_fork: bool
    merged: bool
    merge_commit_sha: str | None = None
    draft: bool = False
    labels: tuple[str, ...] = ()
    html_url: str
    installation_id: int | None = None
    default_branch: str | None = None


class Push(_Frozen):
    """A ``push`` to a branch or tag."""

    kind: Literal["push"] = "push"
    repo: str
    ref: str
    before: str
    after: str
    default_branch: str | None = None
    pusher: str | None = None
    installation_id: int | None = None
    changed_files: tuple[str, ...] = ()
    # GitHub lists at most 2048 commits per push; past that ``changed_files`` is partial
    # and a handler that needs every path must ask the compare API.
    changed_files_complete: bool = True
    forced: bool = False
    deleted: bool = False
    created: bool = False

    @property
    def branch(self) -> str | None:
        prefix = "refs/heads/"
        return self.ref[len(prefix) :] if self.ref.startswith(prefix) else None

    @property
    def is_default_branch(self) -> bool:
        return self.default_branch is not None and self.branch == self.default_branch


class PipelineFinished(_Frozen):
    """A GitLab pipeline for a merge request reached a final state (``success``, ``failed``...):
    the moment an automerge check may pass, as GitHub's ``check_suite`` completed would be."""

    kind: Literal["pipeline"] = "pipeline"
    repo: str
    status: str
    sha: str
    ref: str | None = None
    merge_request: int | None = None


# --- Registries -----------------------------------------------------------------------------

ImageFormat = Literal["distribution", "harbor", "harbor-cloudevents", "dockerhub", "github-package"]


class ImagePushed(_Frozen):
    """A manifest (image or index) pushed to a container registry."""

    kind: Literal["image_pushed"] = "image_pushed"
    registry: str  # lower-case host[:port]; "docker.io" for Docker Hub
    repository: str  # path inside the registry, no host; "library/x" for official images
    tag: str | None = None
    digest: str | None = None
    media_type: str | None = None
    format: ImageFormat
    event_id: str
    pushed_at: datetime | None = None
    actor: str | None = None

    @property
    def image(self) -> str:
        """``registry/repository``, the form deployments name in their image trigger."""
        return f"{self.registry}/{self.repository}"

    @property
    def reference(self) -> str:
        """``registry/repository[:tag][@digest]``."""
        ref = self.image
        if self.tag:
            ref += f":{self.tag}"
        if self.digest:
            ref += f"@{self.digest}"
        return ref


# --- MLflow ---------------------------------------------------------------------------------


class ModelVersionCreated(_Frozen):
    kind: Literal["model_version_created"] = "model_version_created"
    name: str
    version: str
    source: str | None = None
    run_id: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    description: str | None = None
    workspace: str | None = None
    timestamp: datetime | None = None


class ModelVersionAliasSet(_Frozen):
    kind: Literal["model_version_alias_set"] = "model_version_alias_set"
    name: str
    alias: str
    version: str
    workspace: str | None = None
    timestamp: datetime | None = None


# --- Alertmanager -----------------------------------------------------------------------------


class Alert(_Frozen):
    status: Literal["firing", "resolved"]
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    starts_at: datetime | None = None
    ends_at: datetime | None = None  # None while firing (Alertmanager sends the zero time)
    fingerprint: str | None = None
    generator_url: str | None = None


class AlertNotification(_Frozen):
    kind: Literal["alert_notification"] = "alert_notification"
    status: Literal["firing", "resolved"]
    receiver: str
    group_key: str
    group_labels: dict[str, str] = Field(default_factory=dict)
    common_labels: dict[str, str] = Field(default_factory=dict)
    common_annotations: dict[str, str] = Field(default_factory=dict)
    external_url: str | None = None
    truncated_alerts: int = 0
    alerts: tuple[Alert, ...] = ()


# --- Slack ----------------------------------------------------------------------------------


class SlackCommand(_Frozen):
    kind: Literal["slack_command"] = "slack_command"
    command: str  # as typed, with the slash: "/gitops"
    text: str
    user_id: str
    user_name: str | None = None
    team_id: str
    team_domain: str | None = None
    channel_id: str
    channel_name: str | None = None
    response_url: str
    trigger_id: str
    api_app_id: str | None = None


class SlackAction(_Frozen):
    action_id: str
    block_id: str | None = None
    value: str | None = None  # button value, or the selected option's value for menus
    type: str | None = None
    action_ts: str | None = None


class SlackInteraction(_Frozen):
    kind: Literal["slack_interaction"] = "slack_interaction"
    type: str
    user_id: str
    user_name: str | None = None
    team_id: str | None = None
    channel_id: str | None = None
    message_ts: str | None = None
    response_url: str | None = None
    trigger_id: str | None = None
    actions: tuple[SlackAction, ...] = ()


DomainEvent = Annotated[
    PullRequestComment
    | PullRequestChanged
    | Push
    | PipelineFinished
    | ImagePushed
    | ModelVersionCreated
    | ModelVersionAliasSet
    | AlertNotification
    | SlackCommand
    | SlackInteraction,
    Field(discriminator="kind"),
]

# Built once: a TypeAdapter is immutable, like a compiled regular expression.
_DOMAIN_EVENT_ADAPTER: Final[TypeAdapter[DomainEvent]] = TypeAdapter(DomainEvent)


def domain_event_from_json(data: Mapping[str, Any]) -> DomainEvent:
    """Rebuild a domain event from ``event.model_dump(mode="json")`` (e.g. a stored row)."""
    if not isinstance(data, Mapping):
        raise MalformedEvent(f"a stored domain event must be a JSON object, got {type(data).__name__}")
    return _DOMAIN_EVENT_ADAPTER.validate_python(dict(data))


# --- What parsers return ----------------------------------------------------------------------


@dataclass(frozen=True)
class ParsedEvent:
    source: str  # "github" | "registry" | "mlflow" | "alertmanager" | "slack"
    event: str
    action: str | None
    delivery_id: str
    dedupe_key: str
    payload: Mapping[str, Any]
    domain: DomainEvent | None
    ignored_reason: str | None = None
    # The payload's JSON text, once the intake has proven it storable as it is
    # (bot.intake.storable): the database is then handed this text instead of writing it again.
    payload_json: bytes | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        # Exactly one of them: an event is either acted on or ignored for a stated reason.
        if (self.domain is None) == (self.ignored_reason is None):
            raise ValueError("a ParsedEvent needs either a domain event or an ignored_reason, not both")

    @property
    def routing_key(self) -> tuple[str, str, str | None]:
        return (self.source, self.event, self.action)

    @property
    def ignored(self) -> bool:
        return self.domain is None
