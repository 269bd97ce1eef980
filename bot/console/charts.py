"""Chart geometry: a canary metric's value per interval, its bound and the baseline, as SVG shapes.

Pure (no I/O, no templates). :func:`metric_chart` scales the series into a fixed viewBox and returns
a :class:`Chart` of coordinates, paths and texts; ``templates/console/chart.html.j2`` draws it, so
every text (metric names, reasons, links) goes through the templates' escaping, never through
string building here. The viewBox lets the browser scale the drawing to any width (a phone too).

Rules the drawing keeps:

* a value that is missing, NaN or infinite is a gap: the line breaks there, and the interval's
  marker sits hollow on the x axis, so "no data" is visible and never drawn as zero;
* the y range holds every value, bound and baseline, and starts at zero for metrics that are never
  negative, so heights compare honestly; all-equal values still get a range;
* a failed interval is a red diamond, an inconclusive one an amber triangle, a passed one a green
  circle: colour and shape, each with its hover text (``title``) and a link (``href``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

Direction = Literal["max", "min"]
PointStatus = Literal["pass", "fail", "inconclusive", "missing"]

WIDTH, HEIGHT = 480, 250
LEFT, RIGHT, TOP, BOTTOM = 62, 14, 16, 46  # margins: y tick labels and title; x tick labels and title
EDGE = 24.0  # space between the axes and the first and last point (half an x label)
MARKER = 5.5  # marker radius
TARGET_TICKS = 4


@dataclass(frozen=True)
class Unit:
    """How a metric's numbers read: its axis title and how a value is written (``5%``, ``80 ms``)."""

    title: str  # "" when the unit is unknown
    scale: float = 1.0
    suffix: str = ""
    tick_suffix: str = ""  # "%" only: the y axis title names the unit, and long ticks hit it

    def text(self, value: float) -> str:
        return f"{number(value * self.scale)}{self.suffix}"


NO_UNIT = Unit("")
SECONDS = Unit("seconds", 1.0, " s")
MILLISECONDS = Unit("milliseconds", 1000.0, " ms")
PERCENT = Unit("percent", 100.0, "%", "%")


def metric_unit(name: str, query: str, values: Sequence[float | None] = ()) -> Unit:
    """The unit a metric's name or query implies (the config has no unit field): seconds for
    latencies (milliseconds when every value is below one second), percent for ratios and
    usages, tokens per second, cost per million tokens; none when nothing says."""
    lowered, expr = name.lower(), query.lower()
    if any(word in lowered for word in ("ttft", "latency", "duration", "seconds")) or (
        "_seconds" in expr and "histogram_quantile" in expr
    ):
        finite = [abs(value) for value in values if value is not None and math.isfinite(value)]
        return MILLISECONDS if finite and max(finite) < 1 else SECONDS
    if ("error" in lowered and "rate" in lowered) or lowered.endswith(
        ("_ratio", "_perc", "_percent", "_usage", "_share")
    ):
        return PERCENT
    if "tokens_per_second" in lowered:
        return Unit("tokens per second", 1.0, " tok/s")
    if "cost_per_million_tokens" in lowered:
        return Unit("cost per 1M tokens")
    if lowered.endswith("_bytes"):
        return Unit("bytes", 1.0, " B")
    if lowered.endswith(("_per_second", "_rps")):
        return Unit("per second", 1.0, "/s")
    return NO_UNIT


def number(value: float) -> str:
    """Three significant digits, no exponent for everyday sizes: 0.05, 12.3, 1500, 2.5e+06."""
    if value == 0:
        return "0"
    if 1e-4 <= abs(value) < 1e6:
        text = f"{value:.3g}"
        if "e" in text:  # 1.23e+03 for 1230 with 3 significant digits
            text = f"{value:.0f}"
        return text
    return f"{value:.3g}"


@dataclass(frozen=True)
class ChartPoint:
    """One interval of one metric, as the caller read it from the evidence."""

    label: str  # the x axis tick, e.g. "12:00:03"
    value: float | None
    status: PointStatus
    title: str  # hover text
    href: str | None = None


@dataclass(frozen=True)
class Bound:
    """A threshold line: one value per point (a constant bound repeats), and what it says."""

    direction: Direction  # max: values above it fail; min: values below it fail
    values: tuple[float | None, ...]
    text: str  # "max 5%", "<= 1.5x baseline"


@dataclass(frozen=True)
class Tick:
    position: float
    text: str


@dataclass(frozen=True)
class Marker:
    x: float
    y: float
    status: PointStatus
    shape: str  # SVG path data
    hollow: bool  # no value: drawn on the x axis, not filled
    title: str
    href: str | None


