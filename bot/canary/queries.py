"""PromQL for a canary: metric templates rendered safely, and an interval's queries planned and judged.

A metric's ``query`` is a Jinja2 template with four variables:

* ``{{ deployment }}``, ``{{ version }}``, ``{{ namespace }}``: label values. Every one is escaped
  for a PromQL string literal, and must sit inside a double- or single-quoted string
  (``version="{{ version }}"``); a template that puts one anywhere else is refused, so no
  version string can change the query's meaning. Quotes and control characters become ``\\xHH``
  escapes, valid in both quote styles. Inside a regex matcher use ``{{ version | regex }}`` to
  also escape regex metacharacters (``1.2.3`` then matches only itself).
* ``{{ interval }}``: the analysis interval as a Prometheus duration (``30s``, ``1m30s``), for
  range selectors such as ``rate(x[{{ interval }}])``.

Templates run in Jinja2's sandbox with ``StrictUndefined``: a misspelled variable is an error, not
an empty string. The stable version's (baseline) query is the same template with its version.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import jinja2
from jinja2 import StrictUndefined, meta
from jinja2.sandbox import SandboxedEnvironment

from bot.canary.verdict import IntervalResult, MetricSpec, Observation, evaluate_interval

LABEL_VARIABLES: tuple[str, ...] = ("deployment", "version", "namespace")
TEMPLATE_VARIABLES: tuple[str, ...] = (*LABEL_VARIABLES, "interval")

_DURATION = re.compile(r"(?:(?P<h>\d+)h)?(?:(?P<m>\d+)m)?(?:(?P<s>\d+)s)?")
_SENTINEL = "GITOPSBOTVAR{}X"


class QueryTemplateError(ValueError):
    """A metric query template cannot be rendered safely; the message says what to change."""


@dataclass(frozen=True)
class QueryContext:
    """The values a template is rendered with. ``interval`` is already a Prometheus duration."""

    deployment: str
    version: str
    interval: str
    namespace: str | None = None

    @classmethod
    def create(
        cls,
        *,
        deployment: str,
        version: str,
        interval: int | float | str | timedelta,
        namespace: str | None = None,
    ) -> QueryContext:
        return cls(
            deployment=deployment,
            version=version,
            interval=prometheus_duration(interval),
            namespace=namespace,
        )

    def for_version(self, version: str) -> QueryContext:
        return replace(self, version=version)

    def variables(self) -> dict[str, str]:
        values = {"deployment": self.deployment, "version": self.version, "interval": self.interval}
        if self.namespace is not None:
            values["namespace"] = self.namespace
        return values


def prometheus_duration(interval: int | float | str | timedelta) -> str:
    """Seconds, a ``timedelta`` or ``30s``/``10m``/``1h30m`` → canonical Prometheus duration."""
    if isinstance(interval, bool):
        raise ValueError("an interval must be a duration, not a bool")
    if isinstance(interval, timedelta):
        seconds = interval.total_seconds()
    elif isinstance(interval, int | float):
        seconds = float(interval)
    elif isinstance(interval, str):
        match = _DURATION.fullmatch(interval.strip())
        if not match or not any(match.groupdict().values()):
            raise ValueError(f"expected an interval like 30s, 10m or 1h30m, got {interval!r}")
        seconds = float(
            int(match.group("h") or 0) * 3600 + int(match.group("m") or 0) * 60 + int(match.group("s") or 0)
        )
    else:
        raise TypeError(f"an interval must be seconds, a timedelta or a duration string, not {interval!r}")
    if not math.isfinite(seconds) or seconds < 1 or seconds != int(seconds):
        raise ValueError(f"an interval must be a whole number of seconds, at least 1; got {interval!r}")
    hours, rest = divmod(int(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return "".join(
        f"{amount}{unit}" for amount, unit in ((hours, "h"), (minutes, "m"), (secs, "s")) if amount
    )


def escape_label_value(value: object) -> str:
    """Escape text for the inside of a PromQL ``"..."`` or ``'...'`` string literal.

    A backslash is doubled; quotes (all three kinds), control characters and DEL become ``\\xHH``,
    which Prometheus accepts in either quote style (``\\'`` would be an error inside ``"..."``).
    """
    text = str(value)
    out: list[str] = []
    for char in text:
        if char == "\\":
            out.append("\\\\")
        elif char in "\"'`" or ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\x{ord(char):02x}")
        else:
            out.append(char)
    return "".join(out)


def regex_escape(value: object) -> str:
    """Escape RE2 metacharacters, for a label value used inside ``=~"..."`` (the ``regex`` filter)."""
    return re.sub(r"([\\.+*?()|\[\]{}^$])", r"\\\1", str(value))


def _environment() -> SandboxedEnvironment:
    # One per compiled template (see _compiled): a module-level one would be shared mutable state.
    environment = SandboxedEnvironment(
        undefined=StrictUndefined,
        autoescape=False,
        finalize=escape_label_value,
        keep_trailing_newline=False,
    )
    # No globals: Jinja's defaults include ``namespace`` (a class), which would silently stand in for
    # an unset {{ namespace }}, and ``range``/``lipsum``, which a query has no use for.
    environment.globals.clear()
    environment.filters["regex"] = regex_escape
    return environment


# Analyses render the same few queries every interval, and compiling one costs far more than
# rendering it: each distinct template is checked and compiled once per process. A template
# that is refused is not remembered (lru_cache keeps no exceptions) and is refused again.
@functools.lru_cache(maxsize=1024)
def check_template(template: str) -> None:
    """Refuse a template that does not parse, names unknown variables, or misplaces a label variable."""
    try:
        parsed = _environment().parse(template)
    except jinja2.TemplateSyntaxError as exc:
        raise QueryTemplateError(f"query template line {exc.lineno}: {exc.message}") from exc
    unknown = sorted(meta.find_undeclared_variables(parsed) - set(TEMPLATE_VARIABLES))
    if unknown:
        raise QueryTemplateError(
            f"query template uses unknown variable(s) {', '.join(unknown)}; "
            f"available: {', '.join(TEMPLATE_VARIABLES)}"
        )
    _check_label_placement(template, meta.find_undeclared_variables(parsed))


@functools.lru_cache(maxsize=1024)
def _compiled(template: str) -> jinja2.Template:
    """``template`` compiled in an environment of its own, which nothing changes afterwards."""
    return _environment().from_string(template)


def render_query(template: str, context: QueryContext) -> str:
    """Render ``template`` for ``context``; raises :class:`QueryTemplateError` with the reason."""
    check_template(template)
    try:
        rendered = _compiled(template).render(context.variables())
    except jinja2.UndefinedError as exc:
        if "namespace" in str(exc):
            raise QueryTemplateError(
                "the query uses {{ namespace }} but no namespace is known for this deployment "
                "(set canary.readiness.namespace, or leave namespace out of the query)"
            ) from exc
        raise QueryTemplateError(f"query template: {exc.message}") from exc
    except jinja2.TemplateError as exc:  # sandbox violations, filter errors
        raise QueryTemplateError(f"query template: {exc}") from exc
    rendered = rendered.strip()
    if not rendered:
        raise QueryTemplateError("query template renders to an empty query")
    return rendered


def _check_label_placement(template: str, used: set[str]) -> None:
    """Render with marker values and check each label variable lands inside a quoted string."""
    checked = [name for name in LABEL_VARIABLES if name in used]
    if not checked:
        return
    markers = {name: _SENTINEL.format(position) for position, name in enumerate(LABEL_VARIABLES)}
    try:
        probe = _compiled(template).render({**markers, "interval": "1m"})
    except jinja2.TemplateError as exc:
        raise QueryTemplateError(f"query template: {exc}") from exc
    spans = _quoted_string_spans(probe)
    for name in checked:
        marker = markers[name]
        positions = [match.start() for match in re.finditer(re.escape(marker), probe)]
        if not positions:
            raise QueryTemplateError(
                f"cannot verify where {{{{ {name} }}}} lands in the query; use it as a plain "
                f'label value such as {name}="{{{{ {name} }}}}"'
            )
        for position in positions:
            if not any(start <= position and position + len(marker) <= end for start, end in spans):
                raise QueryTemplateError(
                    f"{{{{ {name} }}}} must be inside a double- or single-quoted PromQL string "
                    f'(like {name}="{{{{ {name} }}}}"), so its value cannot change the query'
                )


def _quoted_string_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of the inside of each ``"..."``/``'...'`` literal; comments and raw strings skipped."""
    spans: list[tuple[int, int]] = []
    index, length = 0, len(text)
    while index < length:
        char = text[index]
        if char == "#":  # a comment runs to the end of the line
            newline = text.find("\n", index)
            index = length if newline < 0 else newline + 1
        elif char == "`":  # raw string: no escapes, so a label variable inside it is not protected
            closing = text.find("`", index + 1)
            index = length if closing < 0 else closing + 1
        elif char in "\"'":
            start = index + 1
            index = start
            while index < length and text[index] != char:
                index += 2 if text[index] == "\\" else 1
            spans.append((start, min(index, length)))
            index += 1
        else:
            index += 1
    return spans


# --------------------------------------------------------------------------- an interval's queries


@dataclass(frozen=True)
class RenderedMetric:
    spec: MetricSpec
    query: str
    baseline_query: str | None
    """Same template for the stable version; None when the spec needs no baseline or none is known."""


@dataclass(frozen=True)
class IntervalQueries:
    """Every PromQL query one interval needs, rendered: run them, then :func:`evaluate_outcomes`."""

    metrics: tuple[RenderedMetric, ...]
    request_count_query: str

    def queries(self) -> tuple[str, ...]:
        """Each distinct query once, in a stable order (metrics, baselines, request count)."""
        ordered: dict[str, None] = {}
        for metric in self.metrics:
            ordered.setdefault(metric.query)
            if metric.baseline_query is not None:
                ordered.setdefault(metric.baseline_query)
        ordered.setdefault(self.request_count_query)
        return tuple(ordered)


def render_interval_queries(
    specs: Sequence[MetricSpec],
    context: QueryContext,
    *,
    request_count_template: str,
    stable_version: str | None,
) -> IntervalQueries:
    """Render each metric for the canary (``context.version``) and, when it has a baseline bound and
    the stable version is known, for ``stable_version``; plus the request-count query."""
    rendered: list[RenderedMetric] = []
    for spec in specs:
        try:
            query = render_query(spec.query, context)
            baseline = (
                render_query(spec.query, context.for_version(stable_version))
                if spec.uses_baseline and stable_version is not None
                else None
            )
        except QueryTemplateError as exc:
            raise QueryTemplateError(f"metric {spec.name!r}: {exc}") from exc
        rendered.append(RenderedMetric(spec=spec, query=query, baseline_query=baseline))
    try:
        request_count_query = render_query(request_count_template, context)
    except QueryTemplateError as exc:
        raise QueryTemplateError(f"request count query: {exc}") from exc
    return IntervalQueries(metrics=tuple(rendered), request_count_query=request_count_query)


@dataclass(frozen=True)
class _Missing:
    """Stands for a query the caller did not run (or the stable version being unknown)."""

    error: str
    value: float | None = None


def evaluate_outcomes(
    queries: IntervalQueries,
    outcomes: Mapping[str, Observation | float | None],
    *,
    min_requests: int,
    index: int = 0,
    at: datetime | None = None,
) -> IntervalResult:
    """Judge an interval from the answers to ``queries.queries()`` (keyed by query text)."""
    not_run = _Missing("query was not run")
    values = {metric.spec.name: outcomes.get(metric.query, not_run) for metric in queries.metrics}
    baseline_values = {
        metric.spec.name: (
            outcomes.get(metric.baseline_query, not_run)
            if metric.baseline_query is not None
            else _Missing("stable version unknown")
        )
        for metric in queries.metrics
    }
    return evaluate_interval(
        [metric.spec for metric in queries.metrics],
        values,
        baseline_values,
        outcomes.get(queries.request_count_query, not_run),
        min_requests,
        index=index,
        at=at,
    )
