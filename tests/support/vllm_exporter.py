"""A stand-in for vLLM servers' ``/metrics``: the series the canary reads, with rates a test sets.

Each scrape advances the counters of every (deployment, version) by what the test configured per
second (requests, the share of 5xx answers, generated tokens, time to first token), so a real
Prometheus scraping it computes real ``rate()``s. Series names follow vLLM's (``vllm:…``) and a
typical HTTP layer (``http_requests_total``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, float("inf"))


@dataclass
class Traffic:
    requests_per_second: float = 20.0
    error_ratio: float = 0.0
    ttft_seconds: float = 0.08
    tokens_per_second: float = 400.0


@dataclass
class _Counters:
    requests: float = 0.0
    errors: float = 0.0
    tokens: float = 0.0
    ttft_sum: float = 0.0
    ttft_buckets: tuple[float, ...] = (0.0,) * len(BUCKETS)


class VllmExporter:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._traffic: dict[tuple[str, str], Traffic] = {}
        self._counters: dict[tuple[str, str], _Counters] = {}
        self._last = time.monotonic()
        self.url = ""

    def set(self, deployment: str, version: str, traffic: Traffic) -> None:
        with self._lock:
            self._advance()
            self._traffic[(deployment, version)] = traffic
            self._counters.setdefault((deployment, version), _Counters())

    def _advance(self) -> None:
        now = time.monotonic()
        elapsed, self._last = now - self._last, now
        for key, traffic in self._traffic.items():
            counters = self._counters[key]
            requests = traffic.requests_per_second * elapsed
            counters.requests += requests
            counters.errors += requests * traffic.error_ratio
            counters.tokens += traffic.tokens_per_second * elapsed
            counters.ttft_sum += requests * traffic.ttft_seconds
            counters.ttft_buckets = tuple(
                value + (requests if traffic.ttft_seconds <= bound else 0.0)
                for value, bound in zip(counters.ttft_buckets, BUCKETS, strict=True)
            )

    def metrics(self) -> str:
        with self._lock:
            self._advance()
            lines = [
                "# TYPE http_requests_total counter",
                "# TYPE vllm:generation_tokens_total counter",
                "# TYPE vllm:time_to_first_token_seconds histogram",
            ]
            for (deployment, version), c in self._counters.items():
                labels = f'deployment="{deployment}",version="{version}"'
                lines.append(f'http_requests_total{{{labels},status="200"}} {c.requests - c.errors:.3f}')
                lines.append(f'http_requests_total{{{labels},status="500"}} {c.errors:.3f}')
                lines.append(f"vllm:generation_tokens_total{{{labels}}} {c.tokens:.3f}")
                for bound, value in zip(BUCKETS, c.ttft_buckets, strict=True):
                    le = "+Inf" if bound == float("inf") else repr(bound)
                    lines.append(f'vllm:time_to_first_token_seconds_bucket{{{labels},le="{le}"}} {value:.3f}')
                lines.append(f"vllm:time_to_first_token_seconds_sum{{{labels}}} {c.ttft_sum:.3f}")
                lines.append(f"vllm:time_to_first_token_seconds_count{{{labels}}} {c.requests:.3f}")
            return "\n".join(lines) + "\n"


@contextmanager
def vllm_exporter() -> Iterator[VllmExporter]:
    exporter = VllmExporter()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def do_GET(self) -> None:
            body = exporter.metrics().encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    exporter.url = f"127.0.0.1:{server.server_address[1]}"
    try:
        yield exporter
    finally:
        server.shutdown()
        server.server_close()
