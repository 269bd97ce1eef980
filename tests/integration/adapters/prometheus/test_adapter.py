"""``bot.adapters.prometheus`` against a real Prometheus, and stand-in servers for what one cannot stage."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, Counter, start_http_server

from bot.adapters.prometheus import PrometheusQueries
from bot.canary import MetricSpec, evaluate_interval
from tests.integration.adapters.prometheus import dataset
from tests.support.prometheus import PrometheusServer, running_prometheus

pytestmark = pytest.mark.integration

GOOD_REQUESTS = 'sum(rate(http_requests_total{version="1.1.0"}[1m]))'


def test_single_series_gives_its_value(prometheus: PrometheusQueries) -> None:
    outcome = prometheus.query_scalar(GOOD_REQUESTS, at=dataset.END)

    assert outcome.kind == "ok" and outcome.error is None
    assert outcome.value == pytest.approx(10.01)
    assert outcome.series_count == 1
    assert outcome.to_evidence()["query"] == GOOD_REQUESTS


def test_query_time_is_honoured(prometheus: PrometheusQueries) -> None:
    total = 'sum(http_requests_total{version="1.1.0",status="200"})'
    as_datetime = prometheus.query_scalar(total, at=datetime.fromtimestamp(dataset.START + 300, UTC))
    as_seconds = prometheus.query_scalar(total, at=dataset.END)

    assert as_datetime.value == pytest.approx(10 * 300)
    assert as_seconds.value == pytest.approx(10 * 600)


def test_scalar_result(prometheus: PrometheusQueries) -> None:
    outcome = prometheus.query_scalar(f"scalar({GOOD_REQUESTS}) * 2", at=dataset.END)

    assert outcome.value == pytest.approx(20.02)


def test_empty_result_is_no_data(prometheus: PrometheusQueries) -> None:
    outcome = prometheus.query_scalar('sum(rate(http_requests_total{version="9.9.9"}[1m]))', at=dataset.END)

    assert outcome.value is None
    assert outcome.kind == "no_data"
    assert outcome.error is not None and "no data" in outcome.error


def test_several_series_are_ambiguous(prometheus: PrometheusQueries) -> None:
    outcome = prometheus.query_scalar('rate(http_requests_total{version="1.0.0"}[1m])', at=dataset.END)

    assert outcome.value is None
    assert outcome.kind == "ambiguous"
    assert outcome.series_count == 4
    assert outcome.error is not None and "aggregate" in outcome.error


def test_range_vector_is_refused(prometheus: PrometheusQueries) -> None:
    outcome = prometheus.query_scalar('http_requests_total{version="1.1.0",status="200"}[1m]', at=dataset.END)

    assert outcome.value is None and outcome.kind == "unexpected_result"
    assert outcome.error is not None and "range vector" in outcome.error


@pytest.mark.parametrize(
    "promql", ["0 / 0", "1 / 0", "-1 / 0", 'sum(rate(http_requests_total{version="1.6.0"}[1m])) / 0']
)
def test_nan_and_infinity_are_no_value(prometheus: PrometheusQueries, promql: str) -> None:
    outcome = prometheus.query_scalar(promql, at=dataset.END)

    assert outcome.value is None
    assert outcome.kind == "not_finite"


@pytest.mark.parametrize(
    ("promql", "message"),
    [
        ("sum(rate(http_requests_total[1m])", "parse error"),
        ("rate(http_requests_total)", "expected type range vector"),
        ('http_requests_total{version=~"("}', "error parsing regexp"),
    ],
)
def test_bad_promql_is_an_error_not_an_exception(
    prometheus: PrometheusQueries, promql: str, message: str
) -> None:
    outcome = prometheus.query_scalar(promql, at=dataset.END)

    assert outcome.value is None
    assert outcome.kind == "bad_query"
    assert outcome.error is not None and message in outcome.error
    assert "HTTP 400" in outcome.error


def test_stopped_prometheus_is_unreachable_and_inconclusive(tmp_path: Path) -> None:
    with running_prometheus(tmp_path) as server:
        client = PrometheusQueries(server.url, timeout_seconds=2, retries=1, backoff_seconds=0.01)
        assert client.query_scalar("vector(1)").value == 1.0
        server.stop()
        outcome = client.query_scalar("vector(1)")
        client.close()

    assert outcome.value is None
    assert outcome.kind == "unreachable"
    assert outcome.error is not None and server.url in outcome.error
    result = evaluate_interval(
        [MetricSpec(name="errors", query="vector(1)", max=0.01)],
        {"errors": outcome},
        {},
        outcome,
        min_requests=1,
    )
    assert result.verdict == "inconclusive"
    measurement = result.measurement("errors")
    assert measurement is not None and "cannot reach Prometheus" in measurement.reason


# --------------------------------------------------------------------------- stand-in servers


class _Answers(BaseHTTPRequestHandler):
    status = 200
    body = b""
    delay: threading.Event | None = None

    def do_GET(self) -> None:
        type(self).calls.append(self.path)
        if self.delay is not None:
            self.delay.wait(timeout=5)  # hold the answer until the test ends (or 5 s)
        try:
            self.send_response(self.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(self.body)))
            self.end_headers()
            self.wfile.write(self.body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up waiting, as the timeout test intends

    def log_message(self, format: str, *args: object) -> None:
        pass

    calls: list[str] = []


def _serve(
    status: int, body: bytes, delay: threading.Event | None = None
) -> tuple[ThreadingHTTPServer, type]:
    handler = type("Handler", (_Answers,), {"status": status, "body": body, "delay": delay, "calls": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server, handler


@pytest.fixture
def stand_in() -> Iterator[list[ThreadingHTTPServer]]:
    servers: list[ThreadingHTTPServer] = []
    yield servers
    for server in servers:
        server.shutdown()
        server.server_close()


def test_server_error_is_retried_then_reported(stand_in: list[ThreadingHTTPServer]) -> None:
    body = b'{"status":"error","errorType":"unavailable","error":"too many queries"}'
    server, handler = _serve(503, body)
    stand_in.append(server)
    client = PrometheusQueries(f"http://127.0.0.1:{server.server_port}", retries=2, backoff_seconds=0.01)

    outcome = client.query_scalar("up")
    client.close()

    assert outcome.kind == "server_error"
    assert outcome.error == "Prometheus failed (HTTP 503): unavailable: too many queries"
    assert len(handler.calls) == 3  # first try and two retries
    assert "timeout=10000ms" in handler.calls[0]


def test_a_slow_prometheus_times_out(stand_in: list[ThreadingHTTPServer]) -> None:
    release = threading.Event()
    server, _ = _serve(200, b'{"status":"success","data":{"resultType":"vector","result":[]}}', release)
    stand_in.append(server)
    client = PrometheusQueries(f"http://127.0.0.1:{server.server_port}", timeout_seconds=0.3)

    started = time.monotonic()
    outcome = client.query_scalar("up")
    elapsed = time.monotonic() - started
    release.set()
    client.close()

    assert outcome.kind == "unreachable"
    assert outcome.error is not None and outcome.error == "Prometheus did not answer within 0.3s"
    assert elapsed < 3


def test_an_answer_that_is_not_prometheus_json(stand_in: list[ThreadingHTTPServer]) -> None:
    server, _ = _serve(200, b"<html>please log in</html>")
    stand_in.append(server)
    client = PrometheusQueries(f"http://127.0.0.1:{server.server_port}")

    outcome = client.query_scalar("up")
    client.close()

    assert outcome.kind == "unexpected_result" and outcome.value is None


def test_nothing_listening_is_unreachable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = PrometheusQueries(f"http://127.0.0.1:{port}", retries=0)

    outcome = client.query_scalar("up")
    client.close()

    assert outcome.kind == "unreachable" and "Connection refused" in (outcome.error or "")


@pytest.mark.parametrize("url", ["127.0.0.1:9090", "ftp://x"])
def test_url_must_be_http(url: str) -> None:
    with pytest.raises(ValueError, match="http:// or https://"):
        PrometheusQueries(url)


# --------------------------------------------------------------------------- live scrape


def test_live_scrape_of_a_local_exporter(tmp_path: Path) -> None:
    registry = CollectorRegistry()
    requests_total = Counter(
        "http_requests", "HTTP requests", ["deployment", "version", "status"], registry=registry
    )
    requests_total.labels("chat-llm", "live", "2xx").inc(40)
    requests_total.labels("chat-llm", "live", "5xx").inc(2)
    exporter, _thread = start_http_server(0, addr="127.0.0.1", registry=registry)
    try:
        target = f"127.0.0.1:{exporter.server_port}"
        with running_prometheus(tmp_path, scrape_targets=[target], scrape_interval="1s") as server:
            client = PrometheusQueries(server.url, timeout_seconds=5)
            query = 'sum(http_requests_total{version="live",status=~"5.."})'
            deadline = time.monotonic() + 20
            outcome = client.query_scalar(query)
            while outcome.value is None and time.monotonic() < deadline:
                time.sleep(0.2)  # poll interval while waiting for the first scrape
                outcome = client.query_scalar(query)
            client.close()
    finally:
        exporter.shutdown()
        exporter.server_close()

    assert outcome.value == 2.0, outcome.error


def test_fixture_server_is_ready(backfilled_prometheus: PrometheusServer) -> None:
    assert backfilled_prometheus.process.poll() is None
