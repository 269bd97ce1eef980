"""Pure decisions for deployments: what a merged change deployed, how its analysis runs, how to undo it.

No I/O here. The services (``bot.deployments.service``) read git and the database, call these
functions with what they read, and act on the answers.

* :func:`deployments_touched` — which configured deployments a merged pull request changed, and the
  version now written in their targets (git is the truth: the values are read from the merge commit).
* :func:`analysis_plan` — everything an analysis needs, fixed when it starts (rendered PromQL
  included), as JSON for the ``analyses.config`` column, so a restart or a later config change
  never alters a running analysis.
* :func:`rollback_decision` — whether a deployment may be rolled back now, and why not.
* Names: the revert branch, the revert title, Prometheus graph links.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal

from bot.canary import (
    IntervalQueries,
    MetricSpec,
    QueryContext,
    RenderedMetric,
    VllmDefaults,
    metric_specs_for,
    prometheus_duration,
    render_interval_queries,
)
from bot.config.schema import Canary, Deployment, RepoConfig, Target
from bot.edits import EditError, apply_edit

REVERT_BRANCH_PREFIX = "gitops-bot/revert/"
BOT_ACTOR = "gitops-bot"

# Deployment.status values.
ANALYSING = "analysing"
PASSED = "passed"
FAILED = "failed"
INCONCLUSIVE = "inconclusive"
ROLLING_BACK = "rolling_back"
ROLLED_BACK = "rolled_back"
SUPERSEDED = "superseded"
RECORDED = "recorded"  # merged, but its config has no canary section: nothing to analyse

# Analysis.status values that are still in progress.
ACTIVE_ANALYSIS = ("waiting_rollout", "running")

_REF_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_PROBE = "gitops-bot-probe-value"


# --------------------------------------------------------------------------- what a merge deployed


@dataclass(frozen=True)
class TouchedDeployment:
    """A deployment whose target files a merged pull request changed, and what it now runs."""

    name: str
    version: str
    previous_version: str | None
    digest: str | None
    files: tuple[str, ...]


def read_target_value(path: str, text: str, target: Target | str) -> str | None:
    """The string at the target's key/variable in ``text`` (the file at ``path``), or None.

    Reading goes through the editors of :mod:`bot.edits` on purpose: they report the value they
    would replace (``old_value``), so "where the version is written" means exactly the same thing
    for reading a merge as for writing an update. Nothing is written. None when the key is missing
    or the value is not a plain string/number.
    """
    try:
        return apply_edit(path, text, target, _PROBE).old_value
    except EditError:
        return None


def split_written_value(target_format: str, value: str) -> tuple[str, str | None]:
    """(version, digest) from what a target holds in its ``format`` (see ``bot.images``).

    ``tag`` → (``1.2.3``, None); ``digest`` → (``sha256:…``, ``sha256:…``); ``tag@digest`` →
    (``1.2.3``, ``sha256:…``); ``image`` → the tag after the last ``:`` of the last path part;
    ``image@digest`` → both.
    """
    text = value.strip()
    if target_format == "digest":
        return text, text
    digest: str | None = None
    if "@" in text:
        text, _, digest = text.partition("@")
    if target_format in ("image", "image@digest"):
        last = text.rsplit("/", 1)[-1]
        if ":" in last:
            text = last.rsplit(":", 1)[1]
        elif digest is not None:
            return digest, digest
    return text, digest or None


def deployments_touched(
    config: RepoConfig,
    changed_files: Collection[str],
    read_merged: Callable[[str], str | None],
    read_before: Callable[[str], str | None],
) -> list[TouchedDeployment]:
    """Deployments whose targets the merge changed, with the version now in git.

    ``read_merged(path)``/``read_before(path)`` return the file's text at the merge commit and at
    its first parent (None when absent). A deployment counts when one of its target files is among
    ``changed_files`` and the version read from its targets differs from the one before: a PR that
    edits a values file without changing the version deploys nothing new. The version comes from
    the first target that holds one (targets of one deployment carry the same version).
    """
    changed = set(changed_files)
    cache_merged: dict[str, str | None] = {}
    cache_before: dict[str, str | None] = {}

    def merged(path: str) -> str | None:
        if path not in cache_merged:
            cache_merged[path] = read_merged(path)
        return cache_merged[path]

    def before(path: str) -> str | None:
        if path not in cache_before:
            cache_before[path] = read_before(path)
        return cache_before[path]

    touched: list[TouchedDeployment] = []
    for deployment in config.deployments:
        files = tuple(dict.fromkeys(t.file for t in deployment.targets if t.file in changed))
        if not files:
            continue
        now = _version_in(deployment.targets, merged)
        if now is None:
            continue
        was = _version_in(deployment.targets, before)
        if was is not None and was[0] == now[0] and was[1] == now[1]:
            continue
        touched.append(
            TouchedDeployment(
                name=deployment.name,
                version=now[0],
                previous_version=None if was is None else was[0],
                digest=now[1],
                files=files,
            )
        )
    return touched


def _version_in(
    targets: Sequence[Target], read: Callable[[str], str | None]
) -> tuple[str, str | None] | None:
    version: str | None = None
    digest: str | None = None
    for target in targets:
        text = read(target.file)
        if text is None:
            continue
        value = read_target_value(target.file, text, target)
        if not value:
            continue
        found, found_digest = split_written_value(target.format, value)
        digest = digest or found_digest
        if version is None and target.format != "digest":
            version = found
    if version is None:
        version = digest  # digest-only targets: the digest is the version
    return None if version is None else (version, digest)


# --------------------------------------------------------------------------- the analysis plan


@dataclass(frozen=True)
class ReadinessPlan:
    namespace: str
    deployment: str
    timeout_seconds: int


@dataclass(frozen=True)
class PlannedMetric:
    name: str
    query: str
    baseline_query: str | None
    min: float | None = None
    max: float | None = None
    baseline_relative_max: float | None = None
    baseline_relative_min: float | None = None

    def spec(self, template: str) -> MetricSpec:
        return MetricSpec(
            name=self.name,
            query=template,
            min=self.min,
            max=self.max,
            baseline_relative_max=self.baseline_relative_max,
            baseline_relative_min=self.baseline_relative_min,
        )


@dataclass(frozen=True)
class AnalysisPlan:
    """An analysis, fixed when it starts; stored as JSON in ``analyses.config``."""

    repo: str
    deployment: str
    version: str
    stable_version: str | None
    interval_seconds: int
    duration_seconds: int
    failure_limit: int
    inconclusive_limit: int
    min_requests: int
    on_failure: Literal["revert", "notify"]
    rollback_automerge: bool
    metrics: tuple[PlannedMetric, ...]
    request_count_query: str
    readiness: ReadinessPlan | None = None
    namespace: str | None = None
    promote_to: str | None = None
    channel: str | None = None
    installation_id: int | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    # The protocol bot.canary.decide reads.
    @property
    def duration(self) -> int:
        return self.duration_seconds

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["metrics"] = [asdict(metric) for metric in self.metrics]
        data["extra"] = dict(self.extra)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AnalysisPlan:
        readiness = data.get("readiness")
        return cls(
            repo=data["repo"],
            deployment=data["deployment"],
            version=data["version"],
            stable_version=data.get("stable_version"),
            interval_seconds=int(data["interval_seconds"]),
            duration_seconds=int(data["duration_seconds"]),
            failure_limit=int(data["failure_limit"]),
            inconclusive_limit=int(data["inconclusive_limit"]),
            min_requests=int(data["min_requests"]),
            on_failure=data["on_failure"],
            rollback_automerge=bool(data["rollback_automerge"]),
            metrics=tuple(PlannedMetric(**metric) for metric in data["metrics"]),
            request_count_query=data["request_count_query"],
            readiness=ReadinessPlan(**readiness) if readiness else None,
            namespace=data.get("namespace"),
            promote_to=data.get("promote_to"),
            channel=data.get("channel"),
            installation_id=data.get("installation_id"),
            extra=dict(data.get("extra") or {}),
        )

    def interval_queries(self) -> IntervalQueries:
        """The rendered queries as ``bot.canary`` evaluates them (templates are not needed again)."""
        return IntervalQueries(
            metrics=tuple(
                RenderedMetric(
                    spec=metric.spec(metric.query), query=metric.query, baseline_query=metric.baseline_query
                )
                for metric in self.metrics
            ),
            request_count_query=self.request_count_query,
        )

    def queries(self) -> tuple[str, ...]:
        return self.interval_queries().queries()


def analysis_plan(
    *,
    repo: str,
    deployment: Deployment,
    canary: Canary,
    version: str,
    stable_version: str | None,
    defaults: VllmDefaults,
    channel: str | None = None,
    installation_id: int | None = None,
) -> AnalysisPlan:
    """Render every query once, for the canary and (for baseline bounds) the stable version.

    Raises ``bot.canary.QueryTemplateError`` with the metric's name when a template is unusable.
    """
    readiness = canary.readiness
    namespace = readiness.namespace if readiness is not None else None
    specs = metric_specs_for(canary.metrics, defaults)
    context = QueryContext.create(
        deployment=deployment.name, version=version, interval=canary.interval, namespace=namespace
    )
    request_count_template = defaults.request_count_query()
    rendered = render_interval_queries(
        specs, context, request_count_template=request_count_template, stable_version=stable_version
    )
    return AnalysisPlan(
        repo=repo,
        deployment=deployment.name,
        version=version,
        stable_version=stable_version,
        interval_seconds=canary.interval,
        duration_seconds=canary.duration,
        failure_limit=canary.failure_limit,
        inconclusive_limit=canary.inconclusive_limit,
        min_requests=canary.min_requests,
        on_failure=canary.on_failure,
        rollback_automerge=canary.rollback.automerge,
        metrics=tuple(
            PlannedMetric(
                name=item.spec.name,
                query=item.query,
                baseline_query=item.baseline_query,
                min=item.spec.min,
                max=item.spec.max,
                baseline_relative_max=item.spec.baseline_relative_max,
                baseline_relative_min=item.spec.baseline_relative_min,
            )
            for item in rendered.metrics
        ),
        request_count_query=rendered.request_count_query,
        readiness=(
            ReadinessPlan(readiness.namespace, readiness.deployment, readiness.timeout)
            if readiness is not None
            else None
        ),
        namespace=namespace,
        promote_to=deployment.promote.to if deployment.promote is not None else None,
        channel=channel,
        installation_id=installation_id,
    )


# --------------------------------------------------------------------------- rollback


RollbackVerdict = Literal["proceed", "resume", "already_rolled_back", "refused"]


@dataclass(frozen=True)
class RollbackDecision:
    verdict: RollbackVerdict
    reason: str


def rollback_decision(status: str, *, has_rollback_pr: bool) -> RollbackDecision:
    """May this deployment be rolled back now? Never twice: a rolled-back one stays as it is, and a
    rollback in progress is resumed (its steps are idempotent) rather than started again."""
    if status == ROLLED_BACK:
        return RollbackDecision("already_rolled_back", "this deployment was already rolled back")
    if status == ROLLING_BACK:
        what = "its revert pull request is open" if has_rollback_pr else "a rollback is under way"
        return RollbackDecision("resume", f"rollback already started; {what}")
    if status == SUPERSEDED:
        return RollbackDecision(
            "refused",
            "a newer version of this deployment has merged since; roll back the newer one instead",
        )
    return RollbackDecision("proceed", f"deployment is {status}")


def is_revert_branch(head_ref: str) -> bool:
    return head_ref.startswith(REVERT_BRANCH_PREFIX)


def revert_branch(deployment: str, version: str) -> str:
    """``gitops-bot/revert/<deployment>/<version>``, with characters git refuses replaced."""
    safe_version = _REF_UNSAFE.sub("-", version).strip(".-") or "version"
    safe_deployment = _REF_UNSAFE.sub("-", deployment).strip(".-") or "deployment"
    branch = f"{REVERT_BRANCH_PREFIX}{safe_deployment}/{safe_version}"
    return branch.replace("..", "-").removesuffix(".lock")


def revert_title(original_title: str | None, deployment: str, version: str) -> str:
    title = (original_title or "").strip() or f"{deployment} {version}"
    return f'Revert "{title}"'


def graph_url(prometheus_url: str, query: str, *, at: datetime | None, window_seconds: int) -> str:
    """A link to the query in Prometheus's graph page, ending at ``at`` over a few windows."""
    params = {
        "g0.expr": query,
        "g0.tab": "0",
        "g0.range_input": prometheus_duration(max(60, window_seconds * 10)),
    }
    if at is not None:
        params["g0.end_input"] = at.strftime("%Y-%m-%d %H:%M:%S")
        params["g0.moment_input"] = at.strftime("%Y-%m-%d %H:%M:%S")
    return f"{prometheus_url.rstrip('/')}/graph?{urllib.parse.urlencode(params)}"


def alert_matches(labels: Mapping[str, str], *, deployment: str, version: str) -> bool:
    """An alert names a deployment under analysis: its ``deployment`` label, and ``version`` if set."""
    if labels.get("deployment") != deployment:
        return False
    wanted = labels.get("version")
    return wanted is None or wanted == version
