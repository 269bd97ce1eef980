from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest

from bot.canary import (
    MetricSpec,
    QueryContext,
    QueryTemplateError,
    check_template,
    escape_label_value,
    evaluate_outcomes,
    prometheus_duration,
    render_interval_queries,
    render_query,
)
from bot.canary.queries import regex_escape

CONTRACT_TTFT = (
    "histogram_quantile(0.99, sum by (le) (rate(vllm:time_to_first_token_seconds_bucket"
    '{deployment="{{ deployment }}",version="{{ version }}"}[{{ interval }}])))'
)
CONTEXT = QueryContext.create(deployment="chat-llm", version="1.2.0", interval=30, namespace="serving")


@pytest.mark.parametrize(
    ("interval", "expected"),
    [
        (30, "30s"),
        (60, "1m"),
        (90, "1m30s"),
        (3600, "1h"),
        (5400.0, "1h30m"),
        ("30s", "30s"),
        ("90s", "1m30s"),
        ("1h30m", "1h30m"),
        (" 10m ", "10m"),
        (timedelta(minutes=2), "2m"),
    ],
)
def test_prometheus_duration(interval: object, expected: str) -> None:
    assert prometheus_duration(interval) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize("interval", [0, -5, 1.5, "", "30", "5d", "1m 30s", float("nan"), True])
def test_prometheus_duration_refuses(interval: object) -> None:
    with pytest.raises(ValueError):
        prometheus_duration(interval)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "escaped"),
    [
        ("1.2.0", "1.2.0"),
        ('a"b', "a\\x22b"),
        ("a'b", "a\\x27b"),
        ("a`b", "a\\x60b"),
        ("a\\b", "a\\\\b"),
        ("line\nbreak", "line\\x0abreak"),
        ("tab\there", "tab\\x09here"),
        ("del\x7f", "del\\x7f"),
        ("ünïcode-✓", "ünïcode-✓"),
        ('"} or vector(1) #', "\\x22} or vector(1) #"),
        (7, "7"),
    ],
)
def test_escape_label_value(value: object, escaped: str) -> None:
    assert escape_label_value(value) == escaped


def test_render_contract_example() -> None:
    assert render_query(CONTRACT_TTFT, CONTEXT) == (
        "histogram_quantile(0.99, sum by (le) (rate(vllm:time_to_first_token_seconds_bucket"
        '{deployment="chat-llm",version="1.2.0"}[30s])))'
    )


@pytest.mark.parametrize(
    "version",
    [
        '1.0"} or vector(1) or foo{a="',
        "1.0'} or vector(1) or foo{a='",
        "1.0\\",
        '1.0\\"} or vector(1)',
        "1.0\n} or vector(1) #",
    ],
)
def test_a_version_cannot_leave_its_string(version: str) -> None:
    context = QueryContext.create(deployment="d", version=version, interval=60)

    double = render_query('up{version="{{ version }}"}', context)
    single = render_query("up{version='{{ version }}'}", context)

    for rendered, quote in ((double, '"'), (single, "'")):
        inside = rendered[len("up{version=") + 1 : -2]
        assert rendered.endswith(quote + "}")
        # No unescaped quote of either kind and no raw newline survive inside the literal.
        assert '"' not in inside and "'" not in inside and "\n" not in inside
        assert _only_complete_escapes(inside)


def _only_complete_escapes(text: str) -> bool:
    """Every backslash starts ``\\\\`` or ``\\xHH``: none can escape the closing quote."""
    index = 0
    while index < len(text):
        if text[index] == "\\":
            if text[index + 1 : index + 2] == "\\":
                index += 2
            elif text[index + 1 : index + 2] == "x" and len(text[index + 2 : index + 4]) == 2:
                index += 4
            else:
                return False
        else:
            index += 1
    return True


def test_regex_filter_escapes_metacharacters_then_the_string() -> None:
    rendered = render_query('up{version=~"{{ version | regex }}(-rc.*)?"}', CONTEXT)

    assert rendered == 'up{version=~"1\\\\.2\\\\.0(-rc.*)?"}'
    assert (
        regex_escape("a.b*c(d)[e]{f}|g^h$i+j?k\\") == "a\\.b\\*c\\(d\\)\\[e\\]\\{f\\}\\|g\\^h\\$i\\+j\\?k\\\\"
    )


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("up{version={{ version }}}", "must be inside a double- or single-quoted PromQL string"),
        ('up{version="x"} + {{ version }}', "must be inside"),
        ("up{version=`{{ version }}`}", "must be inside"),  # raw strings cannot escape anything
        ('up{a="x"} # "{{ version }}"', "must be inside"),  # a comment is not a string
        ('up{deployment="{{ deployment }}"} or foo_{{ deployment }}', "{{ deployment }} must be inside"),
        ('up{version="{{ version[:3] }}"}', "cannot verify"),
        ('up{version="{{ versoin }}"}', "unknown variable(s) versoin"),
        ('up{version="{{ version }"}', "line 1"),
        ("{% for x in y %}", "line 1"),
        ("{{ ''.__class__.__mro__ }}", "query template"),
        ("   ", "empty query"),
    ],
)
def test_unsafe_or_broken_templates_are_refused(template: str, message: str) -> None:
    with pytest.raises(QueryTemplateError) as caught:
        render_query(template, CONTEXT)

    assert message in str(caught.value)