@dataclass(frozen=True)
class BoundLine:
    direction: Direction
    path: str  # the threshold line
    zone: str  # the shaded area beyond it, where values fail
    text: str
    text_x: float
    text_y: float


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    left: float
    top: float
    right: float
    bottom: float
    label: str  # aria-label: what the chart says, in one sentence
    y_title: str
    x_title: str
    y_ticks: tuple[Tick, ...]
    x_ticks: tuple[Tick, ...]
    value_path: str
    baseline_path: str
    bounds: tuple[BoundLine, ...]
    markers: tuple[Marker, ...]
    empty: bool  # no interval has a value yet

    @property
    def middle(self) -> tuple[float, float]:
        return (self.left + self.right) / 2, (self.top + self.bottom) / 2


def finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def nice_step(raw: float) -> float:
    """The 1, 2 or 5 times 10^k step at or above ``raw``."""
    exponent = math.floor(math.log10(raw))
    fraction = raw / 10**exponent
    nice = 1.0 if fraction <= 1 else 2.0 if fraction <= 2 else 5.0 if fraction <= 5 else 10.0
    return nice * 10.0**exponent


def value_range(values: Sequence[float | None]) -> tuple[float, float, float]:
    """(low, high, tick step) covering ``values`` on round numbers; zero-based when none is negative."""
    present = [value for value in (finite(item) for item in values) if value is not None]
    if not present:
        return 0.0, 1.0, 0.25
    low, high = min(present), max(present)
    low = 0.0 if low >= 0 else low
    high = 0.0 if high <= 0 else high
    if high == low:  # every value is zero
        return 0.0, 1.0, 0.25
    # 5 % headroom above the highest value, so its marker is not cut by the frame.
    step = nice_step((high - low) * 1.05 / TARGET_TICKS)
    top = math.ceil(high * 1.05 / step) * step if high > 0 else 0.0
    return math.floor(low / step) * step, top, step


def _ticks(low: float, high: float, step: float, unit: Unit, scale: _Scale) -> tuple[Tick, ...]:
    scaled_step = step * unit.scale
    decimals = max(0, -math.floor(math.log10(scaled_step) + 1e-9))
    first = round(low / step)  # whole steps, so zero is exactly zero (no -0.0 or 1e-17)
    ticks = []
    for multiple in range(first, first + round((high - low) / step) + 1):
        value = multiple * step
        ticks.append(Tick(scale.y(value), f"{value * unit.scale + 0.0:.{decimals}f}{unit.tick_suffix}"))
    return tuple(ticks)


@dataclass(frozen=True)
class _Scale:
    low: float
    high: float
    count: int

    left: float = LEFT
    right: float = WIDTH - RIGHT
    top: float = TOP
    bottom: float = HEIGHT - BOTTOM

    def x(self, index: int) -> float:
        if self.count <= 1:
            return (self.left + self.right) / 2
        inner = self.right - self.left - 2 * EDGE
        return self.left + EDGE + index * inner / (self.count - 1)

    def y(self, value: float) -> float:
        return self.bottom - (value - self.low) / (self.high - self.low) * (self.bottom - self.top)


def _fmt(value: float) -> str:
    return f"{value:.1f}"


def _path(points: Sequence[tuple[float, float]], *, close: bool = False) -> str:
    """``M x y L x y …`` through ``points`` (``Z`` closes it)."""
    moves = " ".join(f"{'M' if i == 0 else 'L'}{_fmt(x)} {_fmt(y)}" for i, (x, y) in enumerate(points))
    return f"{moves} Z" if close else moves


def _runs(points: Sequence[tuple[float, float] | None], *, lone: bool) -> list[list[tuple[float, float]]]:
    """The unbroken stretches between gaps (None). A lone point is dropped, or with ``lone`` drawn
    as a short horizontal step around it (a limit known for one interval only)."""
    runs: list[list[tuple[float, float]]] = []
    run: list[tuple[float, float]] = []
    for point in [*points, None]:
        if point is not None:
            run.append(point)
            continue
        if len(run) == 1 and lone:
            (x, y) = run[0]
            run = [(x - 2 * MARKER, y), (x + 2 * MARKER, y)]
        if len(run) > 1:
            runs.append(run)
        run = []
    return runs


def _line(points: Sequence[tuple[float, float] | None]) -> str:
    """A path through the points, broken at every None (a gap)."""
    return " ".join(_path(run) for run in _runs(points, lone=False))


def _shape(status: PointStatus, x: float, y: float) -> str:
    r = MARKER
    if status == "fail":  # diamond
        return _path([(x, y - r - 1), (x + r + 1, y), (x, y + r + 1), (x - r - 1, y)], close=True)
    if status == "inconclusive":  # triangle
        return _path([(x, y - r - 1), (x + r + 0.5, y + r - 0.5), (x - r - 0.5, y + r - 0.5)], close=True)
    # circle, as two arcs
    return f"M{_fmt(x - r)} {_fmt(y)} a{r} {r} 0 1 0 {2 * r} 0 a{r} {r} 0 1 0 {-2 * r} 0 Z"


