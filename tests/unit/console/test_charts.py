"""The chart geometry: scaling, gaps, bounds above and below, one point, all-equal values, units."""

from __future__ import annotations

import math
import re

import pytest

from bot.console.charts import (
    HEIGHT,
    MILLISECONDS,
    NO_UNIT,
    PERCENT,
    SECONDS,
    Bound,
    Chart,
    ChartPoint,
    metric_chart,
    metric_unit,
    nice_step,
    number,
    value_range,
)

TOP, BOTTOM = 16, HEIGHT - 46  # the plot's edges (charts.TOP, HEIGHT - charts.BOTTOM)


def points(*values: float | None, status: str = "pass") -> list[ChartPoint]:
    return [ChartPoint(f"t{i}", value, status, f"point {i}") for i, value in enumerate(values)]  # type: ignore[arg-type]


def ys(chart: Chart) -> list[float]:
    return [marker.y for marker in chart.markers]


def coordinates(path: str) -> list[tuple[float, float]]:
    return [(float(x), float(y)) for x, y in re.findall(r"[ML](-?[\d.]+) (-?[\d.]+)", path)]


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([0.0, 0.5], (0.0, 0.6, 0.2)),  # zero-based, 5 % headroom above the highest
        ([0.01, 0.02, 0.03], (0.0, 0.04, 0.01)),
        ([120.0, 80.0], (0.0, 150.0, 50.0)),
        ([None, math.nan, math.inf], (0.0, 1.0, 0.25)),  # nothing finite: a unit range
        ([], (0.0, 1.0, 0.25)),
        ([0.0, 0.0], (0.0, 1.0, 0.25)),  # all zero: still a range
        ([7.0, 7.0, 7.0], (0.0, 8.0, 2.0)),  # all equal: zero-based, so not a flat division by zero
        ([-2.0, -1.0], (-2.0, 0.0, 1.0)),  # all negative: up to zero
        ([-1.0, 3.0], (-2.0, 4.0, 2.0)),
    ],
)
def test_value_range(values: list[float | None], expected: tuple[float, float, float]) -> None:
    low, high, step = value_range(values)
    assert (low, high, step) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("raw", "step"), [(0.013, 0.02), (0.1, 0.1), (0.26, 0.5), (3.0, 5.0), (7.1, 10.0), (120.0, 200.0)]
)
def test_nice_step(raw: float, step: float) -> None:
    assert nice_step(raw) == pytest.approx(step)


def test_values_scale_into_the_plot_higher_is_up() -> None:
    chart = metric_chart(points(0.0, 0.25, 0.5))
    low, middle, high = ys(chart)
    assert low == pytest.approx(BOTTOM)  # zero sits on the x axis
    assert TOP <= high < middle < low
    assert middle == pytest.approx((low + high) / 2)
    xs = [marker.x for marker in chart.markers]
    assert xs == sorted(xs) and len(set(xs)) == 3
    assert chart.value_path.startswith("M") and chart.value_path.count("L") == 2


def test_a_missing_or_nan_value_is_a_gap_with_a_hollow_marker_on_the_axis() -> None:
    chart = metric_chart(points(0.1, None, 0.3, math.nan, math.inf, 0.2, 0.4))
    hollow = [index for index, marker in enumerate(chart.markers) if marker.hollow]
    assert hollow == [1, 3, 4]
    assert all(chart.markers[index].y == BOTTOM for index in hollow)
    # Two runs: [0] alone (no line), [2] alone, [5, 6] joined: one segment, no line through the gaps.
    assert chart.value_path.count("M") == 1 and chart.value_path.count("L") == 1
    assert coordinates(chart.value_path)[0][0] == pytest.approx(chart.markers[5].x, abs=0.1)
    assert not chart.empty


def test_no_value_at_all_is_an_empty_chart_not_a_line_at_zero() -> None:
    chart = metric_chart(points(None, None), [Bound("max", (0.05, 0.05), "max 5%")], unit=PERCENT)
    assert chart.empty and chart.value_path == ""
    assert all(marker.hollow for marker in chart.markers)
    assert chart.bounds  # the bound still shows where the values would have to stay


def test_one_point_is_centred_and_its_bound_spans_the_plot() -> None:
    chart = metric_chart(points(0.5, status="fail"), [Bound("max", (0.05,), "max 5%")])
    (marker,) = chart.markers
    assert marker.x == pytest.approx((chart.left + chart.right) / 2)
    assert chart.value_path == ""  # a lone point: only its marker
    (line,) = chart.bounds
    (start, end) = coordinates(line.path)
    assert start[0] == chart.left and end[0] == chart.right
    assert len(chart.x_ticks) == 1


def test_all_equal_values_get_a_flat_line_inside_the_plot() -> None:
    chart = metric_chart(points(0.08, 0.08, 0.08))
    assert len(set(ys(chart))) == 1
    assert TOP <= ys(chart)[0] < BOTTOM
    assert chart.y_ticks[0].text == "0.00"


