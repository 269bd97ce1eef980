"""What the Analysis page shows, from a stored plan and intervals (pure); and its event stream."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from bot.console import analysis_view as view
from bot.console.pages.analysis import analysis_events, fingerprint

AT = datetime(2026, 11, 28, 12, 0, 3, tzinfo=UTC)
PLAN: dict[str, Any] = {
    "repo": "acme/gitops",
    "deployment": "chat",
    "version": "1.1.0",
    "stable_version": "1.0.0",
    "interval_seconds": 60,
    "duration_seconds": 300,
    "failure_limit": 2,
    "inconclusive_limit": 2,
    "min_requests": 5,
    "on_failure": "notify",
    "rollback_automerge": False,
    "metrics": [
        {"name": "error_rate", "query": 'sum(rate(x{v="1.1.0"}[1m]))', "baseline_query": None, "max": 0.05},
        {
            "name": "ttft_p99",
            "query": "histogram_quantile(0.99, q)",
            "baseline_query": "histogram_quantile(0.99, b)",
            "max": 0.5,
            "baseline_relative_max": 1.5,
        },
        {"name": "tokens", "query": "sum(t)", "baseline_query": None},
    ],
    "request_count_query": "sum(r)",
    "promote_to": "chat-prod",
}


def measurement(metric: str, value: float | None, status: str, **more: Any) -> dict[str, Any]:
    return {"metric": metric, "value": value, "status": status, "reason": f"{metric} {status}", **more}


def interval(index: int, verdict: str, *measured: dict[str, Any], **more: Any) -> view.IntervalRecord:
    at = AT.replace(minute=index)
    evidence = {"reason": f"interval {index}", "measurements": list(measured), **more}
    return view.IntervalRecord(index, at, verdict, 60.0, evidence)


INTERVALS = [
    interval(
        0,
        "pass",
        measurement("error_rate", 0.0, "pass"),
        measurement("ttft_p99", 0.08, "pass", baseline_value=0.08),
        measurement("tokens", 400.0, "pass", informational=True),
    ),
    interval(
        1,
        "fail",
        measurement("error_rate", 0.5, "fail"),
        measurement("ttft_p99", 0.4, "fail", baseline_value=0.2),
        measurement("tokens", None, "inconclusive", informational=True),
    ),
    interval(
        2,
        "fail",
        measurement("alert:HighTTFT", None, "fail"),
        alert={"alertname": "HighTTFT", "generator_url": "javascript:alert(1)"},
    ),
    interval(
        3,
        "inconclusive",
        measurement("error_rate", None, "inconclusive"),
        measurement("ttft_p99", 0.1, "weird"),
    ),
]


def series_by_name(prometheus_url: str | None = "https://prom.example.com") -> dict[str, view.MetricSeries]:
    return {item.metric.name: item for item in view.analysis_series(PLAN, INTERVALS, prometheus_url)}


def test_each_metric_gets_its_values_statuses_and_gaps() -> None:
    series = series_by_name()
    assert list(series) == ["error_rate", "ttft_p99", "tokens"]
    error_rate = series["error_rate"]
    assert [p.value for p in error_rate.points] == [0.0, 0.5, None, None]
    assert [p.status for p in error_rate.points] == ["pass", "fail", "missing", "inconclusive"]
    assert error_rate.points[2].reason == "interval 2"  # the alert's interval: not measured
    assert [p.status for p in series["ttft_p99"].points][-1] == "inconclusive"  # unknown status


def test_bounds_absolute_and_relative_to_the_baseline() -> None:
    series = series_by_name()
    (error_bound,) = series["error_rate"].bounds
    assert error_bound.direction == "max" and error_bound.text == "max 5%"
    assert error_bound.values == (0.05, 0.05, 0.05, 0.05)
    (ttft_bound,) = series["ttft_p99"].bounds
    assert ttft_bound.text == "max 500 ms and 1.5x baseline"
    # The stricter of the two each interval; only the absolute one where no baseline was measured.
    assert ttft_bound.values == pytest.approx((0.12, 0.3, 0.5, 0.5))
    assert series["ttft_p99"].has_baseline and not series["error_rate"].has_baseline
    assert series["tokens"].informational and series["tokens"].bounds == ()


def test_points_link_to_the_prometheus_graph_of_their_query_at_their_time() -> None:
    point = series_by_name()["error_rate"].points[1]
    assert point.graph_url is not None
    parts = urlsplit(point.graph_url)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "prom.example.com", "/graph")
    query = parse_qs(parts.query)
    assert query["g0.expr"] == ['sum(rate(x{v="1.1.0"}[1m]))']
    assert query["g0.end_input"] == ["2026-11-28 12:01:03"]
    assert "g0.range_input" in query


def test_without_a_base_url_the_links_stored_with_the_evidence_are_used() -> None:
    stored = [
        interval(0, "pass", measurement("error_rate", 0.0, "pass", graph_url="http://in-cluster:9090/graph"))
    ]
    (series, *_) = view.analysis_series(PLAN, stored)
    assert series.points[0].graph_url == "http://in-cluster:9090/graph"


def test_the_chart_and_its_hover_texts() -> None:
    chart = series_by_name()["error_rate"].chart()
    assert [m.status for m in chart.markers] == ["pass", "fail", "missing", "inconclusive"]
    assert chart.markers[1].title.startswith("Interval 2 at 12:01:03 UTC: 50%, FAILED: error_rate fail")
    assert chart.markers[2].hollow and chart.markers[2].href is None
    assert "baseline 200 ms" in series_by_name()["ttft_p99"].chart().markers[1].title


def test_json_series() -> None:
    data = series_by_name()["ttft_p99"].to_json()
    assert data["metric"] == "ttft_p99" and data["unit"] == "milliseconds"
    assert data["bounds"][0]["direction"] == "max"
    assert [p["status"] for p in data["points"]] == ["pass", "fail", "missing", "inconclusive"]
    assert data["points"][1]["baseline"] == 0.2


def test_a_plan_that_cannot_be_read_gives_no_charts() -> None:
    assert view.analysis_series({"repo": "x"}, INTERVALS) == []


def test_interval_lines_link_metrics_and_only_web_alert_links() -> None:
    lines = view.interval_lines(view.analysis_series(PLAN, INTERVALS, "http://p"), INTERVALS)
    assert [line.number for line in lines] == [1, 2, 3, 4]
    assert [name for name, _ in lines[0].links] == ["error_rate", "ttft_p99", "tokens"]
    assert lines[2].links == ()  # the alert's javascript: link is not a link
    alerted = interval(0, "fail", alert={"alertname": "X", "generator_url": "https://prom/graph?g0.expr=x"})
    (line,) = view.interval_lines([], [alerted])
    assert line.links == (("alert X", "https://prom/graph?g0.expr=x"),)


@pytest.mark.parametrize(
    ("url", "linked"),
    [
        ("https://prom/graph", True),
        ("http://prom:9090/graph?g0.expr=x", True),
        ("javascript:alert(1)", False),
        ("JaVaScRiPt:alert(1)", False),
        ("/graph", False),
        ("data:text/html,x", False),
        (None, False),
        ("http://[::1", False),
    ],
)
def test_web_link(url: object, linked: bool) -> None:
    assert (view.web_link(url) is not None) is linked


def test_decision_while_running_and_finished() -> None:
    running = view.decision(PLAN, "running", None, INTERVALS[:2])
    assert running.running and running.expected == 5 and running.measured == 2
    assert running.reason == "2 of 5 intervals measured so far" and running.next_step is None
    failed = view.decision(PLAN, "failed", "2 consecutive failures", INTERVALS)
    assert not failed.running and (failed.failed, failed.inconclusive) == (2, 1)
    assert failed.next_step == "notify only (on_failure: notify)"
    assert view.decision({}, "passed", "", []).next_step is None


@pytest.mark.parametrize(
    ("status", "has_pr", "rollback", "promote"),
    [
        ("analysing", False, True, True),
        ("failed", False, True, True),
        ("passed", False, True, True),
        ("rolling_back", False, True, False),  # a rollback that stopped half-way may be resumed
        ("rolling_back", True, False, False),
        ("rolled_back", True, False, False),
        ("superseded", False, False, False),
    ],
)
def test_actions_follow_the_rollback_rules(status: str, has_pr: bool, rollback: bool, promote: bool) -> None:
    offered = view.actions("chat-prod", status, has_pr)
    assert (offered.rollback, offered.promote) == (rollback, promote)
    assert bool(offered.rollback_note) is not rollback
    assert view.actions(None, "passed", False).promote is False


# -- the event stream ---------------------------------------------------------------------------


def run_stream(states: list[tuple[str, int] | None], seen: str, *, gone_after: int = 99) -> list[str]:
    looks = iter(states)
    calls = {"gone": 0}

    async def state() -> tuple[str, int] | None:
        return next(looks)

    async def gone() -> bool:
        calls["gone"] += 1
        return calls["gone"] > gone_after

    async def no_wait(_: float) -> None:
        return None

    async def collect() -> list[str]:
        stream = analysis_events(state, seen, gone, poll_seconds=2, stream_seconds=60, sleep=no_wait)
        return [chunk async for chunk in stream]

    return asyncio.run(collect())


def test_the_stream_says_refresh_when_an_interval_is_recorded() -> None:
    sent = run_stream([("running", 1), ("running", 1), ("running", 2)], fingerprint("running", 1))
    assert sent[0].startswith("retry:")
    assert sent[-1] == "event: refresh\ndata: running:2\n\n"


def test_the_stream_says_refresh_at_once_when_the_page_is_already_behind() -> None:
    sent = run_stream([("running", 3)], fingerprint("waiting_rollout", 0))
    assert sent[-1].startswith("event: refresh")


def test_the_stream_says_end_when_the_analysis_finished_or_vanished() -> None:
    assert run_stream([("running", 2), ("failed", 3)], "running:2")[-1] == "event: end\ndata: failed\n\n"
    assert run_stream([None], "running:2")[-1] == "event: end\ndata: gone\n\n"


def test_the_stream_stops_when_the_client_goes_away_and_after_its_lifetime() -> None:
    sent = run_stream([("running", 1)] * 100, "running:1", gone_after=3)
    assert not any(chunk.startswith("event:") for chunk in sent)
    lived = run_stream([("running", 1)] * 100, "running:1")  # 60 s at one look per 2 s: 30 looks
    assert not any(chunk.startswith("event:") for chunk in lived)
    assert any(chunk.startswith(":") for chunk in lived)  # keep-alive comments
