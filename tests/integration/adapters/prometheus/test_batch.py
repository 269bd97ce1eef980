"""``query_many`` sends a canary interval's queries in one request; the answers are the same as
sent one by one, on a real Prometheus."""

from __future__ import annotations

import pytest

from bot.adapters.prometheus import BATCH_LABEL, PrometheusQueries, batch_query, split_batch_result
from tests.integration.adapters.prometheus import dataset
from tests.support.prometheus import PrometheusServer

pytestmark = pytest.mark.integration

QUERIES = [
    'sum(rate(http_requests_total{version="1.1.0"}[1m]))',  # ok
    'sum(rate(http_requests_total{version="9.9.9"}[1m]))',  # no data
    'rate(http_requests_total{version="1.0.0"}[1m])',  # several series: ambiguous
    'sum(rate(http_requests_total{version="1.1.0"}[1m])) / 0',  # +Inf: not finite
    "sum(rate(http_requests_total[1m])) # a comment ends the line",
    'sum by (status) (rate(http_requests_total{version="1.1.0",status="200"}[1m]))',  # labels kept
]


def test_one_request_answers_as_each_query_alone(prometheus: PrometheusQueries) -> None:
    batched = prometheus.query_many(QUERIES, at=dataset.END)
    alone = {promql: prometheus.query_scalar(promql, at=dataset.END) for promql in QUERIES}
    assert list(batched) == QUERIES
    assert batched == alone
    assert [batched[q].kind for q in QUERIES] == ["ok", "no_data", "ambiguous", "not_finite", "ok", "ok"]
    assert BATCH_LABEL not in (batched[QUERIES[2]].error or "")


def test_a_query_the_batch_cannot_carry_falls_back_to_one_by_one(prometheus: PrometheusQueries) -> None:
    queries = [QUERIES[0], "scalar(vector(2))", "sum(rate(x[1m]"]  # a scalar; a syntax error
    outcomes = prometheus.query_many(queries, at=dataset.END)
    assert [outcomes[q].kind for q in queries] == ["ok", "ok", "bad_query"]
    assert outcomes["scalar(vector(2))"].value == 2.0


def test_unreachable_answers_every_query_at_once(backfilled_prometheus: PrometheusServer) -> None:
    with PrometheusQueries("http://127.0.0.1:9", timeout_seconds=1, retries=0) as down:
        outcomes = down.query_many(QUERIES[:3], at=dataset.END)
    assert {o.kind for o in outcomes.values()} == {"unreachable"}
    assert [o.query for o in outcomes.values()] == QUERIES[:3]


def test_the_batch_expression_and_its_reading() -> None:
    assert batch_query(["up", "x"]) == (
        f'label_replace((\nup\n), "{BATCH_LABEL}", "0", "", "")'
        f' or label_replace((\nx\n), "{BATCH_LABEL}", "1", "", "")'
    )
    answer = [{"metric": {BATCH_LABEL: "1", "job": "a"}, "value": [1, "3"]}]
    outcomes = split_batch_result(["up", "x"], answer)
    assert outcomes is not None
    assert outcomes["up"].kind == "no_data" and outcomes["x"].value == 3.0
    assert split_batch_result(["up"], [{"metric": {}, "value": [1, "1"]}]) is None  # not a batch answer
    assert split_batch_result(["up"], [{"metric": {BATCH_LABEL: "5"}, "value": [1, "1"]}]) is None
