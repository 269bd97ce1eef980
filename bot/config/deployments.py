"""Deployments in ``.gitops-bot.yaml``: what triggers an update, which files it writes, how it is proposed."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Discriminator, Field, Tag, model_validator

from bot.config.canary import Canary
from bot.config.fields import (
    ImageRepository,
    KeyPath,
    Name,
    NonEmpty,
    RelativePath,
    Reviewer,
    StrictModel,
    TagPolicyText,
)
from bot.edits import file_kind
from bot.images import TargetFormat, repository_matches
from bot.versions import DEFAULT_TAG_POLICY, TagPolicy, parse_tag_policy


class ImageTrigger(StrictModel):
    repository: ImageRepository
    """``registry.example.com/serving/chat-llm``; without a host it means Docker Hub (see bot.images)."""
    tags: TagPolicyText = DEFAULT_TAG_POLICY
    """``semver:<range>``, ``regex:<pattern>`` or an exact tag; default: any stable semantic version."""

    @property
    def policy(self) -> TagPolicy:
        return parse_tag_policy(self.tags)

    def matches(self, repository: str, host: str | None = None) -> bool:
        return repository_matches(self.repository, repository, host)


class MetricGate(StrictModel):
    """A metric logged on the MLflow run behind the model version must lie within ``min``/``max``."""

    metric: NonEmpty
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _bounded(self) -> MetricGate:
        if self.min is None and self.max is None:
            raise ValueError(f"gate on {self.metric}: give min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"gate on {self.metric}: min ({self.min}) is greater than max ({self.max})")
        return self


class TagGate(StrictModel):
    """A tag of the model version (or, when it has none of that name, of its run) must equal ``equals``."""

    tag: NonEmpty
    equals: str


def _gate_kind(value: object) -> str | None:
    """``metric`` or ``tag``: which kind of gate a mapping is, by the key it names."""
    keys = value if isinstance(value, dict) else vars(value) if hasattr(value, "__dict__") else {}
    if "metric" in keys:
        return "metric"
    return "tag" if "tag" in keys else None


Gate = Annotated[
    Annotated[MetricGate, Tag("metric")] | Annotated[TagGate, Tag("tag")],
    Discriminator(
        _gate_kind,
        custom_error_type="gate_kind",
        custom_error_message="a gate is {metric: NAME, min: N, max: N} or {tag: NAME, equals: VALUE}",
    ),
]


class ModelTrigger(StrictModel):
    """An MLflow registered model: with ``alias``, fires when the alias is set; else on each new version."""

    name: NonEmpty
    alias: NonEmpty | None = None
    versions: TagPolicyText = DEFAULT_TAG_POLICY
    """Policy for MLflow version numbers (``7`` reads as 7.0.0); default: any version."""
    gates: tuple[Gate, ...] = ()
    """Checked against the MLflow run behind the version before its pull request (bot.updates.gates)."""

    @property
    def policy(self) -> TagPolicy:
        return parse_tag_policy(self.versions)


class Trigger(StrictModel):
    image: ImageTrigger | None = None
    model: ModelTrigger | None = None
    on_gate_failure: Literal["draft", "refuse"] = "draft"
    """A version failing its model gates: a draft pull request with a failed status (``draft``), or
    no pull request, only the audit log and Slack (``refuse``)."""

    @model_validator(mode="after")
    def _exactly_one(self) -> Trigger:
        if (self.image is None) == (self.model is None):
            raise ValueError("give exactly one of image or model")
        if "on_gate_failure" in self.model_fields_set and (self.model is None or not self.model.gates):
            raise ValueError("on_gate_failure needs model gates (trigger.model.gates)")
        return self

    @property
    def policy(self) -> TagPolicy:
        source = self.image if self.image is not None else self.model
        assert source is not None  # guaranteed by _exactly_one
        return source.policy


class Target(StrictModel):
    """A file the new version is written into: a YAML ``key`` or a tfvars ``variable``.

    Paths use ``bot.edits.paths`` syntax: ``image.tag``, ``containers[0].image.tag`` (``a.b.0.c``
    works too), ``serving.chat_llm.version``; quote a key containing dots: ``annotations."a.b/c"``.
    """

    file: RelativePath
    key: KeyPath | None = None
    variable: KeyPath | None = None
    format: TargetFormat = "tag"
    """What is written: ``tag`` (default; the version for model triggers), ``digest``,
    ``tag@digest``, ``image`` (``repository:tag``) or ``image@digest``."""

    @model_validator(mode="after")
    def _one_location(self) -> Target:
        if (self.key is None) == (self.variable is None):
            raise ValueError(
                "give exactly one of key (YAML files) or variable (.tfvars / .tfvars.json files)"
            )
        kind = file_kind(self.file)
        if kind is None:
            raise ValueError(f"{self.file}: only .yaml, .yml, .tfvars and .tfvars.json files can be targets")
        if kind == "yaml" and self.key is None:
            raise ValueError(f"{self.file} is a YAML file: address the value with key, not variable")
        if kind != "yaml" and self.variable is None:
            raise ValueError(f"{self.file} is a tfvars file: address the value with variable, not key")
        return self

    @property
    def location(self) -> str:
        return self.key if self.key is not None else str(self.variable)


class PullRequestSettings(StrictModel):
    labels: tuple[NonEmpty, ...] = ()
    reviewers: tuple[Reviewer, ...] = ()
    """GitHub logins, or ``team:<slug>`` for team reviewers."""
    automerge: bool = False


class Promote(StrictModel):
    to: Name


class Deployment(StrictModel):
    name: Name
    trigger: Trigger
    targets: tuple[Target, ...] = Field(min_length=1)
    pull_request: PullRequestSettings = PullRequestSettings()
    canary: Canary | None = None
    """Without a canary section a merged update is not analysed."""
    promote: Promote | None = None

    @property
    def edited_files(self) -> tuple[str, ...]:
        """Every file an update writes: the targets, and the canary's weight files when it has steps."""
        files = [target.file for target in self.targets]
        if self.canary is not None and self.canary.steps and self.canary.weight_target is not None:
            files.append(self.canary.weight_target.file)
            if self.canary.shadow is not None:
                files.append(self.canary.shadow.weight_target.file)
        return tuple(dict.fromkeys(files))