def test_sandbox_blocks_attribute_escapes() -> None:
    with pytest.raises(QueryTemplateError, match="query template: access to attribute"):
        render_query("{{ interval.__class__.__base__.__subclasses__() }}", CONTEXT)


def test_namespace_is_optional_until_used() -> None:
    without = QueryContext.create(deployment="d", version="v", interval="1m")

    assert render_query('up{deployment="{{ deployment }}"}', without) == 'up{deployment="d"}'
    assert render_query('up{namespace="{{ namespace }}"}', CONTEXT) == 'up{namespace="serving"}'
    with pytest.raises(QueryTemplateError, match="no namespace is known"):
        render_query('up{namespace="{{ namespace }}"}', without)


def test_interval_and_single_quotes_and_escaped_quotes_in_the_template() -> None:
    template = "sum(rate(x{a='it\\'s',version='{{ version }}'}[{{ interval }}])) # trailing \"comment\""

    assert render_query(template, CONTEXT) == (
        "sum(rate(x{a='it\\'s',version='1.2.0'}[30s])) # trailing \"comment\""
    )


def test_check_template_accepts_the_contract_examples() -> None:
    check_template(CONTRACT_TTFT)
    check_template(
        'sum(rate(http_requests_total{deployment="{{ deployment }}",version="{{ version }}",status=~"5.."}'
        '[{{ interval }}])) / sum(rate(http_requests_total{deployment="{{ deployment }}",'
        'version="{{ version }}"}[{{ interval }}]))'
    )


# --------------------------------------------------------------------------- an interval's queries

LATENCY = MetricSpec(name="latency", query='lat{version="{{ version }}"}', max=0.2, baseline_relative_max=1.5)
ERRORS = MetricSpec(name="errors", query='err{version="{{ version }}"}', max=0.01)
REQUESTS = 'sum(increase(req{version="{{ version }}"}[{{ interval }}]))'


@dataclass(frozen=True)
class Answer:
    value: float | None
    error: str | None = None


def test_interval_queries_render_canary_and_baseline() -> None:
    queries = render_interval_queries(
        [LATENCY, ERRORS], CONTEXT, request_count_template=REQUESTS, stable_version="1.1.0"
    )

    latency, errors = queries.metrics
    assert latency.query == 'lat{version="1.2.0"}'
    assert latency.baseline_query == 'lat{version="1.1.0"}'
    assert errors.baseline_query is None  # no baseline bound: no query for it
    assert queries.request_count_query == 'sum(increase(req{version="1.2.0"}[30s]))'
    assert queries.queries() == (
        'lat{version="1.2.0"}',
        'lat{version="1.1.0"}',
        'err{version="1.2.0"}',
        'sum(increase(req{version="1.2.0"}[30s]))',
    )


def test_interval_queries_name_the_broken_metric() -> None:
    broken = MetricSpec(name="broken", query="up{version={{ version }}}", max=1)

    with pytest.raises(QueryTemplateError, match="metric 'broken'"):
        render_interval_queries([broken], CONTEXT, request_count_template=REQUESTS, stable_version=None)
    with pytest.raises(QueryTemplateError, match="request count query"):
        render_interval_queries([ERRORS], CONTEXT, request_count_template="{{ nope }}", stable_version=None)


def test_evaluate_outcomes_pairs_answers_with_metrics() -> None:
    queries = render_interval_queries(
        [LATENCY, ERRORS], CONTEXT, request_count_template=REQUESTS, stable_version="1.1.0"
    )
    outcomes = {
        'lat{version="1.2.0"}': Answer(0.15),
        'lat{version="1.1.0"}': Answer(0.08),
        'err{version="1.2.0"}': Answer(None, "cannot reach Prometheus"),
        'sum(increase(req{version="1.2.0"}[30s]))': Answer(400.0),
    }

    result = evaluate_outcomes(queries, outcomes, min_requests=50, index=2)

    latency = result.measurement("latency")
    errors = result.measurement("errors")
    assert latency is not None and errors is not None
    assert latency.status == "fail" and latency.baseline_value == 0.08  # 0.15 > 1.5 x 0.08
    assert errors.status == "inconclusive" and "cannot reach Prometheus" in errors.reason
    assert result.verdict == "fail" and result.index == 2 and result.request_count == 400


def test_evaluate_outcomes_without_stable_version_or_answers() -> None:
    queries = render_interval_queries(
        [LATENCY], CONTEXT, request_count_template=REQUESTS, stable_version=None
    )

    result = evaluate_outcomes(
        queries, {'lat{version="1.2.0"}': 0.1, queries.request_count_query: 100.0}, min_requests=1
    )
    not_run = evaluate_outcomes(queries, {}, min_requests=1)

    latency = result.measurement("latency")
    assert latency is not None and "stable version unknown" in latency.reason
    assert latency.status == "pass"  # max held; the baseline comparison could not be made
    assert not_run.verdict == "inconclusive" and "query was not run" in not_run.reason
