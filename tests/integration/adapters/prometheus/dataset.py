"""Ten minutes of vLLM-style series for one deployment at several versions, at fixed past times.

Every replica is scraped every 15 s from ``START`` to ``END``; counters grow at constant rates, so
``rate(...[60s])`` at any scrape time inside the range is exact, and so are the expected values.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from tests.support.prometheus import OpenMetrics

START = 1_704_067_200  # 2024-01-01T00:00:00Z
END = START + 600
STEP = 15
DEPLOYMENT = "chat-llm"
NAMESPACE = "serving"

STABLE = "1.0.0"  # two replicas, grouped status codes, fast
GOOD = "1.1.0"  # exact status codes (200/503), fast, a few errors
BAD = "1.2.0"  # slow first tokens, 20 % errors
QUIET = "1.3.0"  # bad values but only 0.5 requests/s: below min_requests
CLEAN = "1.5.0"  # no 5xx series at all
IDLE = "1.6.0"  # counters never move: no traffic
ODD = 'v2"} or vector(1) # \\'  # a version string that would inject PromQL if not escaped
UNKNOWN = "9.9.9"  # no series

INF = math.inf
# Cumulative observations per second, by upper bound, for 10 requests/s.
FAST = {0.05: 5, 0.1: 10, 0.25: 10, 0.5: 10, 1.0: 10, 2.5: 10, INF: 10}
SLOW = {0.05: 1, 0.1: 2, 0.25: 3, 0.5: 5, 1.0: 10, 2.5: 10, INF: 10}

# histogram_quantile(0.99) over these: rank 9.9 falls in (0.05, 0.1] for FAST and (0.5, 1] for SLOW.
FAST_P99 = 0.05 + 0.05 * (9.9 - 5) / (10 - 5)
SLOW_P99 = 0.5 + 0.5 * (9.9 - 5) / (10 - 5)


@dataclass(frozen=True)
class Replica:
    version: str
    instance: str
    ok_per_second: float
    errors_per_second: float
    ttft: Mapping[float, float]
    ttft_scale: float  # multiplies the 10-per-second TTFT shape
    tokens_per_second: float
    kv_cache_usage: float
    exact_status: bool = False


REPLICAS = (
    Replica(STABLE, "10.0.0.1:8000", 10, 0.02, FAST, 1.0, 400, 0.5),
    Replica(STABLE, "10.0.0.2:8000", 10, 0.02, FAST, 1.0, 400, 0.5),
    Replica(GOOD, "10.0.1.1:8000", 10, 0.01, FAST, 1.0, 420, 0.45, exact_status=True),
    Replica(BAD, "10.0.2.1:8000", 8, 2, SLOW, 1.0, 300, 0.9),
    Replica(QUIET, "10.0.3.1:8000", 0.3, 0.2, SLOW, 0.05, 20, 0.9),
    Replica(CLEAN, "10.0.5.1:8000", 5, 0, FAST, 0.5, 200, 0.3),
    Replica(IDLE, "10.0.6.1:8000", 0, 0, FAST, 0.0, 0, 0.0),
    Replica(ODD, "10.0.7.1:8000", 3, 0, FAST, 0.3, 100, 0.2),
)


def build() -> str:
    data = OpenMetrics()
    times = range(START, END + 1, STEP)
    for replica in REPLICAS:
        target = {
            "namespace": NAMESPACE,
            "deployment": DEPLOYMENT,
            "version": replica.version,
            "instance": replica.instance,
            "job": "vllm",
        }
        engine = {**target, "model_name": DEPLOYMENT, "engine": "0"}
        http = {**target, "handler": "/v1/chat/completions", "method": "POST"}
        ok_status, error_status = ("200", "503") if replica.exact_status else ("2xx", "5xx")
        data.counter(
            "http_requests",
            {**http, "status": ok_status},
            ((t, replica.ok_per_second * (t - START)) for t in times),
        )
        if replica.errors_per_second:
            data.counter(
                "http_requests",
                {**http, "status": error_status},
                ((t, replica.errors_per_second * (t - START)) for t in times),
            )
        data.histogram(
            "vllm:time_to_first_token_seconds",
            engine,
            (
                (
                    t,
                    {
                        le: per_second * replica.ttft_scale * (t - START)
                        for le, per_second in replica.ttft.items()
                    },
                    0.05 * replica.ttft[INF] * replica.ttft_scale * (t - START),
                )
                for t in times
            ),
        )
        data.counter(
            "vllm:generation_tokens", engine, ((t, replica.tokens_per_second * (t - START)) for t in times)
        )
        data.gauge("vllm:kv_cache_usage_perc", engine, ((t, replica.kv_cache_usage) for t in times))
    return data.text()