def test_a_max_bound_shades_above_and_a_min_bound_below() -> None:
    upper = metric_chart(points(0.01, 0.5), [Bound("max", (0.05, 0.05), "max 0.05")])
    lower = metric_chart(points(300.0, 500.0), [Bound("min", (400.0, 400.0), "min 400")])
    for chart, edge in ((upper, TOP), (lower, BOTTOM)):
        (line,) = chart.bounds
        line_y = coordinates(line.path)[0][1]
        zone_ys = sorted({y for _, y in coordinates(line.zone)})
        assert zone_ys == pytest.approx(sorted([edge, line_y]), abs=0.1)
    # A breach is on the shaded side: the failing value above max, the failing value below min.
    assert upper.markers[1].y < coordinates(upper.bounds[0].path)[0][1] < upper.markers[0].y
    assert lower.markers[0].y > coordinates(lower.bounds[0].path)[0][1] > lower.markers[1].y
    assert upper.bounds[0].text_y < coordinates(upper.bounds[0].path)[0][1]  # label above a max
    assert lower.bounds[0].text_y > coordinates(lower.bounds[0].path)[0][1]  # and below a min


def test_a_bound_far_above_the_values_is_still_inside_the_range() -> None:
    chart = metric_chart(points(0.001, 0.002), [Bound("max", (0.5, 0.5), "max 50%")])
    (line,) = chart.bounds
    assert TOP <= coordinates(line.path)[0][1] < BOTTOM


def test_a_baseline_relative_bound_follows_each_interval_and_breaks_where_unknown() -> None:
    bound = Bound("max", (0.12, None, 0.15, 0.18), "1.5x baseline")
    chart = metric_chart(points(0.1, 0.1, 0.1, 0.1), [bound], baseline=[0.08, None, 0.1, 0.12])
    (line,) = chart.bounds
    assert line.path.count("M") == 2  # [0] alone (a short step), then [2, 3]
    assert chart.baseline_path.count("M") == 1 and chart.baseline_path.count("L") == 1


def test_markers_carry_status_shape_title_and_link() -> None:
    given = [
        ChartPoint("a", 0.01, "pass", "ok", "http://prometheus/graph?g0.expr=x"),
        ChartPoint("b", 0.5, "fail", "bad", None),
        ChartPoint("c", 0.02, "inconclusive", "few requests", None),
    ]
    chart = metric_chart(given)
    assert [marker.status for marker in chart.markers] == ["pass", "fail", "inconclusive"]
    shapes = [marker.shape for marker in chart.markers]
    assert " a" in shapes[0]  # circle (arcs)
    assert shapes[1].count("L") == 3 and shapes[2].count("L") == 2  # diamond, triangle
    assert chart.markers[0].href == "http://prometheus/graph?g0.expr=x"
    assert [marker.title for marker in chart.markers] == ["ok", "bad", "few requests"]


def test_the_label_says_what_the_chart_shows() -> None:
    chart = metric_chart(
        points(0.0, 0.5, status="fail"),
        [Bound("max", (0.05, 0.05), "max 5%")],
        name="error_rate",
        unit=PERCENT,
    )
    assert (
        chart.label
        == "error_rate per interval: 2 intervals; 2 failed, 0 inconclusive; latest value 50%; bound max 5%"
    )
    assert chart.y_title == "percent"
    assert [tick.text for tick in chart.y_ticks] == ["0%", "20%", "40%", "60%"]


def test_at_most_six_x_labels_and_always_the_last() -> None:
    chart = metric_chart(points(*[0.1] * 30))
    assert 2 <= len(chart.x_ticks) <= 7
    assert chart.x_ticks[-1].text == "t29"
    small = metric_chart(points(0.1, 0.2, 0.3))
    assert [tick.text for tick in small.x_ticks] == ["t0", "t1", "t2"]


def test_coordinates_stay_inside_the_viewbox_for_extreme_values() -> None:
    chart = metric_chart(points(-1e6, 1e-9, 1e9), [Bound("min", (0.0, 0.0, 0.0), "min 0")])
    for marker in chart.markers:
        assert 0 <= marker.x <= chart.width and 0 <= marker.y <= chart.height
    for tick in chart.y_ticks:
        assert TOP - 0.1 <= tick.position <= BOTTOM + 0.1


@pytest.mark.parametrize(
    ("name", "query", "values", "unit"),
    [
        ("ttft_p99", "histogram_quantile(0.99, ...)", [0.08, 0.2], MILLISECONDS),
        ("ttft_p99", "histogram_quantile(0.99, ...)", [0.5, 2.5], SECONDS),
        (
            "p95",
            "histogram_quantile(0.95, sum by (le) (rate(x_duration_seconds_bucket[1m])))",
            [3.0],
            SECONDS,
        ),
        ("error_rate", "a / b", [0.01], PERCENT),
        ("kv_cache_usage", "avg(...)", [0.5], PERCENT),
        ("queue_depth", "sum(x)", [3.0], NO_UNIT),
    ],
)
def test_units_from_the_metric(name: str, query: str, values: list[float], unit: object) -> None:
    assert metric_unit(name, query, values) == unit


def test_tokens_and_cost_units() -> None:
    assert metric_unit("tokens_per_second_per_replica", "q").title == "tokens per second"
    assert metric_unit("tokens_per_second_per_replica", "q").tick_suffix == ""
    assert metric_unit("cost_per_million_tokens", "q").title == "cost per 1M tokens"


@pytest.mark.parametrize(
    ("value", "text"),
    [(0, "0"), (0.05, "0.05"), (12.345, "12.3"), (1234.0, "1234"), (0.000012, "1.2e-05"), (2.5e6, "2.5e+06")],
)
def test_number(value: float, text: str) -> None:
    assert number(value) == text


def test_unit_text() -> None:
    assert PERCENT.text(0.05) == "5%"
    assert MILLISECONDS.text(0.08) == "80 ms"
    assert NO_UNIT.text(3) == "3"