def _bound_line(bound: Bound, scale: _Scale) -> BoundLine | None:
    values = [finite(value) for value in bound.values]
    if not any(value is not None for value in values):
        return None
    edge = scale.top if bound.direction == "max" else scale.bottom
    first = values[0]
    if first is not None and all(value == first for value in values):  # constant: the whole width
        runs = [[(scale.left, scale.y(first)), (scale.right, scale.y(first))]]
    else:  # relative to the baseline: through each interval's own limit
        points = [None if v is None else (scale.x(i), scale.y(v)) for i, v in enumerate(values)]
        runs = _runs(points, lone=True)
    path = " ".join(_path(run) for run in runs)
    zone = " ".join(_path([(run[0][0], edge), *run, (run[-1][0], edge)], close=True) for run in runs)
    last_x, last_y = runs[-1][-1]
    text_y = last_y - 4 if bound.direction == "max" else last_y + 12
    text_y = min(max(text_y, scale.top + 10), scale.bottom - 3)
    return BoundLine(bound.direction, path, zone, bound.text, min(last_x, scale.right) - 2, text_y)


def _x_ticks(points: Sequence[ChartPoint], scale: _Scale) -> tuple[Tick, ...]:
    """At most six labels, evenly spread, the last interval always labelled."""
    count = len(points)
    every = max(1, math.ceil(count / 6))
    chosen = [index for index in range(count) if index % every == 0]
    if count and chosen[-1] != count - 1:
        if count - 1 - chosen[-1] < every / 2:
            chosen.pop()
        chosen.append(count - 1)
    return tuple(Tick(scale.x(index), points[index].label) for index in chosen)


def _summary(name: str, points: Sequence[ChartPoint], bounds: Sequence[Bound], unit: Unit) -> str:
    failed = sum(point.status == "fail" for point in points)
    undecided = sum(point.status == "inconclusive" for point in points)
    parts = [f"{name} per interval: {len(points)} interval{'s' if len(points) != 1 else ''}"]
    parts.append(f"{failed} failed, {undecided} inconclusive")
    latest = next(
        (finite(point.value) for point in reversed(points) if finite(point.value) is not None), None
    )
    if latest is not None:
        parts.append(f"latest value {unit.text(latest)}")
    parts.extend(f"bound {bound.text}" for bound in bounds)
    return "; ".join(parts)


def metric_chart(
    points: Sequence[ChartPoint],
    bounds: Sequence[Bound] = (),
    baseline: Sequence[float | None] | None = None,
    *,
    name: str = "value",
    unit: Unit = NO_UNIT,
) -> Chart:
    """The chart of one metric: ``points`` in interval order, each bound and the baseline aligned
    with them (one value per point; None where there is none)."""
    base = [finite(value) for value in (baseline or ())]
    values = [finite(point.value) for point in points]
    everything = values + base + [finite(value) for bound in bounds for value in bound.values]
    low, high, step = value_range(everything)
    scale = _Scale(low, high, len(points))
    markers = []
    for index, point in enumerate(points):
        value = values[index]
        x, y = scale.x(index), scale.y(value) if value is not None else scale.bottom
        markers.append(
            Marker(x, y, point.status, _shape(point.status, x, y), value is None, point.title, point.href)
        )
    drawn = [line for line in (_bound_line(bound, scale) for bound in bounds) if line is not None]
    return Chart(
        width=WIDTH,
        height=HEIGHT,
        left=scale.left,
        top=scale.top,
        right=scale.right,
        bottom=scale.bottom,
        label=_summary(name, points, bounds, unit),
        y_title=unit.title or "value",  # the metric's name is the chart's caption
        x_title="interval end (UTC)",
        y_ticks=_ticks(low, high, step, unit, scale),
        x_ticks=_x_ticks(points, scale),
        value_path=_line([None if v is None else (scale.x(i), scale.y(v)) for i, v in enumerate(values)]),
        baseline_path=_line([None if v is None else (scale.x(i), scale.y(v)) for i, v in enumerate(base)]),
        bounds=tuple(drawn),
        markers=tuple(markers),
        empty=all(value is None for value in values),
    )


__all__ = [
    "NO_UNIT",
    "Bound",
    "BoundLine",
    "Chart",
    "ChartPoint",
    "Direction",
    "Marker",
    "PointStatus",
    "Tick",
    "Unit",
    "metric_chart",
    "metric_unit",
    "nice_step",
    "number",
    "value_range",
]
